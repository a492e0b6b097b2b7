#!/bin/sh
# attack_uaf.sh - forged free lists (tests/prog/uaf_forge.c): a
# use-after-free link to the inside of a live block, or to the region
# header, whose next word the program wrote to look like a cached block.
# The mark of a cached block is random for each process, so the forgery
# fails: SIGABRT after one "pmalloc: " line, as tests/t_misuse.c asks of
# the cases it has; never malloc handing out the forged address.  (The
# free of a fake chunk forged inside a live block, "spirit", is not caught:
# a boundary-tag heap cannot tell a forged header from a real one without
# metadata outside the blocks; glibc's tcache has the same limit.  See
# docs/DESIGN.md, Limits.)
. "$(dirname "$0")/lib.sh"
"$CC" -std=c11 -O1 -fno-builtin -Wall -Wextra -I"$T/include" \
	-o "$t/prog" "$T/tests/prog/uaf_forge.c" -L"$B" -lpmalloc \
	-Wl,-rpath,"$B" || exit 1
for c in interior header; do
	pm_run "$t/prog" $c >"$t/out" 2>"$t/err"
	rc=$?
	if [ $rc -eq 134 ] && grep -q '^pmalloc: ' "$t/err"; then
		echo "ok   $c: $(head -n 1 "$t/err")"
	else
		echo "FAIL $c (exit $rc): $(cat "$t/out" "$t/err")"
		fail=1
	fi
done
exit $fail
