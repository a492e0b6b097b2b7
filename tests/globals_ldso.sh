#!/bin/sh
# globals_ldso.sh - the unit test of the globals family (src/globals.h) started as
# `ld.so prog`: /proc/self/exe is then the loader, not the program, and the
# pm_persistent lookup and the executable's identity must not be fooled.
b=${PMALLOC_BUILD:-build}/tests
ldso=/lib64/ld-linux-x86-64.so.2
[ -x "$ldso" ] || { echo "no $ldso"; exit 77; }
fail=0
for t in u_globals u_globals_file u_globals_nopie; do
	[ -x "$b/$t" ] || { echo "missing $b/$t (make check builds it)"; exit 1; }
	if "$ldso" "$b/$t" >"$b/$t.ldso.log" 2>&1; then
		echo "ok $t: $(tail -n 1 "$b/$t.ldso.log")"
	else
		echo "FAIL $t"; cat "$b/$t.ldso.log"; fail=1
	fi
done
exit $fail
