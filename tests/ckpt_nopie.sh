#!/bin/sh
# ckpt_nopie.sh - the checkpoint suite (t_ckpt_state) built as a non-PIE
# executable, and a file made by the PIE build offered to the non-PIE one
# (another executable: PM_EEXEC, -1005).
B=${PMALLOC_BUILD:-build}
TOP=${PMALLOC_TOP:-.}
CC=${CC:-cc}
N=$B/tests/t_ckpt_state_nopie
$CC -std=c11 -D_GNU_SOURCE -g -O2 -Wall -Wextra -fno-builtin -pthread \
	-fno-pie -no-pie -I"$TOP/include" -o "$N" "$TOP/tests/t_ckpt_state.c" \
	-L"$B" -lpmalloc -Wl,-rpath,"$B" || exit 1
if command -v file >/dev/null 2>&1 && ! file "$N" | grep -q 'LSB executable'
then
	echo "$N is not a non-PIE executable"; exit 1
fi
fail=0
"$N" || fail=1
# cross: the PIE build's checkpoint is not this executable's
d=$(mktemp -d /tmp/pmnopie.XXXXXX)
"$B/pmalloc" run -- "$B/tests/t_ckpt_state" build "$d/pie.ckpt" >/dev/null ||
	fail=1
"$B/pmalloc" run -- "$N" refuse "$d/pie.ckpt" -1005 0 || fail=1
rm -rf "$d"
exit $fail
