#!/bin/sh
# ckpt_code.sh - code made at run time (anonymous executable mappings: what
# PCRE2's JIT makes) comes back with a restore, at its address and with
# its protection, three times in a row (tests/prog/jit_code.c); a restore
# over a range the process already uses is refused and loses nothing.
set -u
B="$PMALLOC_BUILD"
T="$PMALLOC_TOP"
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
fail=0
"${CC:-cc}" -O2 -I"$T/include" -o "$t/jit" "$T/tests/prog/jit_code.c" \
	-L"$B" -lpmalloc -Wl,-rpath,"$B" || exit 1

addr=$("$B/pmalloc" run -- "$t/jit" setup "$t/j") || { echo "FAIL: setup"; exit 1; }
"$B/pmalloc" info "$t/j" | grep -q " code .* rwx$" ||
	{ echo "FAIL: no rwx code section in the file"; fail=1; }
"$B/pmalloc" info "$t/j" | grep -q " code .* r-x$" ||
	{ echo "FAIL: no r-x code section in the file"; fail=1; }
"$B/pmalloc" run -- "$t/jit" verify "$t/j" || fail=1
"$B/pmalloc" run -- "$t/jit" verify "$t/j.next" || fail=1
"$B/pmalloc" run -- "$t/jit" verify "$t/j.next.next" || fail=1
"$B/pmalloc" verify "$t/j.next.next.next" || fail=1
"$B/pmalloc" run -- "$t/jit" conflict "$t/j" "$addr" || fail=1
exit $fail
