#!/bin/sh
# image_killed.sh - SIGKILL while pm_image writes leaves the previous
# image intact (issue 9).  tests/prog/image_killed images a 32 MiB heap
# to one file twice; tests/prog/iofault.c (preloaded) kills it at a
# chosen libc call of the second pm_image: before anything, on the way
# to the temp file, at its first, middle and last write, at its fsync, at
# the rename and after it.  After each kill:
#   - killed up to the rename: the file is byte-identical to image 1 (the
#     program's own copy of it), verifies, and a resume from it prints
#     image 1's heap sum; after the rename it is image 2, whole;
#   - at most one temp file is left (each run's first image removes the
#     dead writers' temps), and none after an image that completes.
# Deterministic: the kills come at call numbers, not at times.
. "$(dirname "$0")/lib.sh"
norand true 2>/dev/null || skip "setarch -R does not work here"
shim="$B/tests/iofault.so"
[ -f "$shim" ] || die "missing $shim"
prog=$t/image_killed
build_c "$prog" "$T/tests/prog/image_killed.c"
d="$t/d"
mkdir "$d"
img="$d/state.img"
mib=32

# the program under the shim, armed for its second pm_image (call 2)
run() { # OUT [VAR=VALUE...]
	lib_o=$1
	shift
	env LD_PRELOAD="$shim" IOFAULT_CALL=2 IOFAULT_LOG="$t/log" "$@" \
		setarch "$(uname -m)" -R "$prog" "$img" $mib >"$lib_o" 2>"$lib_o.err"
}
resume() { # OUT
	env LD_PRELOAD="$shim" PMALLOC_RESUME="$img" \
		setarch "$(uname -m)" -R "$prog" "$img" $mib >"$1" 2>"$1.err"
}
temps() { ls -a "$d" | grep -c '^\.state\.img\.tmp\.'; }

# a counting run: the calls of the second image, in order
rm -f "$t/log"
run "$t/count" IOFAULT_TRACE=1 || die "counting run: exit $?: $(cat "$t/count.err")"
sum1=$(sed -n 's/^image 1: sum //p' "$t/count")
sum2=$(sed -n 's/^image 2: sum //p' "$t/count")
[ -n "$sum1" ] && [ -n "$sum2" ] || die "counting run printed no sums: $(cat "$t/count")"
total=$(sed -n 's/^total //p' "$t/log")
callno() { sed -n "s/^call \([0-9]*\) $1\$/\1/p" "$t/log" | sed -n "${2:-1}p"; }
rename_n=$(callno renameat)
first_w=$(callno pwrite-T)
nw=$(grep -c ' pwrite-T$' "$t/log")
last_w=$(callno pwrite-T "$nw")
mid_w=$(callno pwrite-T $((nw / 2 + 1)))
[ -n "$rename_n" ] && [ -n "$first_w" ] && [ "$nw" -ge 3 ] ||
	die "the second image's calls: no rename or writes: $(tr '\n' ' ' <"$t/log")"
cp "$t/log" "$t/calls"
echo "second image: $total calls, $nw writes ($first_w..$last_w), rename at $rename_n"
cmp -s "$img" "$img.ref" && bad "the counting run's second image is the first"
pm_verify "$img" || bad "the counting run's second image does not verify"

points="1 $(callno openat-T) $(callno fchmod-T) $first_w $mid_w $last_w \
$(callno fsync-T) $rename_n $((rename_n + 1)) $((rename_n + 2))"
resumed1=0
for n in $points; do
	what="killed at call $n ($(sed -n "s/^call $n //p" "$t/calls"))"
	rm -f "$t/log" "$img.ref"
	run "$t/out" IOFAULT_MODE=kill IOFAULT_N="$n"
	st=$?
	[ $st -eq 137 ] || { bad "$what: exit $st, want 137 (SIGKILL): $(cat "$t/out.err")"; continue; }
	expect_has "$what: the fault" "fault $n" "$(cat "$t/log")"
	[ -f "$img.ref" ] || { bad "$what: the program made no copy of image 1"; continue; }
	[ "$(temps)" -le 1 ] || bad "$what: $(temps) temp files in $d"
	pm_verify "$img" || bad "$what: $img does not verify"
	if [ "$n" -le "$rename_n" ]; then
		cmp -s "$img" "$img.ref" || bad "$what: image 1 changed"
		# a resume of the survivor: every second one (each reads 32 MiB)
		[ $((resumed1 % 2)) -eq 0 ] || [ "$n" -eq "$rename_n" ] || {
			resumed1=$((resumed1 + 1))
			continue
		}
		resumed1=$((resumed1 + 1))
		resume "$t/r"
		expect_eq "$what: resume of image 1" "resumed 1: sum $sum1" "$(cat "$t/r")"
	else
		cmp -s "$img" "$img.ref" && bad "$what: killed after the rename, but the file is image 1"
		resume "$t/r"
		expect_eq "$what: resume of image 2" "resumed 2: sum $sum2" "$(cat "$t/r")"
	fi
done

# killed while writing: its temp file stays until the next image
run "$t/out" IOFAULT_MODE=kill IOFAULT_N="$mid_w"
expect_eq "temp files after a kill at a write" 1 "$(temps)"
# an unkilled run: its images complete, and no temp file is left
run "$t/out" || bad "unkilled run: exit $?: $(cat "$t/out.err")"
expect_eq "temp files after a completed image" 0 "$(temps)"
resume "$t/r"
expect_eq "resume after the unkilled run" "resumed 2: sum $sum2" "$(cat "$t/r")"
finish
