#!/bin/sh
# attack_img_handler.sh - a signal handler's address in an image is one
# the reader can check: it is code of the image.  Damaged (crcs
# recomputed) to point into the stack, the image resumed and the program
# died of SIGSEGV at its next raise(SIGUSR1), long after the resume.  A
# handler or restorer outside the image's executable mappings, or an
# alternate stack outside its writable ones, is refused.
. "$(dirname "$0")/lib.sh"
norand true 2>/dev/null || skip "setarch -R does not work here"
prog=$t/image_files
build_c "$prog" "$T/tests/prog/image_files.c"
craft=$t/img_craft
"$CC" -std=c11 -D_GNU_SOURCE -O2 -I"$T/src" -I"$T/include" -o "$craft" \
	"$T/tests/prog/img_craft.c" "$T/src/crc32c.c" || die "cannot build img_craft"
mkdir "$t/w"
i=1
while [ $i -le 60 ]; do echo "line $i of the input"; i=$((i + 1)); done >"$t/w/in.txt"
cd "$t" || die "no $t"
STOP=1 pm_run "$prog" w.img w/in.txt out.txt >stop.out 2>stop.err || die "imaging run: $(cat stop.err)"
[ -f w.img ] || die "no image: $(cat stop.err)"
cp w.img good.img
top=$("$craft" w.img get 12 0 8) # struct pmf_proc: stack_top
try() { # WHAT REASON OFF SIZE VALUE: SIGNALS record (11) damaged at OFF
	cp good.img bad.img && "$craft" bad.img rec 11 "$3" "$4" "$5" || die "img_craft"
	"$B/pmalloc" run --resume bad.img -- "$prog" w.img w/in.txt out.txt >res.out 2>res.err
	rc=$?
	expect_eq "$1: exit" 0 "$rc"
	expect_has "$1: refused" "pmalloc: not resumed:" "$(cat res.err)"
	expect_has "$1: reason" "$2" "$(cat res.err)"
	expect_has "$1: then a normal run" "pm_image = 0" "$(cat res.err)"
}
# struct pmf_signals: act[n - 1] at 64 + 32 * (n - 1): handler 0, flags 8,
# restorer 16; SIGUSR1 = 10.  The alternate stack: ss_sp 8, ss_size 16,
# ss_flags 24.
usr1=$((64 + 32 * 9))
try "SIGUSR1's handler in the stack" "not in the image's code" $usr1 8 $((top - 4096))
try "SIGUSR1's restorer in the stack" "not in the image's code" $((usr1 + 16)) 8 $((top - 4096))
cp good.img alt.img
"$craft" alt.img rec 11 24 4 0 && "$craft" alt.img rec 11 16 8 8192 || die "img_craft"
cp alt.img good.img
try "an alternate stack in unmapped memory" "alternate signal stack" 8 8 0x10000
finish
