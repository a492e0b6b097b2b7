#!/bin/sh
# attack_pagesize.sh - a file written with 64 KiB pages, read on a
# 4 KiB-page machine by `pmalloc verify`.
#
# The parser lets heap sections reach up to top_end rounded up to the
# FILE's page size; pm__stage_open sizes its view as top_end rounded up to
# PM_PAGE (4096) and maps each section MAP_FIXED at view + (addr - base).
# A last section ending past the view is mapped over whatever follows it:
# here the verifier's own scratch (ck->map: the parsed table and the read
# buffer ck->chunk), which then holds read-only file bytes.  The keyed
# verify that follows reads into ck->chunk and fails with EFAULT ("Bad
# address") instead of giving the MAC's verdict.  (In a restore the file's
# page size must be the system's, so this needs a page size > PM_PAGE
# there: arm64 or ppc64 with 64 KiB pages.)
#
# Expected: the same answer as for the control file (the same file without
# the section past the view): "the MAC ... does not match" (or a refusal
# of the section), never a read error.
. "$(dirname "$0")/lib.sh"
need python3
$CC -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -o "$t/craft" \
	"$T/tests/prog/craft.c" "$T/src/crc32c.c" || exit 1
$CC -std=c11 -O2 -Wall -Wextra -I"$T/include" -Wl,-z,lazy -o "$t/victim" \
	"$T/tests/prog/victim.c" -L"$B" -lpmalloc -Wl,-rpath,"$B" || exit 1
pm_run "$t/victim" setup "$t/v.ckpt" >"$t/addr" || die "setup"
a() { awk -v k="$1" '$1 == k { print $2 }' "$t/addr"; }
base=$(a base)
top_end=$(a top_end)
big=65536
end64=$(( (top_end + big - 1) / big * big ))
end4=$(( (top_end + 4095) / 4096 * 4096 ))
over=$(( end64 - end4 ))
[ "$over" -gt 8192 ] && [ $(( end64 - big )) -ge $(( base + big )) ] ||
	skip "top_end $top_end leaves no room past the view (only $over bytes)"
echo "view ends at $(printf 0x%x $end4); last section ends at" \
	"$(printf 0x%x $end64) ($over bytes past it)"

c() { "$t/craft" "$@" || die "craft $*"; }
c "$t/v.ckpt" "$t/1" heapsplit 1
# the heap section is the first section of kind 1
hs=$(python3 - "$t/1" <<'PY'
import struct, sys
b = open(sys.argv[1], 'rb').read()
table_off, = struct.unpack_from('<Q', b, 88)
nsec, = struct.unpack_from('<I', b, 96)
print([i for i in range(nsec)
       if struct.unpack_from('<I', b, table_off + 64 * i)[0] == 1][0])
PY
)
c "$t/1" "$t/2" hdr 20 4 $big              # page_size
c "$t/2" "$t/3" grow "$hs" $big             # first heap section: 64 KiB
c "$t/3" "$t/4" hdr 16 4 1                  # flags: PMF_FLAG_MAC
c "$t/4" "$t/ctl" hdr 152 8 0x1122334455667788 # a MAC (a wrong one)
c "$t/ctl" "$t/past" append 1 0 $(( end64 - big )) $big 0x4141414141414140

head -c 32 /dev/urandom >"$t/key"
chmod 600 "$t/key"
ctl=$("$B/pmalloc" verify --key "$t/key" "$t/ctl" 2>&1)
echo "control: $ctl"
expect_has "control file: the MAC's verdict" "does not match" "$ctl"
got=$("$B/pmalloc" verify --key "$t/key" "$t/past" 2>&1)
echo "past the view: $got"
case "$got" in
*"Bad address"* | *"cannot read"*)
	bad "a heap section past the view was mapped over the verifier's own" \
	    "memory: got [$got], want the MAC's verdict or a refusal" ;;
esac
finish
