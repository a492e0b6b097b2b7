#!/bin/sh
# attack_unmapped.sh - a registered range that is not mapped writable any
# more must make pm_checkpoint / pm_restore fail with a code, not crash:
#   1. a dlopen'ed library registers its pm_persistent section with
#      PM_REGISTER_LIBRARY_PERSISTENT (the documented way) and is
#      dlclose'd: the next pm_checkpoint reads the unmapped range;
#   2. pm_register of an mmap'd page, then munmap: the same;
#   3. a page registered and checkpointed, then registered again in the
#      restoring process but read-only: the restore writes to it after
#      the point of no return (apply_globals), half restored.
# Expected: no signal; a negative rc (e.g. -EFAULT / PM_ELAYOUT).
set -u
B="$PMALLOC_BUILD"
T="$PMALLOC_TOP"
CC="${CC:-cc}"
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
$CC -std=c11 -O2 -Wall -Wextra -shared -fPIC -I"$T/include" \
	-o "$t/libreg.so" "$T/tests/prog/reg_unmapped_lib.c" \
	-L"$B" -lpmalloc || exit 1
$CC -std=c11 -O2 -Wall -Wextra -I"$T/include" -o "$t/prog" \
	"$T/tests/prog/reg_unmapped.c" -L"$B" -lpmalloc -Wl,-rpath,"$B" \
	-ldl || exit 1
fail=0
case_() { # NAME ARGS...: must exit 0 and print a negative rc
	name=$1
	shift
	"$B/pmalloc" run -- "$t/prog" "$@" >"$t/out" 2>&1
	rc=$?
	if [ $rc -eq 0 ] && grep -q '^rc=-' "$t/out"; then
		echo "ok   $name: $(cat "$t/out")"
	else
		echo "FAIL $name (exit $rc$([ $rc -gt 128 ] &&
			echo ", signal $((rc - 128))")): $(cat "$t/out")"
		fail=1
	fi
}
case_ dlclosed-library dlclose "$t/libreg.so" "$t/a.ckpt"
case_ munmapped-range munmap "$t/b.ckpt"
"$B/pmalloc" run -- "$t/prog" save "$t/c.ckpt" >"$t/out" 2>&1 &&
	grep -q '^rc=0' "$t/out" || { echo "FAIL: save: $(cat "$t/out")"; exit 1; }
case_ read-only-target ro "$t/c.ckpt"
exit $fail
