#!/bin/sh
# gdb.sh - the gdb extension (tools/gdb/pmalloc-gdb.py) on a live process,
# on a core file of it, on a corrupted heap, and auto-loaded from a
# scripts directory for a stripped copy of the library (no symbols: found by its magic, built-in
# offsets).  `pmalloc heap`, `pmalloc block`, `pmalloc roots` must say what
# tests/prog/gdb_heap.c made, the same from the core as live, and a damaged
# heap must be reported, never crash gdb.
. "$(dirname "$0")/lib.sh"
command -v gdb >/dev/null 2>&1 || skip "gdb not installed"
gdb -nx -batch -ex 'python print("py" + "ok")' 2>/dev/null | grep -q pyok ||
	{ echo "gdb has no Python support"; exit 77; }
script=$T/tools/gdb/pmalloc-gdb.py
"$CC" -std=c11 -g -O1 -I"$T/include" -o "$t/prog" "$T/tests/prog/gdb_heap.c" \
	-L"$B" -lpmalloc -Wl,-rpath,"$B" || { echo "cannot build"; exit 1; }

G="gdb -nx -batch -iex 'set debuginfod enabled off' -iex 'set pagination off'"
LOOK="-ex 'echo ==heap\n' -ex 'pmalloc heap' -ex 'echo ==block\n' \
	-ex 'pmalloc block live_block' -ex 'pmalloc block cached_block' \
	-ex 'pmalloc block free_block+5' -ex 'pmalloc block live_block-3' \
	-ex 'pmalloc block not_heap_addr' -ex 'echo ==roots\n' -ex 'pmalloc roots' \
	-ex 'echo ==end\n'"

# ---- live, then a core of it, then damage --------------------------------
# The smallest region (64M): gdb's generate-core-file writes the whole
# reservation, PROT_NONE part included (a 256M region makes a 260 MB core).
eval "$G -ex 'source $script' -ex 'set environment PMALLOC_SIZE 64M' -ex 'break gdb_stop_here' -ex run \
	-ex 'pmalloc layout' $LOOK \
	-ex 'generate-core-file $t/core' \
	-ex 'set var *(unsigned long *)(live_block - 8) = 0x13' \
	-ex 'echo ==bad-chunk\n' -ex 'pmalloc heap' -ex 'pmalloc block free_block' \
	-ex 'set var *(unsigned long *)(free_block + 60000) = 5' \
	-ex 'set var *(unsigned long *)(live_block - 8) = 0x73' \
	-ex 'echo ==bad-foot\n' -ex 'pmalloc block free_block' \
	-ex 'set var *(unsigned long *)0xe0000000 = 0' \
	-ex 'echo ==bad-magic\n' -ex 'pmalloc heap' -ex 'pmalloc roots' \
	-ex 'echo ==after\n' -ex 'print 6*7' -ex kill \
	'$t/prog'" >"$t/live" 2>&1
sed -n 's/^live \(0x[0-9a-f]*\) cached \(0x[0-9a-f]*\) free \(0x[0-9a-f]*\)$/\1 \2 \3/p' \
	"$t/live" >"$t/addrs"
read -r live cached free <"$t/addrs" || { cat "$t/live"; echo "FAIL: the program did not run"; exit 1; }
hex() { printf '0x%x' "$1"; }
section() { sed -n "/^==$2\$/,/^==/p" "$1"; }

check_look() { # FILE WHAT
	f=$1
	section "$f" heap >"$t/h"
	section "$f" block >"$t/b"
	section "$f" roots >"$t/r"
	grep -q '^pmalloc region at 0xe0000000, 67108864 bytes' "$t/h" ||
		bad "$2: heap header: $(head -n 2 "$t/h")"
	grep -q '^persistent arena \[' "$t/h" || bad "$2: no persistent arena line"
	grep -q '^transient arena \[' "$t/h" || bad "$2: no transient arena line"
	grep -q '^  chunks: [1-9][0-9]* in use .*, [1-9][0-9]* free (' "$t/h" ||
		bad "$2: heap walk: $(grep chunks: "$t/h")"
	grep -q '^  top chunk: ' "$t/h" || bad "$2: no top chunk"
	grep -q "^chunk $(hex $((live - 16))), size 112 (0x70), persistent arena" "$t/b" ||
		bad "$2: live block: $(cat "$t/b")"
	grep -q "block (what malloc returned) $live, 104 usable bytes" "$t/b" ||
		bad "$2: live block's usable size"
	grep -A1 "^chunk $(hex $((cached - 16))), size 48" "$t/b" | grep -q 'state: freed' ||
		bad "$2: cached block not shown freed"
	grep -A1 "^chunk $(hex $((free - 16))), size 600[0-9][0-9] " "$t/b" |
		grep -q 'state: free, in a bin' || bad "$2: free block not shown free"
	grep -q "$(hex $((free + 5))) is at offset 5 of the block $free" "$t/b" ||
		bad "$2: offset in the free block"
	grep -q "$(hex $((live - 3))) is in the chunk header (head)" "$t/b" ||
		bad "$2: header address"
	grep -q 'is not in the pmalloc heap \[0xe0000000, 0xe4000000)' "$t/b" ||
		bad "$2: non-heap address"
	grep -q "^config  *$live  in use, $live is at offset 0 of the block" "$t/r" ||
		bad "$2: root config: $(cat "$t/r")"
	grep -q '^guard  *0x' "$t/r" || bad "$2: root guard"
	grep -q '^2 roots$' "$t/r" || bad "$2: root count"
}
check_look "$t/live" live
grep -q 'found by pm__region; debug info' "$t/live" ||
	bad "live: region not found through pm__region with debug info"
