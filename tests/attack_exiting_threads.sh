#!/bin/sh
# attack_exiting_threads.sh - pm_exiting() keeps the frees of the thread
# that called it; another thread that goes on working (a logger, a pool
# worker during the teardown) must still get its memory back.  Was: the
# flag is process-wide (alloc.c discard_frees), and every free of every
# thread that reaches the slow path keeps its block: 2000 malloc/free of
# 1 MiB in a second thread leave 2 GB live.
# Fixed: the flag is thread-local.
. "$(dirname "$0")/lib.sh"
build_c "$t/exiting_threads" "$T/tests/prog/exiting_threads.c" -pthread
"$B/pmalloc" run -- "$t/exiting_threads" >"$t/o" 2>&1
expect_eq "exit" 0 $?
before=$(sed -n 's/^live \([0-9]*\) -> .*/\1/p' "$t/o")
after=$(sed -n 's/^live [0-9]* -> \([0-9]*\)$/\1/p' "$t/o")
[ -n "$before" ] && [ -n "$after" ] || die "no output: $(cat "$t/o")"
[ "$after" -le $((before + 4194304)) ] ||
	bad "another thread's frees after pm_exiting kept their memory: live $before -> $after bytes"
finish
