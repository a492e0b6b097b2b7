#!/bin/sh
# ckpt_enospc.sh - a checkpoint on a full file system: -ENOSPC, the previous
# file intact and still restorable, no temporary file left behind.
# Needs root to mount a 1 MiB tmpfs; skips (77) where that is not possible.
. "$(dirname "$0")/lib.sh"
prog=$B/tests/t_ckpt_state
P=$B/pmalloc
mnt=$t/mnt
mkdir "$mnt" || exit 1
mount -t tmpfs -o size=1m tmpfs "$mnt" 2>/dev/null ||
	skip "cannot mount a tmpfs here (not root?)"
at_exit 'umount "$mnt" 2>/dev/null'
# a small checkpoint fits
"$P" run -- "$prog" tiny "$mnt/f" || { echo "tiny checkpoint failed"; fail=1; }
"$P" verify "$mnt/f" || fail=1
cp "$mnt/f" "$t/copy"
# a 4 MiB heap does not
"$P" run -- "$prog" big "$mnt/f" 4 >"$t/out" 2>&1
rc=$?
cat "$t/out"
if [ $rc -ne 28 ]; then
	echo "big checkpoint on a full disk: exit $rc, expected 28 (-ENOSPC)"
	fail=1
fi
"$P" verify "$mnt/f" || { echo "previous file damaged"; fail=1; }
cmp "$mnt/f" "$t/copy" || { echo "previous file changed"; fail=1; }
left=$(ls -a "$mnt" | grep -c '\.tmp\.')
if [ "$left" -ne 0 ]; then
	echo "temporary files left:"; ls -la "$mnt"; fail=1
fi
# the previous file still restores (the tiny state: g_gen 77 is not a
# generation the verify phase knows, so only the restore itself is checked)
out=$(PMALLOC_RESTORE="$mnt/f" "$P" run -- "$prog" tiny "$mnt/g" 2>&1)
echo "$out" | grep -q 'PMALLOC_RESTORE' && { echo "restore failed: $out"; fail=1; }
"$P" verify "$mnt/g" || fail=1
[ $fail -eq 0 ] && echo "ok"
exit $fail
