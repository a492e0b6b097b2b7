#!/bin/sh
# globals_lib.sh - a shared library's PM_PERSISTENT section reaches the span
# list through PM_REGISTER_LIBRARY_PERSISTENT (its constructor calls
# pm_register), with gcc and, when installed, clang + lld --gc-sections.
. "$(dirname "$0")/lib.sh"
out=$B/tests/globals_lib
mkdir -p "$out" || exit 1
cd "$T" || exit 1
flags="-std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -Iinclude"
srcs="src/elfan.c src/spans.c src/register.c src/objects.c src/util.c src/os.c"
run() { # name cc extra-ldflags
	n=$1 cc=$2 ld=$3
	$cc $flags -fPIC -shared $ld -o "$out/libpers_$n.so" \
		tests/u_globals_libso.c || { echo "build $n: lib"; fail=1; return; }
	$cc $flags -rdynamic $ld -o "$out/prog_$n" tests/u_globals_lib.c $srcs \
		-L"$out" -lpers_"$n" -Wl,-rpath,"$(cd "$out" && pwd)" ||
		{ echo "build $n: prog"; fail=1; return; }
	if "$out/prog_$n"; then echo "ok $n"; else echo "FAIL $n"; fail=1; fi
}
run gcc "$CC" ""
if command -v clang >/dev/null 2>&1 && command -v ld.lld >/dev/null 2>&1; then
	run clang_lld clang "-fuse-ld=lld -ffunction-sections -fdata-sections -Wl,--gc-sections"
else
	echo "clang/lld not installed: gcc only"
fi
exit $fail
