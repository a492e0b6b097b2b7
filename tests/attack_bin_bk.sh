#!/bin/sh
# attack_bin_bk.sh - the full heap walk (PM_RESTORE_CHECK_HEAP, `pmalloc
# verify --walk`) and the back link of the first chunk of a bin.
#
# check_bin (src/check.c) follows a bin's fd chain and checks
# BK(FD(p)) == p for every chunk p on it: that covers the back link of
# every chunk but the first (and the head's).  A file whose first chunk of
# a non-empty bin has its bk pointing at another bin's head passes the
# walk; the allocator meets it at the first malloc that unlinks it and
# aborts ("corrupted free list").  Found by random mutation of chunk
# fields (crcs recomputed) under PM_RESTORE_CHECK_HEAP.
#
# Expected: the walk refuses the file (restore with the flag, and verify
# --walk), naming the bin.
. "$(dirname "$0")/lib.sh"
need python3
$CC -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -o "$t/craft" \
	"$T/tests/prog/craft.c" "$T/src/crc32c.c" || exit 1
$CC -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -I"$T/include" -o "$t/offs" \
	"$T/tests/prog/region_offs.c" || exit 1
$CC -std=c11 -O2 -Wall -Wextra -I"$T/include" -Wl,-z,lazy -o "$t/victim" \
	"$T/tests/prog/victim.c" -L"$B" -lpmalloc -Wl,-rpath,"$B" || exit 1
pm_run "$t/victim" setup "$t/v.ckpt" >"$t/addr" || die "setup"
"$t/offs" >>"$t/addr"
a() { awk -v k="$1" '$1 == k { print $2 }' "$t/addr"; }

# the first non-empty bin: "CHUNK OTHER-HEAD" (the bk word to poke, and
# the head of another bin to point it at)
# shellcheck disable=SC2046 # two words, split on purpose
set -- $(python3 - "$t/v.ckpt" "$(a base)" "$(a bins)" "$(a nbins)" <<'PY'
import struct, sys
b = open(sys.argv[1], 'rb').read()
base, bins, nbins = int(sys.argv[2], 0), int(sys.argv[3]), int(sys.argv[4])
table_off, = struct.unpack_from('<Q', b, 88)
nsec, = struct.unpack_from('<I', b, 96)
secs = [struct.unpack_from('<IIQQQ', b, table_off + 64 * i) for i in range(nsec)]
def word(a):
    for k, f, addr, ln, off in secs:
        if k == 1 and addr <= a < addr + ln:
            return struct.unpack_from('<Q', b, off + a - addr)[0]
    return None
for i in range(nbins):
    h = base + bins + 16 * i - 16          # the bin's head (a fake chunk)
    fd = word(h + 16)
    if fd is not None and fd != h:
        other = base + bins + 16 * ((i + 1) % nbins) - 16
        print(hex(fd + 24), hex(other))
        break
PY
)
[ $# -eq 2 ] || die "no non-empty bin in the file"
echo "first chunk's bk at $1 := $2 (another bin's head)"
"$t/craft" "$t/v.ckpt" "$t/bk.ckpt" poke "$1" "$2" || die "craft"

out=$(pm_run "$t/victim" chunkwalk "$t/bk.ckpt" 2>&1)
rc=$?
echo "restore with PM_RESTORE_CHECK_HEAP (exit $rc): $out"
[ $rc -eq 0 ] || bad "PM_RESTORE_CHECK_HEAP accepted a bin whose first" \
	"chunk's bk is another bin's head"
out=$("$B/pmalloc" verify --walk "$t/bk.ckpt" 2>&1)
echo "verify --walk: $out"
case "$out" in
*": ok "*) bad "pmalloc verify --walk said ok for a broken bin back link" ;;
esac
finish
