#!/bin/sh
# ckpt_nopie.sh - the checkpoint suite (t_ckpt_state) built as a non-PIE
# executable, and a file made by the PIE build offered to the non-PIE one
# (another executable: PM_EEXEC, -1005).
. "$(dirname "$0")/lib.sh"
N=$B/tests/t_ckpt_state_nopie
"$CC" -std=c11 -D_GNU_SOURCE -g -O2 -Wall -Wextra -fno-builtin -pthread \
	-fno-pie -no-pie -I"$T/include" -o "$N" "$T/tests/t_ckpt_state.c" \
	-L"$B" -lpmalloc -Wl,-rpath,"$B" || exit 1
if command -v file >/dev/null 2>&1 && ! file "$N" | grep -q 'LSB executable'
then
	echo "$N is not a non-PIE executable"; exit 1
fi
"$N" || bad "$N: exit $?"
# cross: the PIE build's checkpoint is not this executable's
pm_run "$B/tests/t_ckpt_state" build "$t/pie.ckpt" >/dev/null ||
	bad "the PIE build's checkpoint: exit $?"
pm_run "$N" refuse "$t/pie.ckpt" -1005 0 || bad "the non-PIE build does not refuse it: exit $?"
exit $fail
