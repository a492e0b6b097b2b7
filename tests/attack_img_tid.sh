#!/bin/sh
# attack_img_tid.sh - the offset of the C library's cached thread id in
# an image's process record: the writer finds it 4-aligned in [64, 2048)
# from the thread pointer, and a resume reads (and later writes) the word
# there.  The reader took anything up to 4096, a read that can leave the
# thread descriptor's mapping; an offset a writer cannot make is refused
# as corrupt (pmalloc verify too).
. "$(dirname "$0")/lib.sh"
. "$T/tests/prog/img_attack.sh"

# struct pmf_proc: tid_off at 160 (4 bytes)
for m in 4000 2048 +2 0; do
	damaged tid rec 12 160 4 "$m"
	refused "tid offset $m" "tid offset out of range" "$t/tid.img"
	"$B/pmalloc" verify "$t/tid.img" >"$t/v.out" 2>&1
	expect_eq "pmalloc verify, tid offset $m: exit" 1 "$?"
done
finish
