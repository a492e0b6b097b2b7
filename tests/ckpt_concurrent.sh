#!/bin/sh
# ckpt_concurrent.sh - four processes checkpoint to the same file at once,
# ten times each: every checkpoint succeeds (no writer takes another's
# live temp for stale: each holds a lock on its own), the file verifies,
# and no temp file is left.
. "$(dirname "$0")/lib.sh"
writer_tools
for p in 1 2 3 4; do
	(
		i=0
		while [ $i -lt 10 ]; do
			"$prog" "$t/state.ckpt" 2>&1 | sed -n 1p
			i=$((i + 1))
		done >"$t/r$p"
	) &
done
wait
ok=$(cat "$t"/r? | grep -c '^0$')
[ "$ok" -eq 40 ] || { echo "FAIL: $ok of 40 checkpoints returned 0:"; cat "$t"/r? | sort | uniq -c; fail=1; }
pm_verify "$t/state.ckpt" || bad "the file does not verify"
left=$(ls -a "$t" | grep -c '\.tmp\.')
[ "$left" -eq 0 ] || { echo "FAIL: $left temp files left"; ls -la "$t"; fail=1; }
[ $fail -eq 0 ] && echo ok
exit $fail
