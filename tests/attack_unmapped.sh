#!/bin/sh
# attack_unmapped.sh - registered ranges that are not mapped writable any
# more never crash a checkpoint or a restore:
#   1. a dlopen'ed library registers its pm_persistent section with
#      PM_REGISTER_LIBRARY_PERSISTENT (the documented way) and is
#      dlclose'd: the next pm_checkpoint succeeds without that range;
#   2. pm_register of an mmap'd page, then munmap: the same;
#   3. a page registered and checkpointed, then registered again in the
#      restoring process but read-only: the restore refuses the file
#      (the range is not memory this process persists) before it commits.
#   4. pm_register of memory that is not mapped, or read-only: -EFAULT.
# Found by an independent tester: each used to end in SIGSEGV.
. "$(dirname "$0")/lib.sh"
$CC -std=c11 -O2 -Wall -Wextra -shared -fPIC -I"$T/include" \
	-o "$t/libreg.so" "$T/tests/prog/reg_unmapped_lib.c" \
	-L"$B" -lpmalloc || exit 1
$CC -std=c11 -O2 -Wall -Wextra -I"$T/include" -o "$t/prog" \
	"$T/tests/prog/reg_unmapped.c" -L"$B" -lpmalloc -Wl,-rpath,"$B" \
	-ldl || exit 1
case_() { # NAME WANT ARGS...: must exit 0 and print rc=WANT...
	name=$1 want=$2
	shift 2
	pm_run "$t/prog" "$@" >"$t/out" 2>&1
	rc=$?
	if [ $rc -eq 0 ] && grep -q "^rc=$want" "$t/out"; then
		echo "ok   $name: $(cat "$t/out")"
	else
		echo "FAIL $name (exit $rc$([ $rc -gt 128 ] &&
			echo ", signal $((rc - 128))")): $(cat "$t/out")"
		fail=1
	fi
}
case_ dlclosed-library 0 dlclose "$t/libreg.so" "$t/a.ckpt"
case_ munmapped-range 0 munmap "$t/b.ckpt"
case_ register-unmapped -14 regbad 0x1000
case_ register-readonly -14 regbad ro
pm_run "$t/prog" save "$t/c.ckpt" >"$t/out" 2>&1 &&
	grep -q '^rc=0' "$t/out" || die "save: $(cat "$t/out")"
case_ read-only-target -1004 ro "$t/c.ckpt"
exit $fail
