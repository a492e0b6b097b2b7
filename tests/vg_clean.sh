#!/bin/sh
# vg_clean.sh - a clean program under memcheck with pmalloc as its
# allocator reports nothing: tests/prog/vg_heap.c's clean mode (the whole
# malloc family, usable-size bytes, C strings, threads, a fork, the heap
# check), preloaded and with libpmalloc.a linked in; a C++ program's
# containers; build/tests/t_vg_ops (pm_* names, threads) with its blocks
# described.  Without the synonym option memcheck replaces pmalloc's
# malloc: pmalloc says so, and how to run it.  Skipped (77) without
# valgrind.
. "$(dirname "$0")/lib.sh"
need_valgrind
build_c "$t/vg_heap" "$T/tests/prog/vg_heap.c" -gdwarf-4 -pthread
build_static "$t/vg_heap_static" "$T/tests/prog/vg_heap.c" -gdwarf-4

clean() { # WHAT CMD...: no memcheck output at all, exit 0
	what=$1
	shift
	"$@" >"$t/out" 2>&1
	rc=$?
	cat "$t/out"
	[ $rc -eq 0 ] || bad "$what: exit $rc, want 0"
	if grep -q '^==[0-9]*== ' "$t/out"; then
		bad "$what: memcheck reported something"
	else
		echo "ok: $what: nothing reported"
	fi
}

clean "clean program, preloaded" vg "$t/vg_heap" clean
clean "clean program, libpmalloc.a" env LD_PRELOAD= valgrind \
	--soname-synonyms=somalloc=nouserintercepts --quiet --leak-check=full \
	--errors-for-leak-kinds=definite --error-exitcode=9 \
	"$t/vg_heap_static" clean
expect_has "the blocks are pmalloc's" "region 0xe0000000" "$(cat "$t/out")"

cat >"$t/cxx.cpp" <<'CXX'
#include <map>
#include <memory>
#include <string>
#include <vector>
int main()
{
	std::map<std::string, std::vector<int>> m;
	for (int i = 0; i < 3000; i++)
		m["key number " + std::to_string(i % 700)].push_back(i);
	for (int i = 0; i < 700; i += 3)
		m.erase("key number " + std::to_string(i));
	auto a = std::make_unique<long[]>(1000);
	a[999] = 1;
	return m.size() == 466 && a[999] == 1 ? 0 : 1;
}
CXX
if "$CXX" -O2 -gdwarf-4 -o "$t/cxx" "$t/cxx.cpp" 2>"$t/cxx.err"; then
	clean "C++ containers" vg "$t/cxx"
else
	cat "$t/cxx.err"
	bad "cannot build the C++ program"
fi

[ -x "$B/tests/t_vg_ops" ] || die "no $B/tests/t_vg_ops (make check builds it)"
clean "t_vg_ops, blocks described" vg "$B/tests/t_vg_ops" 3000
expect_has "t_vg_ops finished" "checks, 0 failed" "$(cat "$t/out")"

# memcheck's default replaces every malloc it finds, pmalloc's too
LD_PRELOAD="$B/libpmalloc.so" valgrind --quiet "$t/vg_heap" uaf >"$t/out" 2>&1
expect_has "without the synonym option: pmalloc says how to run it" \
	"--soname-synonyms=somalloc=nouserintercepts" "$(grep '^pmalloc: ' "$t/out")"
finish
