#!/bin/sh
# image_resume.sh - process images end to end (issue 9; docs/IMAGE.md):
# tests/prog/image_prog computes in three phases with pm_image() between
# them.  A first run (STOP=1) ends right after the first image, as if
# killed; a resume continues from it, writes the second image and ends;
# a resume of that one finishes.  Its output must be byte-identical to an
# uninterrupted run's (deep recursion with live locals, the heap, stdio's
# buffer, atexit handlers, a jmp_buf, errno, __thread variables, a JIT
# page patched after the images).  Then: resumed twice from one image,
# `pmalloc resume` from another directory, info/verify of an image, and
# every refusal leaving a normal run from main(): other arguments, another
# executable, a damaged or truncated image, a checkpoint given as an
# image, ASLR on; and pm_image refusing a second thread.
. "$(dirname "$0")/lib.sh"
norand true 2>/dev/null || skip "setarch -R does not work here"
prog=$t/image_prog
build_c "$prog" "$T/tests/prog/image_prog.c" -pthread

mkdir "$t/u" "$t/r"
# the reference: an uninterrupted run (it writes its images elsewhere)
(cd "$t/u" && pm_run "$prog" a.img b.img >out 2>err) || die "reference run: $(cat "$t/u/err")"
expect_has "reference run's images" "pm_image(b.img) = 0" "$(cat "$t/u/err")"

cd "$t/r" || die "no $t/r"
STOP=1 pm_run "$prog" a.img b.img >stop.out 2>stop.err || die "imaging run: $(cat stop.err)"
expect_eq "imaging run's output (killed after the image)" "" "$(cat stop.out)"
[ -f a.img ] || die "no a.img"
pm_verify a.img || bad "a.img does not verify"
"$B/pmalloc" info a.img >info.out 2>&1 || bad "pmalloc info a.img: $(cat info.out)"
expect_has "info: kind" "(process image)" "$(cat info.out)"
expect_has "info: command" "command:   $prog a.img b.img" "$(cat info.out)"

"$B/pmalloc" run --resume a.img -- "$prog" a.img b.img >r1.out 2>r1.err || bad "first resume: exit $?"
expect_has "first resume" "pm_image(a.img) = 1" "$(cat r1.err)"
expect_eq "first resume's output (killed after the second image)" "" "$(cat r1.out)"
[ -f b.img ] || die "the resumed run wrote no b.img: $(cat r1.err)"
for round in 1 2; do
	"$B/pmalloc" run --resume b.img -- "$prog" a.img b.img >r2.out 2>r2.err || bad "second resume: exit $?"
	expect_has "second resume, round $round" "pm_image(b.img) = 1" "$(cat r2.err)"
	same_output "resumed output, round $round" "$t/u/out" r2.out
done

# pmalloc resume: the image's own command line, from anywhere
(cd / && "$B/pmalloc" resume --no-verify "$t/r/b.img") >r3.out 2>r3.err || bad "pmalloc resume: exit $?"
expect_has "pmalloc resume" "pm_image(b.img) = 1" "$(cat r3.err)"
same_output "pmalloc resume's output" "$t/u/out" r3.out

# ---- refusals: one line, then a normal run from main() ----
normal="pm_image(a.img) = 0" normal_rc=0
refused() { # WHAT REASON IMAGE CMD...
	what=$1 reason=$2 img=$3
	shift 3
	sum=$(cksum <"$img")
	rm -rf "$t/x" && mkdir "$t/x"
	(cd "$t/x" && "$@" >out 2>err)
	rc=$?
	expect_has "$what: refused" "pmalloc: not resumed: " "$(cat "$t/x/err")"
	expect_has "$what: reason" "$reason" "$(cat "$t/x/err")"
	expect_has "$what: normal run" "$normal" "$(cat "$t/x/err")"
	[ $rc -eq $normal_rc ] || bad "$what: the normal run exited $rc"
	[ "$(cksum <"$img")" = "$sum" ] || bad "$what: the image changed"
}
refused "other arguments" "arguments differ" "$t/r/b.img" \
	"$B/pmalloc" run --resume "$t/r/b.img" -- "$prog" a.img c.img
cp "$prog" "$t/other_prog"
build_c "$t/other_prog" "$T/tests/prog/image_prog.c" -pthread -DOTHER_BUILD=1 -g
refused "another executable" "the image was made by" "$t/r/b.img" \
	"$B/pmalloc" run --resume "$t/r/b.img" -- "$t/other_prog" a.img b.img
cp "$t/r/b.img" "$t/bad.img"
size=$(wc -c <"$t/bad.img")
printf 'X' | dd of="$t/bad.img" bs=1 seek=$((size - 5000)) conv=notrunc 2>/dev/null
refused "a flipped byte" "checksum mismatch" "$t/bad.img" \
	"$B/pmalloc" run --resume "$t/bad.img" -- "$prog" a.img b.img
head -c $((size / 2)) "$t/r/b.img" >"$t/trunc.img"
refused "a truncated image" "" "$t/trunc.img" \
	"$B/pmalloc" run --resume "$t/trunc.img" -- "$prog" a.img b.img
chmod 666 "$t/bad.img"
refused "a world-writable image" "writable by others" "$t/bad.img" \
	"$B/pmalloc" run --resume "$t/bad.img" -- "$prog" a.img b.img
if [ "$(cat /proc/sys/kernel/randomize_va_space 2>/dev/null)" != 0 ]; then
	# (its normal run cannot image either: pm_image says why)
	normal="address-space randomisation is on" normal_rc=3
	refused "ASLR on" "" "$t/r/b.img" \
		env LD_PRELOAD="$B/libpmalloc.so" PMALLOC_RESUME="$t/r/b.img" "$prog" a.img b.img
fi

normal="pm_image(a.img) = 0" normal_rc=0
# keyed images: a MAC with PMALLOC_KEY_FILE; another key refuses
head -c 32 /dev/urandom >"$t/k1"; head -c 32 /dev/urandom >"$t/k2"
chmod 600 "$t/k1" "$t/k2"
mkdir "$t/k" && cd "$t/k" || die "no $t/k"
STOP=1 PMALLOC_KEY_FILE="$t/k1" pm_run "$prog" a.img b.img >/dev/null 2>&1 || bad "keyed imaging run"
"$B/pmalloc" verify --key "$t/k1" a.img >v.out 2>&1 || bad "keyed image: $(cat v.out)"
expect_has "keyed image verifies" "MAC verified" "$(cat v.out)"
PMALLOC_KEY_FILE="$t/k1" "$B/pmalloc" run --resume a.img -- "$prog" a.img b.img >k1.out 2>k1.err
expect_has "keyed image, its key: resumed" "pm_image(a.img) = 1" "$(cat k1.err)"
rm -f b.img
refused "keyed image, another key" "MAC" "$t/k/a.img" \
	env PMALLOC_KEY_FILE="$t/k2" "$B/pmalloc" run --resume "$t/k/a.img" -- "$prog" a.img b.img
cd "$t/r" || die "no $t/r"

# a second thread: pm_image refuses
THREAD=1 pm_run "$prog" a.img b.img >th.out 2>th.err
expect_rc "pm_image with two threads: exit" 3 sh -c 'exit '$?
expect_has "pm_image with two threads" "2 threads" "$(cat th.err)"
finish
