#!/bin/sh
# lib_state.sh - programs whose state lives inside real third-party
# libraries (tests/lib_sqlite.c, lib_glib.c, lib_gobject.c, lib_xml.c)
# checkpoint, are restored in fresh processes (`pmalloc run --restore`)
# and find their state intact: setup -> checkpoint, restore -> check, extend ->
# checkpoint, restore -> check, extend -> checkpoint.  Each runs with
# pm_register_object on the library ("obj"), without it ("none": the
# library's data is registered by default), and for sqlite also with the
# default off ("off", PMALLOC_PERSIST_LIBS=0).
#
# What must hold (found by experiment, see docs/DESIGN.md):
#   sqlite  obj and none must pass; off is run and its outcome reported
#           only (the library's globals - configuration, mutex methods,
#           page cache - are then not in the checkpoint, and the restored
#           database crashes)
#   glib    obj and none must pass (hash table, keys, GString, quarks:
#           the quark table and GSlice's slabs are made before main())
#   gobject obj and none must pass (a class, instances, signals, GError,
#           GVariant: GObject's type table is made before main())
#   xml     obj and none must pass
# Programs whose -dev package is missing were not built: skipped; exit 77
# if none was.
. "$(dirname "$0")/lib.sh"
pm=$B/pmalloc
[ -x "$pm" ] || { echo "no $pm"; exit 1; }
fail=0 ran=0

# cycle LIB MODE: 0 if every phase passed, else the phase's exit code
cycle() {
	prog=$B/tests/lib_$1 f=$t/$1.$2
	pm_run "$prog" setup "$f" "$2" || return $?
	pm_restore "$f" "$prog" verify "$f" 0 "$2" || return $?
	pm_restore "$f.next" "$prog" verify "$f.next" 1 "$2" || return $?
	"$pm" info "$f.next.next" >/dev/null || return $?
	return 0
}

for lib in sqlite glib gobject xml; do
	if [ ! -x "$B/tests/lib_$lib" ]; then
		echo "skip $lib: not built (its -dev package is not installed)"
		continue
	fi
	ran=$((ran + 1))
	modes="obj none"
	[ $lib = sqlite ] && modes="obj none off"
	for mode in $modes; do
		if [ $mode = off ]; then
			PMALLOC_PERSIST_LIBS=0 cycle $lib none >"$t/out" 2>&1
		else
			cycle $lib $mode >"$t/out" 2>&1
		fi
		rc=$?
		sed "s/^/  $lib $mode: /" "$t/out"
		if [ $rc -eq 0 ]; then
			echo "ok $lib $mode"
		elif [ $mode = off ]; then
			echo "ok $lib $mode: fails without its globals" \
				"(exit $rc), as expected"
		else
			echo "FAIL $lib $mode (exit $rc)"
			fail=1
		fi
	done
done
[ $ran -gt 0 ] || { echo "no library test built (libsqlite3-dev," \
	"libglib2.0-dev, libxml2-dev missing)"; exit 77; }
exit $fail
