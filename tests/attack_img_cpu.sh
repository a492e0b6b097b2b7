#!/bin/sh
# attack_img_cpu.sh - three words of an image's CPU record are not the
# program's data but facts the reader can compute: the stack pointer (the
# stack record starts there), the thread pointer (the process record's,
# which a resume compares with this process's) and the return address
# (right after pmalloc's one call of pm__ctx_save).  Damaged (crcs
# recomputed), each was resumed and the process died of SIGSEGV or
# SIGILL after the point of no return; each must be refused.
. "$(dirname "$0")/lib.sh"
. "$T/tests/prog/img_attack.sh"

# struct pm__ctx (PMF_SEC_CPU = 10): rsp at 48, rip at 56, fsbase at 64
for m in ^0x1000 ^0x100000000; do
	damaged rsp rec 10 48 8 "$m"
	refused "stack pointer $m" "the CPU record's stack pointer" "$t/rsp.img"
	"$B/pmalloc" verify "$t/rsp.img" >"$t/v.out" 2>&1
	expect_eq "pmalloc verify, stack pointer $m: exit" 1 "$?"
	damaged fs rec 10 64 8 "$m"
	refused "thread pointer $m" "thread pointer" "$t/fs.img"
done
damaged fs0 rec 10 64 8 0
refused "thread pointer 0" "thread pointer" "$t/fs0.img"
for m in ^1 ^0x10 ^0x1000 ^0x80000000; do
	damaged rip rec 10 56 8 "$m"
	refused "return address $m" "the return address" "$t/rip.img"
done
finish
