#!/bin/sh
# examples/demo.sh - pmalloc in one minute (`make demo` runs this).
#
# Runs examples/wordindex twice.  The first run builds a word index of a
# 3-million-word corpus (a second or two) and checkpoints its heap and
# globals; the second run restores them and answers at once.  Then it shows
# what the checkpoint file holds and verifies its checksums.
#
#   sh examples/demo.sh [WORD...]      (default words: be pidoma lumajo zzz)
#   WORDINDEX_WORDS=500000 sh examples/demo.sh     a smaller corpus
#
# Both runs go through `build/pmalloc run`, which preloads the library and
# turns address-space randomisation off, so that libc loads at the same
# address in both runs (the heap may hold pointers into it).
set -e
cd "$(dirname "$0")/.."

# build, unless `make demo` just did
[ -n "$PMALLOC_DEMO_BUILT" ] || ${MAKE:-make} -s all examples

W=build/examples/wordindex
F=build/examples/wordindex.ckpt
N=${WORDINDEX_WORDS:-3000000}
[ $# -gt 0 ] || set -- be pidoma lumajo zzz
LOG=build/examples/demo.err
OUT=build/examples/demo.out

rm -f "$F"

# run WORD...: run the example once; its status lines (stderr) are kept
# in $LOG, then shown before its answers (stdout)
run() {
	echo
	echo "\$ build/pmalloc run -- $W -n $N -c $F $*"
	st=0
	build/pmalloc run -- "$W" -n "$N" -c "$F" "$@" >"$OUT" 2>"$LOG" ||
		st=$?
	cat "$LOG" "$OUT"
	[ $st -eq 0 ] || { echo "demo: $W failed (exit $st)"; exit 1; }
}

# the start-up time the program printed ("start-up 1.234 s ...")
startup() {
	sed -n 's/.*start-up \([0-9.]*\) s.*/\1/p' "$LOG"
}

echo "=== run 1: no checkpoint yet, so the index is built and checkpointed"
run "$@"
t1=$(startup)

echo
echo "=== run 2: the same command; now the index is restored"
run "$@"
t2=$(startup)
grep -q 'restored from' "$LOG" || {
	echo "demo: the second run did not restore (see the message above)"
	exit 1
}

echo
echo "=== start-up: $t1 s built, $t2 s restored:" \
	"$(echo "$t1 $t2" | awk '{ printf "%.0f", $1 / ($2 > 0 ? $2 : 0.001) }')x faster"

echo
echo "=== build/pmalloc info $F   (first lines)"
build/pmalloc info "$F" | sed -n '1,22p'

echo
echo "=== build/pmalloc verify $F"
build/pmalloc verify "$F"
