#!/bin/sh
# real_cxx_threads.sh - tests/real/threads.cpp (g++ -O2 -pthread: 10
# threads handing std::string/vector/map/make_shared objects to each other)
# under LD_PRELOAD=libpmalloc.so prints exactly what it prints without it,
# and every address it reports (new int, malloc(1 << 20), one block made by
# each thread) is in the region.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/real/common.sh"

rp_need g++
rp_setup
if ! g++ -std=c++17 -O2 -Wall -pthread -o "$rp_tmp/threads" "$here/real/threads.cpp" \
	>"$rp_tmp/build.log" 2>&1; then
	cat "$rp_tmp/build.log"
	echo "FAIL: cannot build threads.cpp"
	exit 1
fi

# A hang (a lost wake-up in a lock) must fail this test, not stall it.
limit=
command -v timeout >/dev/null 2>&1 && limit="timeout 120"
rp_both $limit "$rp_tmp/threads"
rp_compare
if [ "$(cat "$rp_tmp/pm.rc")" = 124 ] && [ -n "$limit" ]; then
	echo "(exit 124: the run with pmalloc hung and was killed after 120 s)"
fi
# Several more pm runs: a race shows up as a difference or a crash.
i=0
while [ $i -lt 4 ]; do
	rp_run pm $limit "$rp_tmp/threads" "$rp_tmp/addrs.$i"
	rc=$(cat "$rp_tmp/pm.rc")
	if [ "$rc" = 124 ] && [ -n "$limit" ]; then
		rp_bad "run $i with pmalloc hung (killed after 120 s)"
	elif [ "$rc" != 0 ]; then
		rp_bad "run $i with pmalloc exited $rc"
		tail -n 10 "$rp_tmp/pm.err"
	elif ! cmp -s "$rp_tmp/base.out" "$rp_tmp/pm.out"; then
		rp_bad "run $i with pmalloc printed something else"
		rp_show_diff "$rp_tmp/base.out" "$rp_tmp/pm.out"
	fi
	i=$((i + 1))
done

n=0
nbad=0
for f in "$rp_tmp"/addrs.*; do
	[ -f "$f" ] || continue
	while read -r what addr; do
		n=$((n + 1))
		rp_in_region "$addr" && continue
		nbad=$((nbad + 1))
		[ $nbad -le 5 ] && echo "  $what: $addr is outside the region ($(basename "$f"))"
	done <"$f"
done
[ $nbad -eq 0 ] || rp_bad "$nbad of $n reported addresses are outside the region"
[ $n -ge 10 ] || rp_bad "only $n addresses reported"
echo "addresses checked: $n; e.g. $(head -n 2 "$rp_tmp/addrs.0" 2>/dev/null | tr '\n' ' ')"
rp_check_probe threads
rp_check_stats
rp_finish
