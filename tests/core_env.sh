#!/bin/sh
# The region's start-up rules: an address-space limit shrinks the
# reservation with one line saying so; bad PMALLOC_SIZE / PMALLOC_BASE
# values are refused with one line naming the variable; PMALLOC_SIZE=16G
# reserves more than the default.
. "$(dirname "$0")/lib.sh"
L="$PMALLOC_BUILD/libpmalloc.so"

# 1. ulimit -v: the program still runs, its heap is smaller, one line says so
(ulimit -v 3000000 && LD_PRELOAD="$L" PMALLOC_STATS=1 sh -c 'echo ok' \
	>"$t/out" 2>"$t/err")
if ! grep -qx ok "$t/out"; then
	echo "FAIL: no output under ulimit -v"; fail=1
fi
n=$(grep -c "address-space limit: reserved .* MiB at 0xe0000000 instead of 4096 MiB" "$t/err")
if [ "$n" -lt 1 ]; then
	echo "FAIL: no line about the smaller reservation:"; cat "$t/err"; fail=1
fi

# 2. a bad PMALLOC_SIZE: one line naming it; malloc then fails, so the
#    program may die, but never silently
LD_PRELOAD="$L" PMALLOC_SIZE=12x sh -c 'echo ok' >"$t/out" 2>"$t/err"
if ! grep -q "PMALLOC_SIZE=12x" "$t/err"; then
	echo "FAIL: bad PMALLOC_SIZE not reported:"; cat "$t/err"; fail=1
fi
LD_PRELOAD="$L" PMALLOC_BASE=0x1234 sh -c 'echo ok' >"$t/out" 2>"$t/err"
if ! grep -q "PMALLOC_BASE=0x1234 is not a page-aligned address" "$t/err"; then
	echo "FAIL: bad PMALLOC_BASE not reported:"; cat "$t/err"; fail=1
fi

# 3. a larger reservation: 16 GiB, costs nothing until touched (the
#    committed front and the PROT_NONE rest are separate mappings)
LD_PRELOAD="$L" PMALLOC_SIZE=16G sh -c 'cat /proc/self/maps' \
	>"$t/out" 2>"$t/err"
if ! grep -q "^e0000000-" "$t/out" || ! grep -q -- "-4e0000000 " "$t/out"; then
	echo "FAIL: PMALLOC_SIZE=16G did not reserve e0000000-4e0000000:"
	grep -i "^e\|^[0-4]e" "$t/out"; fail=1
fi
exit $fail
