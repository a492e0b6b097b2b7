#!/bin/sh
# Checkpoints taken while another thread writes memory must be files that
# verify and restore (the crc describes the bytes written); also with
# libpmalloc.a linked statically.
. "$(dirname "$0")/lib.sh"
build_c "$t/dyn" "$T/tests/prog/busy_writer.c" -pthread
build_static "$t/sta" "$T/tests/prog/busy_writer.c"
# the static program has pmalloc inside: run it without the preload
run_dyn() { pm_run "$@"; }
run_sta() { norand "$@"; }
for kind in dyn sta; do
	run_$kind "$t/$kind" make "$t/$kind.ckpt" ||
		{ bad "$kind: checkpoint failed"; continue; }
	for i in 0 1 2 3 4; do
		pm_verify "$t/$kind.ckpt.$i" || bad "$kind: file $i does not verify"
	done
	run_$kind "$t/$kind" check "$t/$kind.ckpt.4" || bad "$kind: restore"
done
exit $fail
