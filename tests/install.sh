#!/bin/sh
# install.sh - `make install PREFIX=/usr DESTDIR=tmp` puts the shared
# library (with its symlinks), the static library, the header, the CLI, the
# pkg-config file, the man pages and the gdb extension in place; a small program compiled
# against the installed header and library runs.
. "$(dirname "$0")/lib.sh"
command -v make >/dev/null 2>&1 || skip "make not installed"
dest=$t/root

make -s -C "$T" install PREFIX=/usr DESTDIR="$dest" B="$B" \
	>"$t/make.log" 2>&1 || { cat "$t/make.log"; bad "make install"; exit 1; }

lib=$dest/usr/lib
for f in "$lib/libpmalloc.so.1.0.0" "$lib/libpmalloc.a" \
	"$dest/usr/include/pmalloc.h" "$dest/usr/bin/pmalloc" \
	"$lib/pkgconfig/pmalloc.pc" "$dest/usr/share/man/man1/pmalloc.1" \
	"$dest/usr/share/man/man3/pm_checkpoint.3" \
	"$dest/usr/share/man/man3/pm_restore_ex.3" \
	"$dest/usr/share/gdb/auto-load/usr/lib/libpmalloc.so.1.0.0-gdb.py"; do
	[ -f "$f" ] || bad "missing ${f#$dest}"
done
[ -x "$dest/usr/bin/pmalloc" ] || bad "bin/pmalloc is not executable"
[ -L "$lib/libpmalloc.so.1" ] &&
	[ "$(readlink "$lib/libpmalloc.so.1")" = libpmalloc.so.1.0.0 ] ||
	bad "lib/libpmalloc.so.1 is not a symlink to libpmalloc.so.1.0.0"
[ -L "$lib/libpmalloc.so" ] &&
	[ "$(readlink "$lib/libpmalloc.so")" = libpmalloc.so.1 ] ||
	bad "lib/libpmalloc.so is not a symlink to libpmalloc.so.1"
cmp -s "$lib/libpmalloc.so.1.0.0" "$B/libpmalloc.so.1.0.0" ||
	bad "installed library differs from the built one"
cmp -s "$dest/usr/include/pmalloc.h" "$T/include/pmalloc.h" ||
	bad "installed header differs from include/pmalloc.h"
"$dest/usr/bin/pmalloc" --version >"$t/version" 2>&1 ||
	bad "pmalloc --version failed"
grep -q '1\.0\.0' "$t/version" || bad "pmalloc --version: $(cat "$t/version")"
# `pmalloc run` finds the installed library beside itself (../lib)
pre=$(PMALLOC_LIB= "$dest/usr/bin/pmalloc" run -- sh -c 'echo "$LD_PRELOAD"')
case "$pre" in
"$dest/usr/lib/libpmalloc.so"*) ;;
*) bad "installed pmalloc run preloads '$pre'" ;;
esac
# nothing references the build tree or DESTDIR
if grep -q "$dest" "$lib/pkgconfig/pmalloc.pc"; then
	bad "pmalloc.pc mentions DESTDIR"
fi

pc=$lib/pkgconfig/pmalloc.pc
if command -v pkg-config >/dev/null 2>&1; then
	export PKG_CONFIG_PATH="$lib/pkgconfig"
	v=$(pkg-config --modversion pmalloc) || bad "pkg-config --modversion"
	[ "$v" = 1.0.0 ] || bad "pkg-config version '$v'"
	libs=$(pkg-config --libs pmalloc) || bad "pkg-config --libs"
	case " $libs " in *" -lpmalloc "*) ;; *) bad "pkg-config --libs: '$libs'" ;; esac
	pkg-config --cflags pmalloc >/dev/null || bad "pkg-config --cflags"
	[ "$(pkg-config --variable=libdir pmalloc)" = /usr/lib ] ||
		bad "libdir is $(pkg-config --variable=libdir pmalloc)"
	[ "$(pkg-config --variable=includedir pmalloc)" = /usr/include ] ||
		bad "includedir is $(pkg-config --variable=includedir pmalloc)"
	echo "pkg-config: version $v, libs '$libs'"
else
	grep -q '^Libs:.*-lpmalloc' "$pc" || bad "pmalloc.pc has no -lpmalloc"
	grep -q '^Cflags:.*-I' "$pc" || bad "pmalloc.pc has no -I"
	grep -q '^Version: 1\.0\.0' "$pc" || bad "pmalloc.pc version"
	grep -q '^prefix=/usr$' "$pc" || bad "pmalloc.pc prefix"
	echo "pkg-config not installed: pmalloc.pc checked with grep"
fi

# a program against the installed header and library
cat >"$t/prog.c" <<'EOF'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pmalloc.h>
int main(void)
{
	struct pm_heap_info hi;
	char *p = malloc(100), *q = pm_malloc(5000);
	if (!p || !q || pm_heap_info(&hi) != 0)
		return 1;
	strcpy(p, "installed");
	if ((size_t)p - hi.base >= hi.size || (size_t)q - hi.base >= hi.size)
		return 2;
	free(p);
	pm_free(q);
	if (pm_heap_check() != 0)
		return 3;
	printf("pmalloc %s heap at %#zx\n", PMALLOC_VERSION_STRING, hi.base);
	return 0;
}
EOF
if "$CC" -std=c11 -Wall -Wextra -I"$dest/usr/include" -o "$t/prog" \
	"$t/prog.c" -L"$lib" -lpmalloc -Wl,-rpath,"$lib" 2>"$t/cc.log"; then
	if "$t/prog" >"$t/out" 2>&1; then
		cat "$t/out"
	else
		bad "the installed-library program failed: $(cat "$t/out")"
	fi
	if command -v ldd >/dev/null 2>&1; then
		ldd "$t/prog" | grep -q "$lib/libpmalloc.so.1" ||
			bad "prog does not load the installed library: $(ldd "$t/prog")"
	fi
	# and statically against libpmalloc.a
	if "$CC" -std=c11 -I"$dest/usr/include" -o "$t/prog_a" "$t/prog.c" \
		"$lib/libpmalloc.a" 2>>"$t/cc.log"; then
		"$t/prog_a" >/dev/null 2>&1 || bad "the libpmalloc.a program failed"
	else
		cat "$t/cc.log"; bad "cannot link against the installed libpmalloc.a"
	fi
else
	cat "$t/cc.log"; bad "cannot compile against the installed files"
fi
[ $fail -eq 0 ] && echo "install: all files in place"
exit $fail
