#!/bin/sh
# vg_bugs.sh - memcheck sees pmalloc's heap: tests/prog/vg_heap.c plants a
# use-after-free, a read past a block and a leak; run under the command
# line of README.md ("Debugging with valgrind": libpmalloc.so preloaded,
# --soname-synonyms=somalloc=nouserintercepts), memcheck must report each
# at the planted address, inside pmalloc's region, with the block's size.
# The same with libpmalloc.a linked in (no preload).  Skipped (77)
# without valgrind.
. "$(dirname "$0")/lib.sh"
need_valgrind
build_c "$t/vg_heap" "$T/tests/prog/vg_heap.c" -gdwarf-4 -pthread
build_static "$t/vg_heap_static" "$T/tests/prog/vg_heap.c" -gdwarf-4

# hex ADDR + N, lower case, 0x-prefixed
addr_plus() { printf '0x%x' $(($1 + $2)); }

# in_region WHAT ADDR LOG: ADDR lies in the region the program printed
in_region() {
	lo=$(sed -n 's/^region \(0x[0-9a-f]*\) .*/\1/p' "$3")
	hi=$(sed -n 's/^region 0x[0-9a-f]* \(0x[0-9a-f]*\)$/\1/p' "$3")
	[ -n "$lo" ] && [ -n "$hi" ] || { bad "$1: no region line"; return; }
	if [ $(($2)) -ge $((lo)) ] && [ $(($2)) -lt $((hi)) ]; then
		echo "ok: $1: $2 is in the region [$lo, $hi)"
	else
		bad "$1: $2 is outside the region [$lo, $hi)"
	fi
}

# bug WHAT PROG MODE: run it, want exit 9 (a memcheck error); prints the
# block address ($blk) and keeps the log in $t/MODE.log
bug() {
	log=$t/$1.log
	shift
	"$@" >"$log" 2>&1
	rc=$?
	cat "$log"
	[ $rc -eq 9 ] || bad "$*: exit $rc, want 9 (memcheck found errors)"
	blk=$(sed -n 's/^block \(0x[0-9a-f]*\)$/\1/p' "$log")
	[ -n "$blk" ] || bad "$*: printed no block address"
	blk=${blk:-0}
}

for how in preload static; do
	if [ $how = preload ]; then
		run() { vg "$t/vg_heap" "$@"; }
	else
		run() { LD_PRELOAD= valgrind --soname-synonyms=somalloc=nouserintercepts \
			--quiet --leak-check=full --errors-for-leak-kinds=definite \
			--error-exitcode=9 "$t/vg_heap_static" "$@"; }
	fi
	echo "--- $how"

	bug uaf.$how run uaf
	a=$(addr_plus "$blk" 3)
	expect_has "$how: use after free reported" "Invalid read of size 1" "$(cat "$log")"
	expect_has "$how: at the freed block's byte" \
		"Address $a is 3 bytes inside a block of size 24 free'd" "$(cat "$log")"
	in_region "$how: use after free" "$a" "$log"

	bug over.$how run over
	a=$(addr_plus "$blk" 24)
	expect_has "$how: read past the block reported" \
		"Address $a is 0 bytes after a block of size 24 alloc'd" "$(cat "$log")"
	in_region "$how: read past the block" "$a" "$log"

	bug leak.$how run leak
	expect_has "$how: leak reported" "40 bytes in 1 blocks are definitely lost" \
		"$(cat "$log")"
	# memcheck's own list of the lost blocks: 0xADDR[40], upper case
	lost=$(sed -n 's/^==[0-9]*== \(0x[0-9A-F]*\)\[40\]$/\1/p' "$log" | head -n 1)
	if [ -n "$lost" ]; then
		expect_eq "$how: the lost block is the planted one" \
			"$blk" "0x$(echo "${lost#0x}" | tr 'A-F' 'a-f')"
		in_region "$how: leaked block" "$lost" "$log"
	else
		bad "$how: memcheck listed no lost block (block_list)"
	fi
done
finish
