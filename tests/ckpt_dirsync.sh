#!/bin/sh
# ckpt_dirsync.sh - the directory's fsync fails after the rename
# (tests/prog/iofault.c): the checkpoint returns PM_EDIRSYNC (-1009), named
# by pm_strerror, and the target IS the new file (it used to say -EIO as
# if nothing had been replaced).  Failures before the rename still leave
# the old file and return their own code.
. "$(dirname "$0")/lib.sh"
writer_tools
f="$t/state.ckpt"
rc=$("$prog" "$f" | sed -n 1p)
[ "$rc" = 0 ] || die "first checkpoint returned '$rc'"
for mode in eio enospc; do
	cp "$f" "$t/ref"
	IOFAULT_MODE=$mode IOFAULT_LABEL=fsync-D IOFAULT_LOG="$t/log" \
		LD_PRELOAD="$shim" "$prog" "$f" "$t/next.ckpt" >"$t/out" 2>"$t/err"
	grep -q '^fault 1 fsync-D$' "$t/log" || bad "$mode: no directory fsync faulted: $(cat "$t/log")"
	rc=$(sed -n 1p "$t/out")
	[ "$rc" = -1009 ] || bad "$mode: returned '$rc', expected -1009 (PM_EDIRSYNC)"
	grep -q "checkpoint written, but its directory could not be synced" "$t/err" ||
		bad "$mode: pm_strerror/pm_errmsg: $(cat "$t/err")"
	cmp -s "$t/ref" "$f" && bad "$mode: the target is still the old file"
	pm_verify "$f" || bad "$mode: the new file does not verify"
	left=$(ls -a "$t" | grep -c '\.tmp\.')
	[ "$left" -eq 0 ] || bad "$mode: $left temp files left"
	rc2=$(sed -n 2p "$t/out")
	[ "$rc2" = 0 ] || bad "$mode: the next checkpoint returned '$rc2'"
	cat "$t/err"
	rm -f "$t/log"
done
# the fsync of the temp file fails instead: -EIO, the old file stays
cp "$f" "$t/ref"
IOFAULT_MODE=eio IOFAULT_LABEL=fsync-T LD_PRELOAD="$shim" "$prog" "$f" >"$t/out" 2>"$t/err"
rc=$(sed -n 1p "$t/out")
[ "$rc" = -5 ] || bad "fsync of the temp: returned '$rc', expected -5"
cmp -s "$t/ref" "$f" || bad "fsync of the temp failed, yet the target changed"
[ $fail -eq 0 ] && echo ok
exit $fail
