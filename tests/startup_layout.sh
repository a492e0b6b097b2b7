#!/bin/sh
# startup_layout.sh - libpmalloc.so is laid out as src/startup.ld says, so
# that a process that mallocs once touches few of its pages:
#   - the start-up code is in .text.pm_startup (malloc, free, the start-up
#     path, __libc_start_main, _fini);
#   - the state start-up writes (pm_state's first group) shares the page of
#     .data, which the loader writes anyway;
#   - elfan.o's buffer for the executable's tables starts a page, the page
#     where the file's bytes of the writable segment end and .bss starts
#     (the loader writes it anyway to clear the start of .bss);
#   - __start_pm_state/__stop_pm_state bound all of that state.
# The layout only costs or saves page faults (DESIGN.md, "Start-up's
# pages"); this keeps a change to the state of the start-up objects from
# undoing it unnoticed.
. "$(dirname "$0")/lib.sh"
lib=$B/libpmalloc.so
need nm readelf awk
[ -f "$lib" ] || die "no $lib"
nm -S "$lib" >"$t/nm" 2>/dev/null
grep -q ' pm__ensure_init$' "$t/nm" || skip "$lib has no symbol table (stripped)"
readelf -SW "$lib" >"$t/sec"
readelf -lW "$lib" >"$t/seg"

# hex helpers: a symbol's address and size (0 if it has none), a section's
hexval() { printf '%d' "0x$1"; }
sym() { awk -v n="$1" '$NF == n { print $1; exit }' "$t/nm"; }
symsize() { awk -v n="$1" '$NF == n { print (NF == 4 ? $2 : "0"); exit }' "$t/nm"; }
secaddr() { awk -v n="$1" '{ for (i = 1; i < NF; i++) if ($i == n) { print $(i + 2); exit } }' "$t/sec"; }
secsize() { awk -v n="$1" '{ for (i = 1; i < NF; i++) if ($i == n) { print $(i + 4); exit } }' "$t/sec"; }
page() { echo $(($1 / 4096)); }

# code
ts=$(secaddr .text.pm_startup)
[ -n "$ts" ] || die "no section .text.pm_startup (was the library linked with src/startup.ld?)"
tlo=$(hexval "$ts"); thi=$((tlo + $(hexval "$(secsize .text.pm_startup)")))
for f in malloc free __libc_start_main pm__ensure_init pm__arena_init \
	pm__tc_refill pm__globals_startup pm__elf_tables _fini; do
	a=$(sym "$f")
	if [ -z "$a" ]; then bad "no symbol $f"; continue; fi
	a=$(hexval "$a")
	[ "$a" -ge "$tlo" ] && [ "$a" -lt "$thi" ] ||
		bad "$f at $(printf 0x%x "$a"), outside .text.pm_startup [$(printf 0x%x "$tlo"), $(printf 0x%x "$thi"))"
done

# full RELRO: bound at load (-z now), so that no function pointer of the
# library stays writable (lazy binding saved 3 us of a 0.9 ms spawn and
# left .got.plt writable at a fixed address under pmalloc run, abort()'s
# slot among them: DESIGN.md, "Start-up's pages")
readelf -dW "$lib" | grep -q 'FLAGS.*BIND_NOW\|FLAGS_1.*NOW' ||
	bad "libpmalloc.so is not linked with -z now (its GOT would stay writable)"

# the first group of pm_state, on the page of .data
dpage=$(page "$(hexval "$(secaddr .data)")")
for v in __start_pm_state pm__region pm__transient pm__free_key pm__pbase \
	pm__phase pm__transient_code G pm__stats_at_exit pm__tc_none \
	pm__tc_cap real_main aux_next membarrier_ok pm__vg_running; do
	a=$(sym "$v")
	if [ -z "$a" ]; then bad "no symbol $v"; continue; fi
	a=$(hexval "$a"); n=$(hexval "$(symsize "$v")")
	[ "$n" -gt 0 ] || n=1
	expect_eq "page of $v's first byte (that of .data)" "$dpage" "$(page "$a")"
	expect_eq "page of $v's last byte (that of .data)" "$dpage" "$(page $((a + n - 1)))"
done

# the executable's tables, on the page where the file's bytes end
e=$(hexval "$(sym exe_tables)")
en=$(hexval "$(symsize exe_tables)")
expect_eq "exe_tables' offset in its page" 0 $((e % 4096))
rw=$(awk '$1 == "LOAD" && $7 ~ /W/ { print $3, $5; exit }' "$t/seg")
[ -n "$rw" ] || die "no writable PT_LOAD"
set -- $rw
fend=$(($(printf '%d' "$1") + $(printf '%d' "$2")))
expect_eq "page where the file's bytes end (that of exe_tables)" "$(page "$e")" "$(page $((fend - 1)))"
expect_eq "page where .bss starts (that of exe_tables)" "$(page "$e")" \
	"$(page "$(hexval "$(secaddr .bss)")")"
stop=$(hexval "$(sym __stop_pm_state)")
[ "$stop" -ge $((e + en)) ] ||
	bad "__stop_pm_state $(printf 0x%x "$stop") below exe_tables' end $(printf 0x%x $((e + en)))"
finish
