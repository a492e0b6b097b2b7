#!/bin/sh
# image_ctx_vg.sh - u_image_ctx (CPU context save/resume in one process)
# under valgrind's memcheck: the resume's register and stack switch must
# not read undefined memory.  Valgrind's virtual CPU has XCR0 = 7 (x87,
# SSE, AVX: an 832-byte XSAVE area) and the test adapts to it.  The
# stack-replacing test (image_ctx.sh) does not run under valgrind: its
# client stack is not the [stack] mapping the program reads from
# /proc/self/maps.  Skipped (77) without valgrind.
. "$(dirname "$0")/lib.sh"
prog=$B/tests/u_image_ctx
command -v valgrind >/dev/null 2>&1 || skip "valgrind not installed"
[ -x "$prog" ] || { echo "no $prog (make check builds it)"; exit 1; }
if ! valgrind --quiet --error-exitcode=1 true >/dev/null 2>&1; then
	echo "valgrind cannot run a program on this machine"
	exit 77
fi
valgrind --quiet --error-exitcode=9 "$prog"
rc=$?
[ $rc -eq 0 ] || echo "FAIL: u_image_ctx under valgrind: exit $rc"
exit $rc
