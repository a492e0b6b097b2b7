#!/bin/sh
# Checkpoints taken while another thread writes memory must be files that
# verify and restore (the crc describes the bytes written); also with
# libpmalloc.a linked statically.
set -u
B="$PMALLOC_BUILD"
T="$PMALLOC_TOP"
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
fail=0
cc=${CC:-cc}
$cc -O2 -pthread -I"$T/include" -o "$t/dyn" "$T/tests/prog/busy_writer.c" \
	-L"$B" -lpmalloc -Wl,-rpath,"$B" || exit 1
$cc -O2 -pthread -I"$T/include" -o "$t/sta" "$T/tests/prog/busy_writer.c" \
	"$B/libpmalloc.a" || exit 1
# the static program has pmalloc inside: run it without the preload
run_dyn() { "$B/pmalloc" run -- "$@"; }
run_sta() { setarch "$(uname -m)" -R "$@"; }
for kind in dyn sta; do
	if ! run_$kind "$t/$kind" make "$t/$kind.ckpt"; then
		echo "FAIL: $kind: checkpoint failed"; fail=1; continue
	fi
	for i in 0 1 2 3 4; do
		if ! "$B/pmalloc" verify "$t/$kind.ckpt.$i" >/dev/null; then
			echo "FAIL: $kind: file $i does not verify:"
			"$B/pmalloc" verify "$t/$kind.ckpt.$i"; fail=1
		fi
	done
	run_$kind "$t/$kind" check "$t/$kind.ckpt.4" || {
		echo "FAIL: $kind: restore"; fail=1; }
done
exit $fail
