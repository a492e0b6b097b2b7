#!/bin/sh
# ckpt_crafted.sh - crafted checkpoint files, checksums made right, must be
# refused by a restore with a message, and leave the process whole.
#
# tests/prog/victim.c makes a checkpoint and prints the addresses a crafted
# file aims at; tests/prog/craft.c edits that file (one edit per call,
# every crc and layout field recomputed); then `victim bad FILE` restores
# each and checks that nothing moved: the globals, libc's and ld.so's data,
# the GOT slot of puts, pmalloc's own state (malloc, free, printf and the
# heap checker still work).  `victim good` restores the untouched file (the
# control case).  One line per case; the ACCEPTED ones are listed at the
# end.  The trust rules tested are in docs/FORMAT.md.
. "$(dirname "$0")/lib.sh"
$CC -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -o "$t/craft" \
	"$T/tests/prog/craft.c" "$T/src/crc32c.c" || exit 1
$CC -std=c11 -O2 -Wall -Wextra -I"$T/include" -Wl,-z,lazy -o "$t/victim" \
	"$T/tests/prog/victim.c" -L"$B" -lpmalloc -Wl,-rpath,"$B" || exit 1

run() { pm_run "$t/victim" "$@"; }
run setup "$t/v.ckpt" >"$t/addr" || die "setup"
# a heap whose used extent spans more than 2 x 40000 pages
run setup "$t/big.ckpt" 330 >/dev/null || die "setup big"
cat "$t/addr"
a() { awk -v k="$1" '$1 == k { print $2 }' "$t/addr"; }
base=$(a base)
minaddr=$(cat /proc/sys/vm/mmap_min_addr 2>/dev/null || echo 4096)
minaddr=$(printf '0x%x' $(( minaddr > 4096 ? minaddr - 4096 : 0 )))
M=0x4141414141414140 # the marker a crafted word carries
accepted=""

# sec_index KIND: the first section of that kind
sec_index() {
	python3 - "$t/v.ckpt" "$1" <<'PY'
import struct, sys
b = open(sys.argv[1], 'rb').read()
table_off, = struct.unpack_from('<Q', b, 88)
nsec, = struct.unpack_from('<I', b, 96)
for i in range(nsec):
    if struct.unpack_from('<I', b, table_off + 64 * i)[0] == int(sys.argv[2]):
        print(i)
        break
PY
}

# case_ NAME FILE [ABSENT-ADDRESS [MAPPINGS]]: the restore of FILE must be
# refused (and nothing mapped at ABSENT-ADDRESS afterwards); with
# MODE=either it may also succeed, as long as every target is untouched
case_() {
	name=$1
	shift
	[ -f "$1" ] || { echo "FAIL $name: no crafted file"; fail=1; return; }
	run "${MODE:-bad}" "$@" >"$t/out" 2>&1
	rc=$?
	if [ $rc -eq 0 ]; then
		echo "ok   $name: $(grep '^restore:' "$t/out")"
	else
		echo "FAIL $name (exit $rc):"
		sed 's/^/       /' "$t/out"
		[ "${MODE:-bad}" = bad ] && grep -q "^restore: 0 ok" "$t/out" &&
			accepted="$accepted $name"
		fail=1
	fi
}

craft() { # EDIT ARGS... -> $t/c.ckpt, from $SRC (default v.ckpt)
	rm -f "$t/c.ckpt"
	"$t/craft" "${SRC:-$t/v.ckpt}" "$t/c.ckpt" "$@" ||
		bad "craft $*"
}
craft2() { # EDIT ARGS... applied to $t/c.ckpt
	"$t/craft" "$t/c.ckpt" "$t/c2.ckpt" "$@" && mv "$t/c2.ckpt" "$t/c.ckpt" ||
		bad "craft $*"
}

# the control: the file as written, and once through the editor unchanged
run good "$t/v.ckpt" >"$t/out" 2>&1 ||
	{ echo "FAIL control:"; cat "$t/out"; fail=1; }
craft poke "$(a pers)" 4242
run good "$t/c.ckpt" >"$t/out" 2>&1 &&
	echo "ok   control: valid file restores, also rewritten by craft" ||
	{ echo "FAIL control through craft:"; cat "$t/out"; fail=1; }

