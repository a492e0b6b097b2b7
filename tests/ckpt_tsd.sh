#!/bin/sh
# ckpt_tsd.sh - pthread keys across a restore (src/tsd.c): a library's key
# whose value points at a block the restore replaces takes the value the
# checkpointed process had (NULL here), not a pointer into a block that now
# holds someone else's data.
set -u
B="$PMALLOC_BUILD"
T="$PMALLOC_TOP"
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
cc=${CC:-cc}
$cc -O2 -fPIC -shared -o "$t/libtsdlib.so" "$T/tests/prog/tsd_lib.c" \
	-pthread || exit 1
$cc -O2 -I"$T/include" -o "$t/tsd" "$T/tests/prog/tsd_main.c" \
	-L"$t" -ltsdlib -L"$B" -lpmalloc -Wl,-rpath,"$t:$B" || exit 1
fail=0
out=$("$B/pmalloc" run -- "$t/tsd" setup "$t/f") || { echo "FAIL: setup: $out"; exit 1; }
echo "$out"
out=$("$B/pmalloc" run -- "$t/tsd" restore "$t/f")
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
