#!/bin/sh
# image_ctx.sh - the restorer's stack step (docs/IMAGE.md, session 1): a
# program saves its CPU state and its stack at the bottom of a recursion;
# a second run of the same command (ASLR off, same environment) puts that
# stack back from a private stack and resumes, and the recursion unwinds
# printing exactly what an uninterrupted run prints.  Depths 0, 50 and
# 3000 (295 KiB of stack: more than a fresh process has mapped, so the
# copy grows the stack mapping).  Then the refusals: another environment
# size (the stack top's strings move) and ASLR on; a refused run prints
# "not resumed", computes normally and leaves the image alone.
. "$(dirname "$0")/lib.sh"
prog="$B/tests/image_stack"
[ -x "$prog" ] || { echo "missing $prog"; exit 1; }
norand true 2>/dev/null || skip "setarch -R does not work here"

for n in 0 50 3000; do
	img="$t/stack.$n"
	"$prog" - $n >"$t/ref.out" 2>"$t/ref.err" || bad "reference run, depth $n"
	norand "$prog" "$img" $n >"$t/save.out" 2>"$t/save.err" || bad "saving run, depth $n"
	grep -q "saved at depth $n\$" "$t/save.err" || bad "no save marker, depth $n: $(cat "$t/save.err")"
	cmp "$t/ref.out" "$t/save.out" || bad "saving run's output differs, depth $n"
	for round in 1 2; do
		norand "$prog" "$img" $n >"$t/res.out" 2>"$t/res.err" ||
			bad "resuming run $round, depth $n: exit $?"
		grep -q "resumed at depth $n\$" "$t/res.err" ||
			bad "not resumed, depth $n: $(cat "$t/res.err")"
		if ! cmp "$t/ref.out" "$t/res.out"; then
			bad "resumed output differs, depth $n"
			diff "$t/ref.out" "$t/res.out" | head -5
		fi
	done
	echo "depth $n: $(wc -c <"$img") bytes of image, $(tail -n 1 "$t/res.out")"
	cp "$t/ref.out" "$t/ref.$n"
done

# a longer environment moves argv/envp: refused, runs normally, image kept
img="$t/stack.50"
sum=$(cksum <"$img")
norand env PM_IMAGE_PAD=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx "$prog" "$img" 50 \
	>"$t/env.out" 2>"$t/env.err" || bad "refused run failed"
grep -q "not resumed: environment or arguments moved" "$t/env.err" ||
	bad "other environment not refused: $(cat "$t/env.err")"
grep -q "resumed at depth" "$t/env.err" && bad "resumed with another environment"
cmp "$t/ref.50" "$t/env.out" || bad "refused run's output differs"
[ "$(cksum <"$img")" = "$sum" ] || bad "a refused run changed the image"

# ASLR on (unless the machine has it off): the stack top differs
if [ "$(cat /proc/sys/kernel/randomize_va_space 2>/dev/null)" != 0 ]; then
	"$prog" "$img" 50 >"$t/aslr.out" 2>"$t/aslr.err" || bad "ASLR run failed"
	grep -q "not resumed: stack top" "$t/aslr.err" ||
		bad "ASLR-on run not refused: $(cat "$t/aslr.err")"
	cmp "$t/ref.50" "$t/aslr.out" || bad "ASLR-on run's output differs"
fi

# a damaged context is refused before anything is replaced: a reserved
# MXCSR bit (the context starts at byte 64 of the file, MXCSR at 80 in
# it); a name as long as the good one, so the arguments do not move
cp "$img" "$t/stack.xx"
printf '\377\377\377\377' | dd of="$t/stack.xx" bs=1 seek=$((64 + 80)) conv=notrunc 2>/dev/null
norand "$prog" "$t/stack.xx" 50 >"$t/bad.out" 2>"$t/bad.err" || bad "damaged-image run failed"
grep -q "not resumed: MXCSR has reserved bits set" "$t/bad.err" ||
	bad "damaged context not refused: $(cat "$t/bad.err")"
cmp "$t/ref.50" "$t/bad.out" || bad "damaged-image run's output differs"

[ $fail -eq 0 ] && echo "image_ctx: all good"
exit $fail
