#!/bin/sh
# C++ globals initialised before main() (a std::map, a std::vector, a long
# std::string), a buffer calloc'd by a C constructor, and an integer that
# looks like a transient address: all come back as checkpointed.
. "$(dirname "$0")/lib.sh"
command -v "$CXX" >/dev/null 2>&1 || skip "no C++ compiler"
build_cxx "$t/prog" "$T/tests/prog/cxx_globals.cpp"
pm_run "$t/prog" make "$t/c.ckpt" >"$t/made" || exit 1
pm_run "$t/prog" check "$t/c.ckpt" >"$t/got" || exit 1
# after restore: one key added, one removed -> same size; sum without k1
# (-1) and without "after" (-7) plus 1 gives the same sum
same_output "restored globals" "$t/made" "$t/got" || exit 1
cat "$t/got"
