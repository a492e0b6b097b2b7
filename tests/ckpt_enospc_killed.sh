#!/bin/sh
# ckpt_enospc_killed.sh - a writer killed on a nearly full disk leaves its
# temp file (all the space reserved); the next checkpoint of the same
# target must remove it before it reserves space, and succeed.  (The
# cleanup used to run only after a good checkpoint: every later one failed
# with ENOSPC.)  Needs root to mount a tmpfs; skips (77) otherwise.
. "$(dirname "$0")/lib.sh"
writer_tools
mnt=$t/mnt
mkdir "$mnt" || exit 1
# room for two files (old and new exist together until the rename), not
# three: about 1.6 MiB each
mount -t tmpfs -o size=4000k tmpfs "$mnt" 2>/dev/null ||
	skip "cannot mount a tmpfs here (not root?)"
at_exit 'umount "$mnt" 2>/dev/null'
f="$mnt/state.ckpt"
rc=$("$prog" "$f" | sed -n 1p)
[ "$rc" = 0 ] || die "first checkpoint returned '$rc'"
size=$(stat -c %s "$f")
# a writer killed at its fsync: its temp holds the whole file's space
IOFAULT_MODE=kill IOFAULT_LABEL=fsync-T LD_PRELOAD="$shim" "$prog" "$f" \
	>/dev/null 2>&1
st=$?
[ $st -eq 137 ] || bad "the faulted writer exited $st, expected 137"
left=$(ls -a "$mnt" | grep -c '^\.state\.ckpt\.tmp\.')
[ "$left" -eq 1 ] || { echo "FAIL: $left temp files after the kill, expected 1"; ls -la "$mnt"; fail=1; }
free=$(df -B1 --output=avail "$mnt" | tail -n 1)
echo "file $size bytes, free after the kill $free"
[ "$free" -lt "$size" ] || bad "the disk is not full enough ($free >= $size)"
# the next checkpoints succeed, and again
for i in 1 2; do
	out=$("$prog" "$f" 2>&1)
	rc=$(echo "$out" | sed -n 1p)
	[ "$rc" = 0 ] || bad "checkpoint $i after the kill returned '$rc', expected 0: $out"
done
pm_verify "$f" || bad "$f does not verify"
left=$(ls -a "$mnt" | grep -c '\.tmp\.')
[ "$left" -eq 0 ] || { echo "FAIL: $left temp files left"; ls -la "$mnt"; fail=1; }
[ $fail -eq 0 ] && echo ok
exit $fail
