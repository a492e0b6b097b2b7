#!/bin/sh
# ckpt_code.sh - code made at run time (anonymous executable mappings: what
# PCRE2's JIT makes) comes back with a restore, at its address and with
# its protection, three times in a row (tests/prog/jit_code.c); a restore
# over a range the process already uses is refused and loses nothing.
. "$(dirname "$0")/lib.sh"
build_c "$t/jit" "$T/tests/prog/jit_code.c"

# setup prints the address of its code; each verify restores, checks,
# and checkpoints to the next file
zdtm_self "$t/jit" "$t/j" 3
addr=$(cat "$t/setup.out")
[ -n "$addr" ] || die "setup printed no address"
"$B/pmalloc" info "$t/j" | grep -q " code .* rwx$" ||
	bad "no rwx code section in the file"
"$B/pmalloc" info "$t/j" | grep -q " code .* r-x$" ||
	bad "no r-x code section in the file"
"$B/pmalloc" verify "$t/j.next.next.next" || fail=1
pm_run "$t/jit" conflict "$t/j" "$addr" || fail=1

# A file whose code section cannot be mapped back (past the end of user
# space; or on top of another code section), checksums made right: the
# restore must refuse it cleanly, not abort half-way.
patch() { # FILE SECTION-TO-MOVE NEW-ADDRESS|same-as:N
	python3 - "$@" <<'PY'
import struct, sys
def crc32c(data, crc=0):
    t = crc32c.t
    if t is None:
        t = crc32c.t = []
        for i in range(256):
            c = i
            for _ in range(8):
                c = (c >> 1) ^ (0x82F63B78 if c & 1 else 0)
            t.append(c)
    crc ^= 0xFFFFFFFF
    for b in data:
        crc = t[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF
crc32c.t = None
path, which, to = sys.argv[1], int(sys.argv[2]), sys.argv[3]
b = bytearray(open(path, 'rb').read())
table_off, = struct.unpack_from('<Q', b, 88)
nsec, = struct.unpack_from('<I', b, 96)
code = [i for i in range(nsec)
        if struct.unpack_from('<I', b, table_off + 64 * i)[0] == 5]
if to.startswith('same-as:'):
    addr, = struct.unpack_from('<Q', b, table_off + 64 * code[int(to[8:])] + 8)
else:
    addr = int(to, 16)
struct.pack_into('<Q', b, table_off + 64 * code[which] + 8, addr)
struct.pack_into('<I', b, 108, crc32c(bytes(b[table_off:table_off + 64 * nsec])))
struct.pack_into('<I', b, 252, crc32c(bytes(b[0:252])))
open(path, 'wb').write(b)
PY
}
# Two code sections over the same range are refused by the parser itself
# (pmalloc verify too); one past the end of user space only by a restore.
for how in "1 7ffffffff000" "1 same-as:0"; do
	cp "$t/j" "$t/bad"
	patch "$t/bad" $how || { bad "cannot patch"; continue; }
	if [ "${how#*same-as}" != "$how" ]; then
		"$B/pmalloc" verify "$t/bad" >"$t/err" &&
			bad "overlapping code sections verify"
		grep -q "overlaps another section" "$t/err" ||
			bad "verify: $(cat "$t/err")"
	else
		pm_verify "$t/bad" ||
			bad "patched file not sound"
	fi
	pm_run "$t/jit" verify "$t/bad" 2>"$t/err"
	rc=$?
	cat "$t/err"
	if [ $rc -ne 1 ] || ! grep -q "code.*\(cannot\|overlaps\)" "$t/err"; then
		echo "FAIL: code section moved ($how): exit $rc: $(cat "$t/err")"
		fail=1
	fi
done
exit $fail
