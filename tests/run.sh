#!/bin/sh
# tests/run.sh TEST... - run each test in its own process and count.
# A test passes with exit 0, is skipped with exit 77, fails otherwise.
# The report groups the tests by what they test (the table in group_of,
# by name; a name it does not know goes under "other"), one header per
# group, and ends with the one line "N passed, M failed[, K skipped]".
# Each test's output goes to $PMALLOC_BUILD/testlogs/NAME.log, which ends
# with the test's wall time; testlogs/times lists them all.
pass=0; fail=0; skip=0; failed=""
: "${PMALLOC_TEST_TIMEOUT:=300}"
logdir=${PMALLOC_BUILD:-build}/testlogs
mkdir -p "$logdir"
: >"$logdir/times"

# group_of NAME: the group a test belongs to
group_of() {
	case $1 in
	u_* | san_* | valgrind.sh | image_ctx_vg.sh | region_layout.sh) echo unit ;;
	t_* | core_env.sh) echo api ;;
	dbg_*) echo debug ;;
	vg_*) echo valgrind ;;
	ckpt_* | lib_* | interp_* | globals_* | fuzz_* | image_* | example.sh)
		echo ckpt ;;
	attack_*) echo attack ;;
	real_*) echo real ;;
	install.sh | deb.sh | man.sh | exports.sh | build_sh.sh | gdb.sh | startup_layout.sh)
		echo build ;;
	*) echo other ;;
	esac
}

title() {
	case $1 in
	unit) echo "unit: the allocator's parts on their own (u_*, san_*, under valgrind)" ;;
	api) echo "API: the library through its interface (t_*, start-up)" ;;
	debug) echo "debug build: allocator tests against -DPM_DEBUG=2 (asserts on, heap walk at every quiesce) (dbg_*)" ;;
	valgrind) echo "valgrind: memcheck with pmalloc as the allocator, its blocks described (vg_*)" ;;
	ckpt) echo "checkpoint: checkpoint, restore and what they keep (ckpt_*, lib_*, interp_*, globals_*, fuzz_*, image_*)" ;;
	attack) echo "attacks: reproducers of reported weaknesses (attack_*)" ;;
	real) echo "compatibility: real programs with and without pmalloc (real_*)" ;;
	build) echo "build and install: packages, manuals, exports, tools" ;;
	*) echo "other" ;;
	esac
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }

run_one() { # TEST
	name=$(basename "$1")
	log="$logdir/$name.log"
	start=$(now_ms)
	case "$1" in
	*.sh) timeout "$PMALLOC_TEST_TIMEOUT" sh "$1" >"$log" 2>&1 ;;
	*) timeout "$PMALLOC_TEST_TIMEOUT" "$1" >"$log" 2>&1 ;;
	esac
	rc=$?
	ms=$(($(now_ms) - start))
	secs=$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))
	if [ $rc -eq 0 ]; then
		pass=$((pass + 1)); echo "PASS $name"
	elif [ $rc -eq 77 ]; then
		skip=$((skip + 1)); echo "SKIP $name: $(tail -n 1 "$log")"
	else
		fail=$((fail + 1)); failed="$failed $name"
		echo "FAIL $name (exit $rc)"; tail -n 15 "$log" | sed 's/^/    /'
	fi
	echo "== $name: exit $rc, wall time $secs s" >>"$log"
	echo "$secs $name" >>"$logdir/times"
}

for g in unit api debug valgrind ckpt attack real build other; do
	header=0
	for t in "$@"; do
		[ "$(group_of "$(basename "$t")")" = $g ] || continue
		if [ $header -eq 0 ]; then
			echo "--- $(title $g)"
			header=1
		fi
		run_one "$t"
	done
done
[ -n "$failed" ] && echo "failed:$failed"
if [ $skip -gt 0 ]; then
	echo "$pass passed, $fail failed, $skip skipped"
else
	echo "$pass passed, $fail failed"
fi
[ $fail -eq 0 ]
