# tests/real/common.sh - shared by the tests/real_*.sh scripts (sourced).
#
# Each such test runs one real program twice on the same input: once as it
# is ("base") and once with LD_PRELOAD=libpmalloc.so ("pm"), and requires
# the same stdout, the same stderr (less pmalloc's own "pmalloc: stats"
# lines) and the same exit status.  The pm run also preloads
# tests/real/probe.c, which records for every process of the run whether
# its heap was really inside the region (see probe.c), and sets
# PMALLOC_STATS=1, whose exit line is checked when the library prints it.
#
# The caller sets `here` (its own directory) before sourcing this file.
#
# Environment:
#   PMALLOC_BUILD        build dir with libpmalloc.so (default: TOP/build)
#   PMALLOC_TOP          repo root (default: the parent of tests/)
#                        (both read by tests/lib.sh, which this sources)
#   PMTEST_PRELOAD       preload this library instead of libpmalloc.so
#                        (to try a test against another malloc)
#   PMTEST_REQUIRE_STATS 0: a missing "pmalloc: stats" line is only a note
#                        (default 1: a failure)
#   PMTEST_KEEP          1: keep the temporary directory

. "$here/lib.sh"
rp_top=$T
rp_build=$B
rp_lib=${PMTEST_PRELOAD:-$rp_build/libpmalloc.so}
rp_base=${PMALLOC_BASE:-0xe0000000}
rp_fails=0
rp_tmp=

# Locale and time zone fixed for both runs.
LC_ALL=C
TZ=UTC
export LC_ALL TZ
unset LD_PRELOAD PMALLOC_STATS PMTEST_PROBE_DIR

rp_skip() {
	skip "SKIP: $*"
}

rp_bad() {
	echo "FAIL: $*"
	rp_fails=$((rp_fails + 1))
}

# rp_need CMD... : skip unless every CMD is installed.
rp_need() {
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || rp_skip "$c is not installed"
	done
}

# rp_setup: the temporary directory and the probe library.
rp_setup() {
	if [ ! -e "$rp_lib" ]; then
		echo "FAIL: $rp_lib does not exist (run make first)"
		exit 1
	fi
	rp_tmp=$t # tests/lib.sh's, removed at exit
	rp_cc=$CC
	command -v "$rp_cc" >/dev/null 2>&1 || rp_cc=gcc
	if ! "$rp_cc" -std=c11 -O2 -Wall -shared -fPIC -o "$rp_tmp/probe.so" \
		"$here/real/probe.c" >"$rp_tmp/probe.cc.log" 2>&1; then
		cat "$rp_tmp/probe.cc.log"
		echo "FAIL: cannot build the probe library with $rp_cc"
		exit 1
	fi
}

# rp_run MODE CMD [ARG...]
# Run CMD (a program or a shell function) in the directory $rp_tmp/MODE,
# stdin from /dev/null, stdout to $rp_tmp/MODE.out, stderr to
# $rp_tmp/MODE.err, exit status to $rp_tmp/MODE.rc.  MODE "pm" runs it with
# the library and the probe preloaded; any other MODE without.
rp_run() {
	rp_mode=$1
	shift
	mkdir -p "$rp_tmp/$rp_mode" "$rp_tmp/$rp_mode.probe"
	(
		cd "$rp_tmp/$rp_mode" || exit 125
		if [ "$rp_mode" = pm ]; then
			LD_PRELOAD="$rp_lib:$rp_tmp/probe.so"
			PMALLOC_STATS=1
			PMTEST_PROBE_DIR="$rp_tmp/$rp_mode.probe"
			export LD_PRELOAD PMALLOC_STATS PMTEST_PROBE_DIR
		fi
		"$@"
	) <"/dev/null" >"$rp_tmp/$rp_mode.out" 2>"$rp_tmp/$rp_mode.err"
	echo $? >"$rp_tmp/$rp_mode.rc"
}

# rp_both CMD [ARG...]: rp_run base, then rp_run pm.
rp_both() {
	rp_run base "$@"
	rp_run pm "$@"
}

# rp_show_diff A B: the first lines of a unified diff.
rp_show_diff() {
	diff -u "$1" "$2" | head -n 40
}

# rp_compare: the base and pm runs printed the same and exited the same.
rp_compare() {
	grep -v '^pmalloc: stats' "$rp_tmp/pm.err" >"$rp_tmp/pm.err.cmp"
	rc_base=$(cat "$rp_tmp/base.rc")
	rc_pm=$(cat "$rp_tmp/pm.rc")
	if [ "$rc_base" != "$rc_pm" ]; then
		rp_bad "exit status differs: $rc_base without pmalloc, $rc_pm with"
		echo "--- stderr with pmalloc (last lines):"
		tail -n 20 "$rp_tmp/pm.err"
	fi
	if ! cmp -s "$rp_tmp/base.out" "$rp_tmp/pm.out"; then
		rp_bad "stdout differs ($(wc -c <"$rp_tmp/base.out") bytes without pmalloc, $(wc -c <"$rp_tmp/pm.out") with)"
		rp_show_diff "$rp_tmp/base.out" "$rp_tmp/pm.out"
	fi
	if ! cmp -s "$rp_tmp/base.err" "$rp_tmp/pm.err.cmp"; then
		rp_bad "stderr differs"
		rp_show_diff "$rp_tmp/base.err" "$rp_tmp/pm.err.cmp"
	fi
	echo "compared: stdout $(wc -c <"$rp_tmp/base.out") bytes, stderr $(wc -c <"$rp_tmp/base.err") bytes, exit $rc_base"
}

