#!/bin/sh
# ckpt_fsize.sh - a checkpoint larger than the file size limit (ulimit -f):
# -EFBIG returned, the process alive (SIGXFSZ never delivered), the
# previous file byte-identical, no temp left.  Also with the writer's own
# size check skipped (getrlimit made to fail by tests/prog/iofault.c), so
# that the kernel refuses the writes and raises SIGXFSZ: it must be
# consumed, and the caller's signal mask restored; and a SIGXFSZ that was
# pending (blocked) before the checkpoint must still be pending after it.
. "$(dirname "$0")/lib.sh"
writer_tools
f="$t/state.ckpt"
rc=$("$prog" "$f" | sed -n 1p)
[ "$rc" = 0 ] || die "first checkpoint returned '$rc'"
cp "$f" "$t/ref"
# 100 blocks (512 or 1024 bytes, as the shell counts): far below 1.5 MiB
check() { # name, expected "xfsz P B" line, command...
	name=$1 want=$2
	shift 2
	(ulimit -f 100 && exec "$@") >"$t/out" 2>"$t/err"
	st=$?
	[ $st -eq 0 ] || bad "$name: exit $st, expected 0 (153: killed by SIGXFSZ)"
	rc=$(sed -n 1p "$t/out")
	[ "$rc" = -27 ] || bad "$name: returned '$rc', expected -27 (-EFBIG): $(cat "$t/err")"
	sig=$(sed -n 2p "$t/out")
	[ "$sig" = "$want" ] || bad "$name: '$sig' after the checkpoint, expected '$want'"
	cmp -s "$t/ref" "$f" || bad "$name: previous file changed"
	pm_verify "$f" || bad "$name: previous file does not verify"
	left=$(ls -a "$t" | grep -c '\.tmp\.')
	[ "$left" -eq 0 ] || { echo "FAIL: $name: $left temp files left"; ls -la "$t"; fail=1; }
	echo "$name: $rc, $sig: $(cat "$t/err")"
}
check "size check" "xfsz 0 0" "$prog" "$f"
check "size check, SIGXFSZ pending before" "xfsz 1 1" "$prog" -p "$f"
export IOFAULT_MODE=eio IOFAULT_LABEL=getrlimit
check "kernel refusal" "xfsz 0 0" env LD_PRELOAD="$shim" "$prog" "$f"
check "kernel refusal, SIGXFSZ pending before" "xfsz 1 1" \
	env LD_PRELOAD="$shim" "$prog" -p "$f"
unset IOFAULT_MODE IOFAULT_LABEL
# without the limit it works again
rc=$("$prog" "$f" | sed -n 1p)
[ "$rc" = 0 ] || bad "checkpoint without the limit returned '$rc'"
[ $fail -eq 0 ] && echo ok
exit $fail
