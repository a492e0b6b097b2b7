#!/bin/sh
# globals_clang.sh - tests/u_globals.c (the globals family analysing the test
# program itself) built with clang: PIE, non-PIE, and lld with
# --gc-sections (where the pm_persistent section is most at risk).
# Skipped when clang is not installed.
. "$(dirname "$0")/lib.sh"
command -v clang >/dev/null 2>&1 || skip "clang not installed"
out=$B/tests/globals_clang
mkdir -p "$out" || exit 1
cd "$T" || exit 1
flags="-std=c11 -D_GNU_SOURCE -g -O2 -Wall -Wextra -Werror -Iinclude"
srcs="tests/u_globals.c src/elfan.c src/spans.c src/register.c src/objects.c src/util.c src/os.c"
run() { # name extra-flags
	n=$1; shift
	clang $flags "$@" -o "$out/u_globals_$n" $srcs ||
		{ echo "FAIL $n: build"; fail=1; return; }
	if "$out/u_globals_$n" >"$out/$n.log" 2>&1; then
		echo "ok $n: $(tail -n 1 "$out/$n.log")"
	else
		echo "FAIL $n"; cat "$out/$n.log"; fail=1
	fi
}
run pie -fPIE -pie
run nopie -fno-pie -no-pie
run relr -Wl,-z,pack-relative-relocs
if command -v ld.lld >/dev/null 2>&1; then
	run lld -fuse-ld=lld -ffunction-sections -fdata-sections -Wl,--gc-sections
	# lld 14 packs RELR without the GLIBC_ABI_DT_RELR version glibc demands
	run lld_file -fuse-ld=lld -DPM_GLOBALS_TEST_FILE_LOOKUP
fi
exit $fail
