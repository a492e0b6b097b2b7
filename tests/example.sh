#!/bin/sh
# example.sh - examples/wordindex, small: the first run builds and
# checkpoints, the second restores and answers the same; a damaged
# checkpoint is refused with a reason, and the program builds again and
# still answers the same.
. "$(dirname "$0")/lib.sh"
W=$B/examples/wordindex
[ -x "$W" ] || die "$W not built (make examples)"
D=$t
F=$D/wi.ckpt

# run TAG: run the example; stdout to $D/TAG.out, stderr to $D/TAG.err
run() {
	pm_run "$W" -n 200000 -c "$F" be pidoma zzz \
		>"$D/$1.out" 2>"$D/$1.err" || {
		echo "run $1: exit $?"; cat "$D/$1.err"; fail=1
	}
}
# expect_err TAG PATTERN: the run's stderr must match
expect_err() {
	grep -q "$2" "$D/$1.err" || {
		echo "run $1: no '$2' in its stderr:"; cat "$D/$1.err"; fail=1
	}
}
# same TAG: the run's answers must be the first run's
same() {
	same_output "run $1's answers" "$D/build.out" "$D/$1.out"
}

run build
expect_err build 'no checkpoint'
expect_err build 'built in'
grep -q '^be ' "$D/build.out" || { echo "no answer:"; cat "$D/build.out"; fail=1; }
[ -s "$F" ] || { echo "no checkpoint written"; exit 1; }
pm_verify "$F" || bad "verify failed"

run restore
expect_err restore 'restored from'
same restore

# flip one byte in the middle of the heap data
size=$(wc -c <"$F")
off=$((size / 2))
byte=$(dd if="$F" bs=1 skip=$off count=1 2>/dev/null | od -An -tu1 | tr -d ' ')
# shellcheck disable=SC2059 # the format is the octal escape of the new byte
printf "\\$(printf %o $(((byte + 1) % 256)))" |
	dd of="$F" bs=1 seek=$off conv=notrunc 2>/dev/null
"$B/pmalloc" verify "$F" >/dev/null && { echo "verify missed the flip"; fail=1; }

run damaged
expect_err damaged 'refused'
expect_err damaged 'built in'
same damaged

# the damaged run wrote a fresh checkpoint: restored again
run again
expect_err again 'restored from'
same again

# another corpus length: the restored index is dropped and rebuilt
pm_run "$W" -n 100000 -c "$F" be >"$D/other.out" 2>"$D/other.err"
expect_err other 'not 100000'
grep -q '^100000 words' "$D/other.out" || { echo "other size:"; cat "$D/other.out"; fail=1; }

[ $fail -eq 0 ] && echo "ok"
exit $fail
