#!/bin/sh
# valgrind.sh - the allocator's own code under memcheck: build/tests/t_vg_ops
# runs a random workload and threads through the pm_* names (memcheck
# replaces malloc in the program and libc, not pm_malloc, so pmalloc's own
# code is what runs) under `valgrind --error-exitcode=1 --quiet`, with
# PMALLOC_VALGRIND=0: no blocks described, error reporting never turned
# off, so memcheck checks every access pmalloc makes (uninitialised
# reads, stray accesses, bad syscall arguments); any error fails.  (The
# same program with its blocks described: tests/vg_clean.sh.)  Skipped
# (77) when valgrind is not installed or cannot run programs here at all.
. "$(dirname "$0")/lib.sh"
prog=$B/tests/t_vg_ops
command -v valgrind >/dev/null 2>&1 || skip "valgrind not installed"
[ -x "$prog" ] || { echo "no $prog (make check builds it)"; exit 1; }

# can valgrind run anything here?
if ! valgrind --quiet --error-exitcode=1 true >"$t/probe" 2>&1; then
	echo "valgrind cannot run a program on this machine: $(head -n 3 "$t/probe")"
	exit 77
fi

PMALLOC_VALGRIND=0 valgrind --error-exitcode=1 --quiet "$prog" 6000 >"$t/log" 2>&1
rc=$?
cat "$t/log"
if [ $rc -ne 0 ] && grep -q '^pmalloc: .*reserve\|^pmalloc: .*cannot map\|^pmalloc: .*address' "$t/log" &&
	! grep -q '^==[0-9]*==' "$t/log"; then
	# the fixed mapping itself was refused under valgrind: not a memcheck
	# finding, but worth knowing
	echo "valgrind refused pmalloc's fixed heap mapping: $(grep '^pmalloc: ' "$t/log" | head -n 1)"
	exit 77
fi
if [ $rc -ne 0 ]; then
	echo "FAIL: under valgrind: exit $rc"
	exit 1
fi
grep -q 'checks, 0 failed' "$t/log" || { echo "FAIL: the workload did not finish"; exit 1; }
echo "valgrind: no errors"
exit 0
