#!/bin/sh
# C++ globals initialised before main() (a std::map, a std::vector, a long
# std::string), a buffer calloc'd by a C constructor, and an integer that
# looks like a transient address: all come back as checkpointed.
set -u
B="$PMALLOC_BUILD"
T="$PMALLOC_TOP"
command -v "${CXX:-g++}" >/dev/null 2>&1 || { echo "no C++ compiler"; exit 77; }
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
"${CXX:-g++}" -O2 -I"$T/include" -o "$t/prog" "$T/tests/prog/cxx_globals.cpp" \
	-L"$B" -lpmalloc -Wl,-rpath,"$B" || exit 1
"$B/pmalloc" run -- "$t/prog" make "$t/c.ckpt" >"$t/made" || exit 1
"$B/pmalloc" run -- "$t/prog" check "$t/c.ckpt" >"$t/got" || exit 1
# after restore: one key added, one removed -> same size; sum without k1
# (-1) and without "after" (-7) plus 1 gives the same sum
if ! cmp -s "$t/made" "$t/got"; then
	echo "FAIL: restored globals differ"; echo "made:"; cat "$t/made"
	echo "got:"; cat "$t/got"; exit 1
fi
cat "$t/got"
