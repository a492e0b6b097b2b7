#!/bin/sh
# real_pmalloc_env.sh - the library's environment under LD_PRELOAD:
#  1. PMALLOC_BASE=0x300000000 moves the heap there: malloc'd blocks, the
#     resident pages (probe) and no mapping left at the default base;
#  2. PMALLOC_BASE naming an occupied range (a non-PIE executable's own
#     0x400000) is reported in a line on stderr that mentions PMALLOC_BASE,
#     and the program then either runs normally or ends cleanly (an exit
#     status or abort, not a crash).
here=$(cd "$(dirname "$0")" && pwd)
. "$here/real/common.sh"

rp_setup
cc=$rp_cc
if ! "$cc" -O2 -o "$rp_tmp/envprog" "$here/real/envprog.c" >"$rp_tmp/cc.log" 2>&1; then
	cat "$rp_tmp/cc.log"
	echo "FAIL: cannot build envprog.c"
	exit 1
fi

# --- 1. a heap at 0x300000000 ---------------------------------------------
moved=0x300000000
rp_run base "$rp_tmp/envprog"
(
	PMALLOC_BASE=$moved
	export PMALLOC_BASE
	rp_base=$moved
	rp_run pm "$rp_tmp/envprog" "$rp_tmp/moved.txt"
	rp_compare
	exit $rp_fails
) || rp_bad "the output with PMALLOC_BASE=$moved differs"
for what in small large; do
	addr=$(awk -v w=$what '$1 == w { print $2 }' "$rp_tmp/moved.txt" 2>/dev/null)
	case $addr in 0x*) ;; *) addr=0x$addr ;; esac
	if ! rp_base=$moved rp_in_region "$addr"; then
		rp_bad "with PMALLOC_BASE=$moved the $what block is at $addr"
	else
		echo "moved: $what block at $addr"
	fi
done
# No mapping may start inside the default region [0xe0000000, +4 GiB).
left=""
while read -r range rest; do
	case $range in *-*) ;; *) continue ;; esac
	lo=${range%-*}
	# (beyond 48 bits, e.g. [vsyscall], shell arithmetic would overflow)
	[ ${#lo} -le 12 ] || continue
	lo=0x$lo
	if [ $((lo)) -ge $((0xe0000000)) ] && [ $((lo)) -lt $((0xe0000000 + 4294967296)) ]; then
		left="$left $range"
	fi
done <"$rp_tmp/moved.txt"
[ -z "$left" ] || rp_bad "with PMALLOC_BASE=$moved there are still mappings in the default region:$left"
log=$rp_tmp/pm.probe/probe.log
if ! grep -q "^comm=envprog .* ptr_in_region=1\$" "$log" 2>/dev/null ||
	grep -q "^comm=envprog .* region_rss_kb=0 " "$log"; then
	rp_bad "the probe did not see the heap at $moved: $(cat "$log" 2>/dev/null)"
else
	echo "moved: probe: $(cat "$log")"
fi

# The PMALLOC_STATS=1 line names the base in use.
if grep -q '^pmalloc: stats.* base=0x300000000 ' "$rp_tmp/pm.err"; then
	echo "moved: $(grep '^pmalloc: stats' "$rp_tmp/pm.err")"
else
	rp_bad "no 'pmalloc: stats ... base=0x300000000' line: $(cat "$rp_tmp/pm.err")"
fi

# --- 2. an occupied range ---------------------------------------------------
if ! "$cc" -O2 -no-pie -o "$rp_tmp/envprog_nopie" "$here/real/envprog.c" \
	>"$rp_tmp/cc2.log" 2>&1; then
	cat "$rp_tmp/cc2.log"
	echo "note: cannot build a non-PIE executable with $cc; part 2 not run"
else
	PMALLOC_BASE=0x400000 LD_PRELOAD=$rp_lib "$rp_tmp/envprog_nopie" "$rp_tmp/nopie.txt" \
		</dev/null >"$rp_tmp/occ.out" 2>"$rp_tmp/occ.err"
	rc=$?
	echo "occupied: exit $rc; stderr:"
	sed 's/^/    /' "$rp_tmp/occ.err" | head -n 10
	# Was 0x400000 really occupied?  (The executable's own mapping.)
	if [ -s "$rp_tmp/nopie.txt" ] && ! grep -q '^0*400000-' "$rp_tmp/nopie.txt"; then
		echo "note: the non-PIE executable is not at 0x400000 here"
	fi
	if ! grep -q 'PMALLOC_BASE' "$rp_tmp/occ.err"; then
		rp_bad "no line on stderr mentions PMALLOC_BASE when 0x400000 is occupied"
	fi
	if [ "$(grep -c 'PMALLOC_BASE' "$rp_tmp/occ.err")" -gt 1 ]; then
		rp_bad "more than one line mentions PMALLOC_BASE"
	fi
	case $rc in
	0)
		cmp -s "$rp_tmp/occ.out" "$rp_tmp/base.out" ||
			rp_bad "the program went on but printed something else"
		;;
	134) echo "occupied: the program aborted (SIGABRT)" ;;
	12[6-9] | 1[3-9][0-9] | 2[0-9][0-9])
		rp_bad "the program ended with status $rc (a crash?)" ;;
	*) echo "occupied: the program exited with status $rc" ;;
	esac
fi
rp_finish