grep -q 'debug info matches the built-in layout' "$t/live" ||
	bad "built-in offsets are stale: $(grep 'pmalloc layout' "$t/live")"
section "$t/live" bad-chunk >"$t/x"
grep -q "CORRUPT: chunk at $(hex $((live - 16))) has head 0x13" "$t/x" ||
	bad "damaged chunk not reported: $(cat "$t/x")"
grep -q "the persistent arena walk stopped before it" "$t/x" ||
	bad "block past a damaged chunk: $(cat "$t/x")"
section "$t/live" bad-foot >"$t/x"
grep -q "CORRUPT: next chunk's prev_foot is 5, not 600" "$t/x" ||
	bad "damaged footer not reported: $(cat "$t/x")"
section "$t/live" bad-magic >"$t/x"
[ "$(grep -c 'pmalloc: pm__region = 0xe0000000 but the magic there is 0x0' "$t/x")" = 2 ] ||
	bad "damaged magic not reported: $(cat "$t/x")"
grep -q '^\$1 = 42$' "$t/live" || bad "gdb did not go on after the damage"
if grep -q 'Traceback\|Python Exception\|internal-error' "$t/live"; then
	bad "python error: $(grep -A3 'Traceback\|Python Exception' "$t/live")"
fi

# ---- the core file --------------------------------------------------------
if [ -s "$t/core" ]; then
	eval "$G -ex 'source $script' $LOOK '$t/prog' '$t/core'" >"$t/corelog" 2>&1
	check_look "$t/corelog" core
	for s in heap block roots; do
		section "$t/live" $s >"$t/l"
		section "$t/corelog" $s >"$t/c"
		cmp -s "$t/l" "$t/c" || { bad "core and live differ in '$s':"; diff "$t/l" "$t/c"; }
	done
	grep -q 'Traceback\|Python Exception' "$t/corelog" && bad "python error on the core"
	echo "core: $(wc -c <"$t/core") bytes, same output as live"
else
	bad "generate-core-file wrote nothing: $(grep -i core "$t/live")"
fi

# ---- auto-loaded for a stripped library, as installed ---------------------
# `make install` puts the script at GDB_AUTOLOAD/<libdir>/libpmalloc.so.1.0.0-gdb.py;
# here GDB_AUTOLOAD is $t/al, the library is loaded through its SONAME link
mkdir "$t/lib"
cp "$B/libpmalloc.so.1.0.0" "$t/lib/"
ln -s libpmalloc.so.1.0.0 "$t/lib/libpmalloc.so.1"
strip --strip-all "$t/lib/libpmalloc.so.1.0.0"
mkdir -p "$t/al$t/lib"
cp "$script" "$t/al$t/lib/libpmalloc.so.1.0.0-gdb.py"
eval "gdb -nx -batch -iex 'set debuginfod enabled off' \
	-iex 'set auto-load scripts-directory $t/al' -iex 'set auto-load safe-path $t/al' \
	-ex 'set environment LD_PRELOAD $t/lib/libpmalloc.so.1' \
	-ex 'set environment PMALLOC_SIZE 64M' -ex 'break gdb_stop_here' -ex run -ex 'info auto-load python-scripts' \
	-ex 'pmalloc layout' $LOOK -ex kill '$t/prog'" >"$t/strip" 2>&1
grep -q "Yes  *$t/al$t/lib/libpmalloc.so.1.0.0-gdb.py" "$t/strip" ||
	bad "the script was not auto-loaded: $(grep -i -A2 auto-load "$t/strip")"
grep -q 'found by magic at 0xe0000000; built-in x86-64 layout' "$t/strip" ||
	bad "stripped: $(grep '^pmalloc' "$t/strip")"
check_look "$t/strip" stripped

if [ $fail -ne 0 ]; then
	echo "---- live"; cat "$t/live"
	exit 1
fi
sed -n '/^==heap/,/^==roots/p' "$t/live"
echo "gdb: live, core, damaged and stripped+auto-loaded all as expected"
