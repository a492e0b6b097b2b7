# tests/prog/img_attack.sh - sourced by tests/attack_img_*.sh after lib.sh:
# an image of tests/prog/image_prog (STOP=1, as in tests/image_resume.sh)
# at $base, the crafting tool $craft (tests/prog/img_craft.c), and
#   damaged NAME CRAFT-ARGS...   copy $base to $t/NAME.img, damage it
#   resume_in IMG                run `pmalloc run --resume IMG -- $prog a.img
#                                b.img` in a fresh directory $t/x;
#                                its status in $rc, stderr in $t/x/err
#   refused WHAT REASON IMG      the resume is refused with one line that
#                                holds REASON, and the program then runs
#                                normally from main() (exit 0, its own
#                                pm_image(a.img) = 0); the image unchanged
norand true 2>/dev/null || skip "setarch -R does not work here"
prog=$t/image_prog
build_c "$prog" "$T/tests/prog/image_prog.c" -pthread
craft=$t/img_craft
"$CC" -std=c11 -D_GNU_SOURCE -O2 -I"$T/src" -I"$T/include" -o "$craft" \
	"$T/tests/prog/img_craft.c" "$T/src/crc32c.c" || die "cannot build img_craft"
mkdir "$t/base"
(cd "$t/base" && STOP=1 "$B/pmalloc" run -- "$prog" a.img b.img >out 2>err) ||
	die "imaging run: $(cat "$t/base/err")"
base=$t/base/a.img
[ -f "$base" ] || die "no image: $(cat "$t/base/err")"
damaged() { # NAME CRAFT-ARGS...
	img=$t/$1.img
	shift
	cp "$base" "$img" && chmod 600 "$img" && "$craft" "$img" "$@" ||
		die "img_craft $*"
}
resume_in() { # IMG
	rm -rf "$t/x" && mkdir "$t/x"
	(cd "$t/x" && exec "$B/pmalloc" run --resume "$1" -- "$prog" a.img b.img >out 2>err)
	rc=$?
}
refused() { # WHAT REASON IMG
	sum=$(cksum <"$3")
	resume_in "$3"
	err=$(cat "$t/x/err")
	expect_eq "$1: exit status" 0 "$rc"
	expect_has "$1: refused" "pmalloc: not resumed: " "$err"
	expect_has "$1: reason" "$2" "$err"
	expect_has "$1: then a normal run" "pm_image(a.img) = 0" "$err"
	expect_eq "$1: lines on stderr" 3 "$(grep -c . "$t/x/err")"
	[ "$(cksum <"$3")" = "$sum" ] || bad "$1: the image changed"
}
