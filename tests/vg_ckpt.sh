#!/bin/sh
# vg_ckpt.sh - checkpoint and restore under memcheck: tests/prog/vg_heap.c
# builds a list under a root and checkpoints it (no report), a second run
# restores it, checks it and frees every restored block (no report, no
# leak: memcheck knows the restored heap's blocks), and a third frees a
# restored block and reads it: memcheck reports the use after free inside
# the region.  The same file restored before main() (pmalloc run
# --valgrind --restore) also checks clean.  The file verifies.  Skipped (77) without valgrind.
. "$(dirname "$0")/lib.sh"
need_valgrind
build_c "$t/vg_heap" "$T/tests/prog/vg_heap.c" -gdwarf-4 -pthread
f=$t/state.pm

run() { # WHAT WANT CMD...: exit WANT; memcheck output only if WANT is 9
	what=$1 want=$2
	shift 2
	"$@" >"$t/out" 2>&1
	rc=$?
	cat "$t/out"
	[ $rc -eq "$want" ] || bad "$what: exit $rc, want $want"
	if [ "$want" -eq 0 ] && grep -q '^==[0-9]*== ' "$t/out"; then
		bad "$what: memcheck reported something"
	fi
}

run "checkpoint under valgrind" 0 vg "$t/vg_heap" setup "$f"
[ -f "$f" ] || die "no checkpoint file"
pm_verify "$f" || bad "the checkpoint does not verify"
run "restore under valgrind, every block freed" 0 vg "$t/vg_heap" verify "$f"
run "use after free of a restored block" 9 vg "$t/vg_heap" restored_uaf "$f"
blk=$(sed -n 's/^block \(0x[0-9a-f]*\)$/\1/p' "$t/out")
a=$(printf '0x%x' $((${blk:-0} + 16)))
expect_has "reported at the restored block" \
	"Address $a is 16 bytes inside a block of size 72 free'd" "$(cat "$t/out")"
# a restored block is described with the chunk's usable size: 72 for a
# request of 56, which memcheck's pmalloc made 64 (vg.c, PAD)
expect_has "memcheck knows it from the restore" "pm_restore" "$(cat "$t/out")"
# the restore before main(): PMALLOC_RESTORE through pmalloc run
VALGRIND_OPTS="--quiet --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=9" \
	run "pmalloc run --valgrind --restore" 0 \
	"$B/pmalloc" run --valgrind --restore "$f" -- "$t/vg_heap" verify "$f"
expect_has "restored before main()" "restored before main" "$(cat "$t/out")"
# (valgrind loads the program and its libraries at addresses of its own:
# such a file restores under valgrind only, as the restore says)
finish
