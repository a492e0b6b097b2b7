#!/bin/sh
# startup_lazy.sh - start-up leaves for later what a process may never
# need (docs/DESIGN.md, "Start-up's pages"):
#   - the transient arena is made at its first request: in a program that
#     only mallocs, its first page is still reserved (---p) and
#     mallinfo2, malloc_trim and pm_heap_info work without it; libc's
#     first FILE makes it (rw-p) and is counted in it.  Preloaded, linked,
#     and with every import of the program bound at load (LD_BIND_NOW=1).
#   - a one-malloc process asks personality() once and makes one
#     membarrier call (strace, when installed).
. "$(dirname "$0")/lib.sh"
build_c "$t/lazy" "$T/tests/prog/lazy_transient.c"
want="before ---p live 0 | after rw-p live >0
mallinfo grew 1 trim 1"
for how in linked preloaded bindnow; do
	case $how in
	linked) got=$("$t/lazy" 2>"$t/err") ;;
	preloaded) got=$(LD_PRELOAD=$B/libpmalloc.so "$t/lazy" 2>"$t/err") ;;
	bindnow) got=$(LD_BIND_NOW=1 "$t/lazy" 2>"$t/err") ;;
	esac
	rc=$?
	expect_eq "$how: exit status" 0 "$rc"
	expect_eq "$how: the transient arena" "$want" "$got"
	grep -q "transient live" "$t/err" || bad "$how: malloc_stats printed no transient line: $(cat "$t/err")"
done
if command -v strace >/dev/null 2>&1; then
	printf '#include <stdlib.h>\nint main(void) { char *volatile p = malloc(64); p[0] = 1; free(p); return 0; }\n' >"$t/one.c"
	"$CC" -O2 -o "$t/one" "$t/one.c" || die "cannot build a one-malloc program"
	LD_PRELOAD=$B/libpmalloc.so strace -f -o "$t/st" "$t/one" 2>/dev/null ||
		bad "the one-malloc program failed under strace"
	expect_eq "personality calls" 1 "$(grep -c '^[0-9]* *personality(' "$t/st")"
	expect_eq "membarrier calls" 1 "$(grep -c '^[0-9]* *membarrier(' "$t/st")"
	# the region: one commit, at its base (default PMALLOC_BASE and
	# PMALLOC_SIZE), none at the transient arena's start
	expect_eq "commits at the region's base" 1 "$(grep -c '^[0-9]* *mprotect(0xe0000000,' "$t/st")"
	expect_eq "commits at the transient arena" 0 "$(grep -c '^[0-9]* *mprotect(0x1c0000000,' "$t/st")"
else
	echo "no strace: the system-call counts not checked"
fi
finish
