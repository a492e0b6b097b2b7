#!/bin/sh
# route_direct.sh - libc's and ld.so's malloc calls have their own entry
# point (route.c): the one word of each one's RELRO data that held
# malloc's address no longer does (for libc also checked at the word its
# relocation table names), preloaded, in a non-PIE program whose PLT
# entries are malloc's and write's canonical addresses, and with
# libpmalloc.a; a FILE
# is still transient and the program's block persistent.  With
# PMALLOC_MALLOC_DIRECT=0 (the fallback: malloc routes by the caller's
# address) the words are left alone, and the placement is the same;
# build/tests/t_api (libc's objects, the owned functions) passes there.
# The route is set up at malloc's 256th slow call, not at start-up.
. "$(dirname "$0")/lib.sh"
build_c "$t/probe" "$T/tests/prog/route_probe.c"
# non-PIE, taking malloc's and write's addresses: their canonical
# addresses are the program's PLT entries (python3 is such a program).
# Was: no direct route, and libc's code taken for the program's (write's
# entry was libc's anchor), so that libc's FILE was persistent and the
# program's block transient.
build_c "$t/probe_nopie" "$T/tests/prog/route_probe.c" -no-pie -fno-pie
build_static "$t/probe_static" "$T/tests/prog/route_probe.c"

probe() { # WHAT WANT CMD...
	what=$1 want=$2
	shift 2
	got=$("$@" 2>&1 | tr '\n' ' ')
	expect_eq "$what" "$want" "$got"
}
# libc's malloc GOT entry, from its relocations (found independently of
# route.c's scan): "got 0" once rewritten, "got 1" in the fallback
libc=$(ldd "$t/probe" | sed -n 's/.*libc\.so\.6 => \([^ ]*\) .*/\1/p')
off=$(objdump -R "$libc" 2>/dev/null | awk '$2 == "R_X86_64_GLOB_DAT" && $3 ~ /^malloc@/ { print $1 }')
if [ -n "$off" ]; then
	d="got 0 " f="got 1 "
else
	echo "no objdump or no malloc GLOB_DAT in $libc: the scan's counts only"
	d="" f=""
fi
probe "preloaded" "${d}libc 0 ld 0 file 1 block 1 thread 1 " "$t/probe" $off
probe "libpmalloc.a" "${d}libc 0 ld 0 file 1 block 1 thread 1 " env LD_PRELOAD= "$t/probe_static" $off
probe "non-PIE" "${d}libc 0 ld 0 file 1 block 1 thread 1 " "$t/probe_nopie" $off
probe "fallback, non-PIE" "${f}libc 1 ld 1 file 1 block 1 thread 1 " \
	env PMALLOC_MALLOC_DIRECT=0 "$t/probe_nopie" $off
probe "fallback, preloaded" "${f}libc 1 ld 1 file 1 block 1 thread 1 " \
	env PMALLOC_MALLOC_DIRECT=0 "$t/probe" $off
probe "fallback, libpmalloc.a" "${f}libc 1 ld 1 file 1 block 1 thread 1 " \
	env PMALLOC_MALLOC_DIRECT=0 LD_PRELOAD= "$t/probe_static" $off
# the route is set up only once malloc's slow path has run 256 times: a
# process that allocates less is left as it started
probe "before the 256th call" "early libc 1 ld 1 ${d}libc 0 ld 0 file 1 block 1 thread 1 " \
	env ROUTE_PROBE_EARLY=1 "$t/probe" $off
# a library whose constructor mallocs 300 times: the 256th slow call
# comes before the executable's constructors (gdb's libraries make about
# 850); the route is set up at the first slow call from then on (was:
# never, the count having passed 256)
"$CC" -O2 -shared -fPIC -o "$t/libroutector.so" "$T/tests/prog/route_ctor_lib.c" ||
	die "cannot build route_ctor_lib.c"
build_c "$t/probe_ctor" "$T/tests/prog/route_probe.c" -pthread \
	-Wl,--no-as-needed -L"$t" -lroutector -Wl,-rpath,"$t"
probe "after 300 mallocs of a library's constructor" \
	"${d}libc 0 ld 0 file 1 block 1 thread 1 " "$t/probe_ctor" $off
# malloc never takes the loader's lock: a thread that holds it (inside a
# dl_iterate_phdr callback) waits for another's 400 mallocs, among them
# the one that sets up the route (was: that malloc waited for the lock)
build_c "$t/dlwait" "$T/tests/prog/route_dlwait.c" -pthread
probe "mallocs while another thread holds the loader's lock" "no deadlock " \
	timeout 20 "$t/dlwait"
if [ -x "$B/tests/t_api" ]; then
	PMALLOC_MALLOC_DIRECT=0 "$B/tests/t_api" >"$t/out" 2>&1 ||
		bad "t_api with PMALLOC_MALLOC_DIRECT=0: $(tail -5 "$t/out")"
else
	bad "no $B/tests/t_api (make check builds it)"
fi
finish
