#!/bin/sh
# attack_crafted_more.sh - crafted files (crcs recomputed by
# tests/prog/craft.c) that ckpt_crafted.sh does not cover:
#   - the region header's list of thread caches: its head is checked
#     before the commit, but not the list's links nor the cached blocks;
#     the restore meets them in pm__heap_after_restore (after the point
#     of no return) and aborts half restored.  Expected: refused.
#   - `pmalloc verify` says "ok" for files whose region header every
#     restore refuses (its usage says it checks the region header).
. "$(dirname "$0")/lib.sh"
$CC -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -o "$t/craft" \
	"$T/tests/prog/craft.c" "$T/src/crc32c.c" || exit 1
$CC -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -I"$T/include" -o "$t/offs" \
	"$T/tests/prog/region_offs.c" || exit 1
$CC -std=c11 -O2 -Wall -Wextra -I"$T/include" -Wl,-z,lazy -o "$t/victim" \
	"$T/tests/prog/victim.c" -L"$B" -lpmalloc -Wl,-rpath,"$B" || exit 1
run() { pm_run "$t/victim" "$@"; }
run setup "$t/v.ckpt" >"$t/addr" || die "setup"
"$t/offs" >>"$t/addr"
a() { awk -v k="$1" '$1 == k { print $2 }' "$t/addr"; }
# word at ADDR of the file's heap
word() {
	python3 - "$t/v.ckpt" "$1" <<'PY'
import struct, sys
b = open(sys.argv[1], 'rb').read()
table_off, = struct.unpack_from('<Q', b, 88)
nsec, = struct.unpack_from('<I', b, 96)
a = int(sys.argv[2], 0)
for i in range(nsec):
    k, f, addr, ln, off = struct.unpack_from('<IIQQQ', b, table_off + 64 * i)
    if addr <= a < addr + ln:
        print(hex(struct.unpack_from('<Q', b, off + a - addr)[0]))
PY
}
tc=$(word "$(printf '0x%x' $(( $(a base) + $(a tcaches) )))")
[ -n "$tc" ] && [ "$tc" != 0x0 ] || die "no thread cache in the file"
echo "thread cache list head: $tc"

case_() { # NAME FILE: victim bad must exit 0 (refused, nothing changed)
	run bad "$2" >"$t/out" 2>&1
	rc=$?
	if [ $rc -eq 0 ]; then
		echo "ok   $1: $(grep '^restore:' "$t/out")"
	else
		echo "FAIL $1 (exit $rc):"; sed 's/^/       /' "$t/out"; fail=1
	fi
}
"$t/craft" "$t/v.ckpt" "$t/c1.ckpt" poke \
	"$(printf '0x%x' $(( tc + $(a tc_next) )))" "$(a libc_word)" || exit 1
case_ tcache-list-link-to-libc "$t/c1.ckpt"
"$t/craft" "$t/v.ckpt" "$t/c2.ckpt" poke \
	"$(printf '0x%x' $(( tc + $(a tc_next) )))" "$tc" || exit 1
case_ tcache-list-cycle "$t/c2.ckpt"
"$t/craft" "$t/v.ckpt" "$t/c3.ckpt" poke \
	"$(printf '0x%x' $(( tc + $(a tc_head) + 3 * $(a tc_stride) )))" \
	"$(a exe_data)" || exit 1
case_ tcache-entry-in-exe-data "$t/c3.ckpt"

verify_refuses() { # NAME FILE
	"$B/pmalloc" verify "$2" >"$t/out" 2>&1
	rc=$?
	if [ $rc -ne 0 ] && [ $rc -lt 128 ]; then
		echo "ok   verify $1: $(cat "$t/out")"
	else
		echo "FAIL verify $1 (exit $rc): $(cat "$t/out")"; fail=1
	fi
}
"$t/craft" "$t/v.ckpt" "$t/v1.ckpt" region fast.3 "$(a exe_data)" || exit 1
verify_refuses fast-head-in-exe-data "$t/v1.ckpt"
"$t/craft" "$t/v.ckpt" "$t/v2.ckpt" region "$(a nkeys)" 65 || exit 1
verify_refuses 65-pthread-keys "$t/v2.ckpt"
exit $fail
