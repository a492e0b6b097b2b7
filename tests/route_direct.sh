#!/bin/sh
# route_direct.sh - libc's and ld.so's malloc calls have their own entry
# point (route.c): the one word of each one's RELRO data that held
# malloc's address no longer does, preloaded and with libpmalloc.a; a FILE
# is still transient and the program's block persistent.  With
# PMALLOC_MALLOC_DIRECT=0 (the fallback: malloc routes by the caller's
# address) the words are left alone, and the placement is the same;
# build/tests/t_api (libc's objects, the owned functions) passes there.
. "$(dirname "$0")/lib.sh"
build_c "$t/probe" "$T/tests/prog/route_probe.c"
build_static "$t/probe_static" "$T/tests/prog/route_probe.c"

probe() { # WHAT WANT CMD...
	what=$1 want=$2
	shift 2
	got=$("$@" 2>&1 | tr '\n' ' ')
	expect_eq "$what" "$want" "$got"
}
probe "preloaded" "libc 0 ld 0 file 1 block 1 " "$t/probe"
probe "libpmalloc.a" "libc 0 ld 0 file 1 block 1 " env LD_PRELOAD= "$t/probe_static"
probe "fallback, preloaded" "libc 1 ld 1 file 1 block 1 " \
	env PMALLOC_MALLOC_DIRECT=0 "$t/probe"
probe "fallback, libpmalloc.a" "libc 1 ld 1 file 1 block 1 " \
	env PMALLOC_MALLOC_DIRECT=0 LD_PRELOAD= "$t/probe_static"
if [ -x "$B/tests/t_api" ]; then
	PMALLOC_MALLOC_DIRECT=0 "$B/tests/t_api" >"$t/out" 2>&1 ||
		bad "t_api with PMALLOC_MALLOC_DIRECT=0: $(tail -5 "$t/out")"
else
	bad "no $B/tests/t_api (make check builds it)"
fi
finish
