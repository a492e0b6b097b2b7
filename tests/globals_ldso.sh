#!/bin/sh
# globals_ldso.sh - the unit test of the globals family (src/globals.h) started as
# `ld.so prog`: /proc/self/exe is then the loader, not the program, and the
# pm_persistent lookup and the executable's identity must not be fooled.
. "$(dirname "$0")/lib.sh"
b=$B/tests
ldso=/lib64/ld-linux-x86-64.so.2
[ -x "$ldso" ] || { echo "no $ldso"; exit 77; }
for u in u_globals u_globals_file u_globals_nopie; do
	[ -x "$b/$u" ] || { echo "missing $b/$u (make check builds it)"; exit 1; }
	if "$ldso" "$b/$u" >"$b/$u.ldso.log" 2>&1; then
		echo "ok $u: $(tail -n 1 "$b/$u.ldso.log")"
	else
		echo "FAIL $u"; cat "$b/$u.ldso.log"; fail=1
	fi
done
exit $fail
