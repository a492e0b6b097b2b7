#!/bin/sh
# ckpt_cxx_lib.sh - a C++ library's state made by its static initialisers
# (before main(), with `new`) comes back with a restore, three cycles in a
# row (tests/prog/cxx_lib.cpp, cxx_libmain.cpp); operator new, which
# pmalloc defines, keeps the standard's failure behaviour and gives way
# to a program's own (tests/prog/cxx_own_new.cpp).
. "$(dirname "$0")/lib.sh"
"$CXX" -O2 -shared -fPIC -o "$t/libcxxstate.so" "$T/tests/prog/cxx_lib.cpp" || exit 1
"$CXX" -O2 -I"$T/include" -o "$t/main" "$T/tests/prog/cxx_libmain.cpp" \
	-L"$t" -lcxxstate -Wl,-rpath,"$t" -L"$B" -lpmalloc -Wl,-rpath,"$B" || exit 1
zdtm "$t/main" "$t/c" 3
pm_run "$t/main" oom || fail=1
# a program with its own operator new/delete: preloaded, and linked with
# the static library (whose definitions must give way to the program's)
"$CXX" -O2 -o "$t/own" "$T/tests/prog/cxx_own_new.cpp" || exit 1
LD_PRELOAD="$B/libpmalloc.so" "$t/own" || fail=1
"$CXX" -O2 -o "$t/own_static" "$T/tests/prog/cxx_own_new.cpp" \
	"$B/libpmalloc.a" -pthread -ldl || bad "static link"
[ -x "$t/own_static" ] && { "$t/own_static" || fail=1; }
exit $fail
