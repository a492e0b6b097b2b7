#!/bin/sh
# fuzz_bounded.sh - the checkpoint and process-image parsers under
# libFuzzer for a bounded time (FUZZ_TIME seconds, 20 by default), from
# fuzz/corpus and fuzz/crashes, with the structure-aware mutator of
# fuzz/fuzz_parse.c (checksums and layout made right after each
# mutation).  Skipped (77)
# when build/fuzz_parse was not built (clang without libFuzzer).  A
# crasher is kept in $PMALLOC_BUILD/fuzz-findings/: move it to
# fuzz/crashes/ with the fix.
. "$(dirname "$0")/lib.sh"
[ -x "$B/fuzz_parse" ] || { echo "no $B/fuzz_parse (libFuzzer)"; exit 77; }
mkdir -p "$t/corpus" "$B/fuzz-findings"
cp "$T"/fuzz/corpus/* "$t/corpus/"
"$B/fuzz_parse" -seed=1 -max_total_time="${FUZZ_TIME:-20}" -timeout=10 \
	-print_final_stats=1 -artifact_prefix="$B/fuzz-findings/" \
	"$t/corpus" "$T/fuzz/crashes" 2>"$t/log"
rc=$?
grep -E '^(stat::|Done|#[0-9]+ +DONE)' "$t/log"
if [ $rc -ne 0 ]; then
	grep -E 'ERROR|SUMMARY|#[0-9] |Test unit written' "$t/log" | head -20
	echo "FAIL: fuzz_parse exit $rc"
	exit 1
fi
exit 0
