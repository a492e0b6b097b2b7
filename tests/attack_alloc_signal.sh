#!/bin/sh
# attack_alloc_signal.sh - malloc in a signal handler that interrupted
# malloc (tests/prog/sig_malloc.c), then pm_checkpoint.  Undefined
# behaviour, so an abort (the cache's own check: the handler took the
# block the interrupted pop was taking) is an answer; a checkpoint that
# never returns is not (it waited for a pop flag the nested pops left
# set: SIGALRM).  Ten runs: the signal lands at random places.
. "$(dirname "$0")/lib.sh"
"$CC" -std=c11 -O1 -fno-builtin -Wall -Wextra -I"$T/include" \
	-o "$t/prog" "$T/tests/prog/sig_malloc.c" -L"$B" -lpmalloc \
	-Wl,-rpath,"$B" || exit 1
ok=0 ab=0
for i in 1 2 3 4 5 6 7 8 9 10; do
	"$t/prog" "$t/img$i" >"$t/out" 2>"$t/err"
	rc=$?
	rm -f "$t/img$i"
	case $rc in
	0) ok=$((ok + 1)) ;;
	134) grep -q '^pmalloc: ' "$t/err" && ab=$((ab + 1)) ||
		{ echo "FAIL run $i: abort without a pmalloc line"; fail=1; } ;;
	*) echo "FAIL run $i (exit $rc, 142 = SIGALRM: hung): $(cat "$t/out" "$t/err")"
	   fail=1 ;;
	esac
done
echo "runs: $ok checkpointed, $ab aborted (the cache's check)"
exit $fail
