#!/bin/sh
# ckpt_tsd.sh - pthread keys across a restore (src/tsd.c): a library's key
# whose value points at a block the restore replaces takes the value the
# checkpointed process had (NULL here), not a pointer into a block that now
# holds someone else's data.
. "$(dirname "$0")/lib.sh"
"$CC" -O2 -fPIC -shared -o "$t/libtsdlib.so" "$T/tests/prog/tsd_lib.c" \
	-pthread || exit 1
"$CC" -O2 -I"$T/include" -o "$t/tsd" "$T/tests/prog/tsd_main.c" \
	-L"$t" -ltsdlib -L"$B" -lpmalloc -Wl,-rpath,"$t:$B" || exit 1
out=$(pm_run "$t/tsd" setup "$t/f") || die "setup: $out"
echo "$out"
out=$(pm_run "$t/tsd" restore "$t/f")
echo "$out"
case "$out" in
*"before: MINE"*) ;;
*) echo "FAIL: the library's constructor did not set its key"; fail=1 ;;
esac
case "$out" in
*"after: NULL"*) echo "ok: the key holds the checkpointed NULL" ;;
*) echo "FAIL: after the restore the key is not NULL"; fail=1 ;;
esac
exit $fail
