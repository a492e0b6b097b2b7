#!/bin/sh
# attack_uaf.sh - heap misuse that the freed-block checks do not catch
# (tests/prog/uaf_forge.c): a use-after-free link to the inside of a live
# block or to the region header, and the free of a fake chunk.  Expected
# for each: SIGABRT after one "pmalloc: " line, as tests/t_misuse.c asks
# of the cases it has; not malloc handing out the forged address.
set -u
B="$PMALLOC_BUILD"
T="$PMALLOC_TOP"
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
"${CC:-cc}" -std=c11 -O1 -fno-builtin -Wall -Wextra -I"$T/include" \
	-o "$t/prog" "$T/tests/prog/uaf_forge.c" -L"$B" -lpmalloc \
	-Wl,-rpath,"$B" || exit 1
fail=0
for c in interior header spirit; do
	"$B/pmalloc" run -- "$t/prog" $c >"$t/out" 2>"$t/err"
	rc=$?
	if [ $rc -eq 134 ] && grep -q '^pmalloc: ' "$t/err"; then
		echo "ok   $c: $(head -n 1 "$t/err")"
	else
		echo "FAIL $c (exit $rc): $(cat "$t/out" "$t/err")"
		fail=1
	fi
done
exit $fail