# rp_same_file REL: $rp_tmp/base/REL and $rp_tmp/pm/REL are identical.
rp_same_file() {
	if [ ! -e "$rp_tmp/base/$1" ]; then
		rp_bad "$1 was not produced without pmalloc"
	elif [ ! -e "$rp_tmp/pm/$1" ]; then
		rp_bad "$1 was not produced with pmalloc"
	elif ! cmp -s "$rp_tmp/base/$1" "$rp_tmp/pm/$1"; then
		rp_bad "$1 differs between the runs"
	fi
}

# rp_in_region ADDR: ADDR (hex, with 0x) lies in [base, base + 4 GiB).
rp_in_region() {
	case $1 in
	0x[0-9a-fA-F]*) ;;
	*) return 1 ;;
	esac
	[ $(($1)) -ge $((rp_base)) ] && [ $(($1)) -lt $((rp_base + 4294967296)) ]
}

# rp_check_probe COMM: the probe wrote a line for a process named COMM and
# for every process that wrote one, malloc returned a block in the region
# and the region had resident pages.
rp_check_probe() {
	log=$rp_tmp/pm.probe/probe.log
	if [ ! -s "$log" ]; then
		rp_bad "the probe recorded no process (was the library preloaded?)"
		return
	fi
	want=$(printf '%s' "$1" | cut -c1-15)
	if ! grep -q "^comm=$want " "$log"; then
		rp_bad "the probe has no line for $want"
		cat "$log"
	fi
	bad=$(grep -v ' ptr_in_region=1$' "$log")
	if [ -n "$bad" ]; then
		rp_bad "malloc returned a block outside the region in:"
		printf '%s\n' "$bad" | head -n 5
	fi
	bad=$(grep ' region_rss_kb=0 ' "$log")
	if [ -n "$bad" ]; then
		rp_bad "no resident page in the region in:"
		printf '%s\n' "$bad" | head -n 5
	fi
	echo "probe: $(wc -l <"$log") process(es) checked; first: $(head -n 1 "$log")"
}

# rp_check_stats: each "pmalloc: stats" line carries the four counters and
# shows the heap was used; there must be at least one unless
# PMTEST_REQUIRE_STATS=0.  (Not one per process: a process that closes its
# stderr before exit, as coreutils do, cannot print it.)
rp_check_stats() {
	grep '^pmalloc: stats' "$rp_tmp/pm.err" >"$rp_tmp/stats" || true
	if [ ! -s "$rp_tmp/stats" ]; then
		if [ "${PMTEST_REQUIRE_STATS:-1}" != 0 ]; then
			rp_bad "no 'pmalloc: stats' line on stderr with PMALLOC_STATS=1"
		else
			echo "note: no 'pmalloc: stats' line on stderr with PMALLOC_STATS=1"
		fi
		return
	fi
	if ! awk '
	{
		n = 0; used = 0
		for (i = 1; i <= NF; i++) {
			if (split($i, kv, "=") != 2) continue
			if (kv[1] ~ /^(persistent|transient)_(live|peak)$/) {
				if (kv[2] !~ /^[0-9]+$/) { bad = 1; continue }
				n++
				if (kv[1] ~ /_peak$/ && kv[2] + 0 > 0) used = 1
			}
		}
		if (n != 4 || !used) bad = 1
	}
	END { exit bad }' "$rp_tmp/stats"; then
		rp_bad "malformed or empty 'pmalloc: stats' line(s):"
		cat "$rp_tmp/stats"
	fi
	echo "stats: $(wc -l <"$rp_tmp/stats") line(s); first: $(head -n 1 "$rp_tmp/stats")"
}

# rp_check_self WHAT CMD [ARG...]: one more pm run of CMD, which is a
# workload that, given the extra arguments FILE BASE, also writes to FILE a
# line "addr=0xADDR region_rss_kb=N" (the address of a large heap object,
# what its own /proc/self/smaps says of the region); its stdout must match
# the base run's; ADDR must be in the region and N > 0.
rp_check_self() {
	what=$1
	shift
	rm -f "$rp_tmp/self.txt"
	rp_run pm "$@" "$rp_tmp/self.txt" "$rp_base"
	if [ "$(cat "$rp_tmp/pm.rc")" != 0 ]; then
		rp_bad "the self-checking run failed (exit $(cat "$rp_tmp/pm.rc"))"
		tail -n 10 "$rp_tmp/pm.err"
		return
	fi
	if ! cmp -s "$rp_tmp/base.out" "$rp_tmp/pm.out"; then
		rp_bad "the self-checking run printed something else"
	fi
	self=$(cat "$rp_tmp/self.txt" 2>/dev/null)
	echo "self: $self"
	addr=${self#addr=}
	addr=${addr%% *}
	rss=${self##*region_rss_kb=}
	rp_in_region "$addr" || rp_bad "$what is at ${addr:-?}, outside the region"
	[ "$rss" -gt 0 ] 2>/dev/null ||
		rp_bad "/proc/self/smaps shows no resident page in the region"
}

# rp_finish: exit 0 if nothing failed.
rp_finish() {
	if [ "$rp_fails" -ne 0 ]; then
		echo "$rp_fails check(s) failed"
		exit 1
	fi
	echo "ok"
	exit 0
}
