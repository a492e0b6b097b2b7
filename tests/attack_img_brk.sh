#!/bin/sh
# attack_img_brk.sh - the break recorded in an image's process record is
# the end of its [heap] mapping (or its start when there is none), a
# fact the reader can check.  Damaged (crcs recomputed), the resume moved
# this process's break 2 GiB away and resumed with a break the image never
# had.  It is refused.
. "$(dirname "$0")/lib.sh"
. "$T/tests/prog/img_attack.sh"

# struct pmf_proc: brk_start 8, brk_end 16 (PMF_SEC_PROC = 12)
for m in ^0x80000000 +4096 +1; do
	damaged brk rec 12 16 8 "$m"
	refused "break $m" "the break" "$t/brk.img"
done
damaged brks rec 12 8 8 -4096
refused "break start -4096" "the break" "$t/brks.img"
finish
