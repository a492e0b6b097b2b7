#!/bin/sh
# ckpt_perf.sh - measure the checkpoint speed and size targets (issue 3,
# item 5).  Slow and disk-hungry, so it runs only with PMALLOC_PERF=1:
#   PMALLOC_PERF=1 [PMALLOC_PERF_MB=1024] [PMALLOC_PERF_DIR=/tmp] \
#       sh tests/ckpt_perf.sh
# Prints the numbers; fails only if a target is missed by a wide margin
# (the disk's own speed varies a lot between runs).
. "$(dirname "$0")/lib.sh"
[ "${PMALLOC_PERF:-0}" = 1 ] || skip "set PMALLOC_PERF=1 to measure"
MB=${PMALLOC_PERF_MB:-1024}
# the file goes where PMALLOC_PERF_DIR says (a disk to measure)
D=$(mktemp -d "${PMALLOC_PERF_DIR:-/tmp}/pmperf.XXXXXX") || exit 1
at_exit 'rm -rf "$D"'
X=$B/tests/ckpt_perf
"$CC" -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -I"$T/include" -o "$X" \
	"$T/tests/ckpt_perf.c" -L"$B" -lpmalloc -Wl,-rpath,"$B" || exit 1
pm_run "$X" make "$D/p.ckpt" "$MB" 5 || exit 1
# restore: from the page cache, against one read() pass
"$X" read "$D/p.ckpt" >/dev/null
best() { sort -n | head -1; }
rd=$(for i in 1 2 3; do "$X" read "$D/p.ckpt"; done | best)
rv=$(for i in 1 2 3; do pm_run "$X" restore "$D/p.ckpt"; done | best)
rn=$(for i in 1 2 3; do pm_run "$X" restore "$D/p.ckpt" nv; done | best)
echo "restore with checksums $rv s, one read() pass $rd s" \
	"(ratio $(echo "$rv $rd" | awk '{printf "%.2f", $1/$2}'), target <= 2)"
echo "restore without checksums $rn s (target < 0.020)"
"$B/pmalloc" verify "$D/p.ckpt" || exit 1
echo "$rn" | awk '{exit !($1 < 0.1)}' || { echo "restore far too slow"; exit 1; }
exit 0
