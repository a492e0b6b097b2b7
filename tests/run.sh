#!/bin/sh
# tests/run.sh TEST... - run each test in its own process and count.
# A test passes with exit 0, is skipped with exit 77, fails otherwise.
# Ends with the one line "N passed, M failed[, K skipped]".
pass=0; fail=0; skip=0; failed=""
: "${PMALLOC_TEST_TIMEOUT:=300}"
logdir=${PMALLOC_BUILD:-build}/testlogs
mkdir -p "$logdir"
for t in "$@"; do
	name=$(basename "$t")
	log="$logdir/$name.log"
	case "$t" in
	*.sh) timeout "$PMALLOC_TEST_TIMEOUT" sh "$t" >"$log" 2>&1 ;;
	*) timeout "$PMALLOC_TEST_TIMEOUT" "$t" >"$log" 2>&1 ;;
	esac
	rc=$?
	if [ $rc -eq 0 ]; then
		pass=$((pass + 1)); echo "PASS $name"
	elif [ $rc -eq 77 ]; then
		skip=$((skip + 1)); echo "SKIP $name: $(tail -n 1 "$log")"
	else
		fail=$((fail + 1)); failed="$failed $name"
		echo "FAIL $name (exit $rc)"; tail -n 15 "$log" | sed 's/^/    /'
	fi
done
[ -n "$failed" ] && echo "failed:$failed"
if [ $skip -gt 0 ]; then
	echo "$pass passed, $fail failed, $skip skipped"
else
	echo "$pass passed, $fail failed"
fi
[ $fail -eq 0 ]
