#!/bin/sh
# ckpt_dirsync.sh - the directory's fsync fails after the rename
# (tests/prog/iofault.c): the checkpoint returns PM_EDIRSYNC (-1009), named
# by pm_strerror, and the target IS the new file (it used to say -EIO as
# if nothing had been replaced).  Failures before the rename still leave
# the old file and return their own code.
set -u
B="$PMALLOC_BUILD"
shim="$B/tests/iofault.so"
prog="$B/tests/ckpt_fault"
[ -f "$shim" ] && [ -x "$prog" ] || { echo "missing $shim or $prog"; exit 1; }
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
f="$t/state.ckpt"
fail=0
rc=$("$prog" "$f" | sed -n 1p)
[ "$rc" = 0 ] || { echo "FAIL: first checkpoint returned '$rc'"; exit 1; }
for mode in eio enospc; do
	cp "$f" "$t/ref"
	IOFAULT_MODE=$mode IOFAULT_LABEL=fsync-D IOFAULT_LOG="$t/log" \
		LD_PRELOAD="$shim" "$prog" "$f" "$t/next.ckpt" >"$t/out" 2>"$t/err"
	grep -q '^fault 1 fsync-D$' "$t/log" || { echo "FAIL: $mode: no directory fsync faulted: $(cat "$t/log")"; fail=1; }
	rc=$(sed -n 1p "$t/out")
	[ "$rc" = -1009 ] || { echo "FAIL: $mode: returned '$rc', expected -1009 (PM_EDIRSYNC)"; fail=1; }
	grep -q "checkpoint written, but its directory could not be synced" "$t/err" ||
		{ echo "FAIL: $mode: pm_strerror/pm_errmsg: $(cat "$t/err")"; fail=1; }
	cmp -s "$t/ref" "$f" && { echo "FAIL: $mode: the target is still the old file"; fail=1; }
	"$B/pmalloc" verify "$f" >/dev/null || { echo "FAIL: $mode: the new file does not verify"; fail=1; }
	left=$(ls -a "$t" | grep -c '\.tmp\.')
	[ "$left" -eq 0 ] || { echo "FAIL: $mode: $left temp files left"; fail=1; }
	rc2=$(sed -n 2p "$t/out")
	[ "$rc2" = 0 ] || { echo "FAIL: $mode: the next checkpoint returned '$rc2'"; fail=1; }
	cat "$t/err"
	rm -f "$t/log"
done
# the fsync of the temp file fails instead: -EIO, the old file stays
cp "$f" "$t/ref"
IOFAULT_MODE=eio IOFAULT_LABEL=fsync-T LD_PRELOAD="$shim" "$prog" "$f" >"$t/out" 2>"$t/err"
rc=$(sed -n 1p "$t/out")
[ "$rc" = -5 ] || { echo "FAIL: fsync of the temp: returned '$rc', expected -5"; fail=1; }
cmp -s "$t/ref" "$f" || { echo "FAIL: fsync of the temp failed, yet the target changed"; fail=1; }
[ $fail -eq 0 ] && echo ok
exit $fail