# globals sections aimed at memory no checkpoint of this process writes
craft append 4 0 "$(a libc_word)" 8 "$(a decoy)"
case_ libc-data "$t/c.ckpt"
craft append 4 0 "$(a ld_word)" 8 $M
case_ ldso-data "$t/c.ckpt"
craft append 4 0 "$(a aux)" 64 $M
case_ pmalloc-aux-pages "$t/c.ckpt"
craft append 4 0 "$(a pm_bss)" 8 $M
case_ pmalloc-bss "$t/c.ckpt"
craft dup "$(sec_index 3)" 1111
case_ overlapping-sections "$t/c.ckpt"

# a keep bit cleared: the GOT slot of puts gets a new value.  The file's
# keep bits only add to the restoring process's own, so the restore may go
# ahead, but the slot must keep its value
craft keep "$(a got_puts)" 0
craft2 poke "$(a got_puts)" "$(a fake_puts)"
MODE=either case_ got-keep-bit-cleared "$t/c.ckpt"

# code sections (kind 5)
craft append 5 7 0x500000000000 4096 0x90909090c3c3c3c3
# an rwx section at a free address: JIT code as a writer records it
# (restored as it was; the state and every target intact)
MODE=either case_ code-rwx "$t/c.ckpt" 0x500000000000
craft append 5 5 0 4096 0xc3c3c3c3c3c3c3c3
case_ code-at-0 "$t/c.ckpt"
craft append 5 5 "$minaddr" 4096 0xc3c3c3c3c3c3c3c3
case_ code-below-mmap-min-addr "$t/c.ckpt"
craft append 5 5 "$(a text)" 4096 0xcccccccccccccccc
case_ code-over-a-mapping "$t/c.ckpt"
craft append 5 5 "$(printf '0x%x' $((base + 0x100000)))" 4096 0xcccccccccccccccc
case_ code-inside-the-region "$t/c.ckpt"

# more sections than the writer makes; a length that wraps
SRC="$t/big.ckpt" craft heapsplit 40000
case_ 40000-heap-sections "$t/c.ckpt"
# 16384 heap sections (a writer's most) one page in two, in a process
# that already has 40000 mappings: more than vm.max_map_count allows in
# all, which must be seen before the first section is mapped
SRC="$t/big.ckpt" craft heapsplit 16384
case_ max-map-count "$t/c.ckpt" 0 40000
craft hugelen 4 0x200000000000
case_ len-overflow "$t/c.ckpt"
"$B/pmalloc" verify "$t/c.ckpt" >"$t/out" 2>&1 &&
	{ echo "FAIL len-overflow: pmalloc verify accepts it"; fail=1; }
"$B/pmalloc" info "$t/c.ckpt" >"$t/out" 2>&1 &&
	{ echo "FAIL len-overflow: pmalloc info prints it as valid"; fail=1; }

# region header pointers
craft region fast.3 "$(a exe_data)"
case_ fast-head-in-exe-data "$t/c.ckpt"
craft region top "$(printf '0x%x' $(( $(a libc_word) & ~15 )))"
case_ top-in-libc-data "$t/c.ckpt"
craft region bins.8 0x7fff00000000
craft2 region smallmap 0xffffffffffffffff
case_ bin-head-outside "$t/c.ckpt"
craft region root.0 "$(a libc_word)"
case_ root-outside "$t/c.ckpt"

# a chunk's size word: refused, or met at free time with one line and
# SIGABRT (not a crash, not silence)
craft poke "$(printf '0x%x' $(( $(a node) - 8 )))" 0x40000003
pm_run "$t/victim" chunk "$t/c.ckpt" >"$t/out" 2>"$t/err"
rc=$?
grep -v '^Aborted' "$t/err" >"$t/err1" # the shell's own report, if there
if [ $rc -eq 0 ] || { [ $rc -eq 134 ] && [ "$(wc -l <"$t/err1")" -eq 1 ] &&
	grep -q '^pmalloc: ' "$t/err1"; }; then
	echo "ok   chunk-size: exit $rc: $(cat "$t/out" "$t/err" | tr '\n' ' ')"
else
	echo "FAIL chunk-size (exit $rc):"
	cat "$t/out" "$t/err" | sed 's/^/       /'
	fail=1
fi

# ... and with the full walk (PM_RESTORE_CHECK_HEAP), refused up front
if pm_run "$t/victim" chunkwalk "$t/c.ckpt" >"$t/out" 2>&1 &&
	grep -q '^restore: -1001 ' "$t/out"; then
	echo "ok   chunk-size-walked: $(grep '^restore:' "$t/out")"
else
	echo "FAIL chunk-size-walked:"; sed 's/^/       /' "$t/out"; fail=1
fi

[ -n "$accepted" ] && echo "accepted:$accepted"
exit $fail
