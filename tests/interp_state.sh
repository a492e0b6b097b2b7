#!/bin/sh
# An embedded interpreter's loaded image survives checkpoint and restore
# in fresh processes, three runs in a row (Lua: all state on the heap;
# Tcl: also pthread keys, re-created by the restore).  Skips an
# interpreter whose -dev package is missing.
. "$(dirname "$0")/lib.sh"
command -v pkg-config >/dev/null 2>&1 || { echo "no pkg-config"; exit 77; }
fail=0 ran=0
for lang in lua tcl; do
	pc=$lang; [ $lang = lua ] && pc=lua5.4
	flags=$(pkg-config --cflags --libs $pc 2>/dev/null) || {
		echo "skip $lang: $pc not installed"; continue; }
	# shellcheck disable=SC2086
	"$CC" -O2 -I"$T/include" -o "$t/$lang" "$T/tests/prog/interp_$lang.c" \
		-L"$B" -lpmalloc -Wl,-rpath,"$B" $flags || { fail=1; continue; }
	ran=$((ran + 1))
	for run in 1 2 3; do
		pm_run "$t/$lang" "$t/$lang.ckpt" >"$t/out.$run" ||
			bad "$lang run $run"
	done
	# the counter goes 1, 2, 3: runs 2 and 3 continued the restored image
	for run in 1 2 3; do
		grep -q "[[:space:]]$run[[:space:]]" "$t/out.$run" || {
			echo "FAIL: $lang run $run: $(cat "$t/out.$run")"; fail=1; }
	done
	echo "$lang: $(cat "$t/out.1" "$t/out.2" "$t/out.3" | tr '\n' '|')"
done
[ $ran -gt 0 ] || exit 77
exit $fail
