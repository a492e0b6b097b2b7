#!/bin/sh
# deb.sh - the Debian packages: dpkg-buildpackage -us -uc -b on a copy of
# the tree makes libpmalloc1 (with a symbols file and the gdb extension),
# libpmalloc-dev and pmalloc; lintian finds no error; the packages are
# extracted (dpkg -x, nothing is installed on this machine) into a scratch
# root, where examples/wordindex compiles with `pkg-config --cflags --libs
# pmalloc`, runs under the packaged `pmalloc run` (build + checkpoint, then
# restore), and a program runs with LD_PRELOAD=libpmalloc.so.1.
. "$(dirname "$0")/lib.sh"
for c in dpkg-buildpackage dpkg-architecture dh pkg-config; do
	command -v $c >/dev/null 2>&1 ||
		{ echo "$c not installed (apt-get install dpkg-dev debhelper pkg-config)"; exit 77; }
done
ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH)

mkdir "$t/src"
(cd "$T" && tar --exclude=./.git --exclude='./build' --exclude='./build-*' \
	--exclude="./$(basename "$B")" -cf - .) | tar -C "$t/src" -xf - ||
	{ echo "cannot copy the tree"; exit 1; }
(cd "$t/src" && dpkg-checkbuilddeps) >"$t/deps" 2>&1 ||
	{ cat "$t/deps"; echo "build dependencies missing: $(tail -n 1 "$t/deps")"; exit 77; }
(cd "$t/src" && DEB_BUILD_OPTIONS=parallel=2 dpkg-buildpackage -us -uc -b) \
	>"$t/build.log" 2>&1 || { tail -n 40 "$t/build.log"; bad "dpkg-buildpackage"; exit 1; }
# every export must be in the symbols file (a new function: add its line)
if grep -q 'dpkg-gensymbols: warning' "$t/build.log"; then
	sed -n '/dpkg-gensymbols: warning/,/^ *dh_/p' "$t/build.log" | grep -v '^ *dh_'
	bad "debian/libpmalloc1.symbols differs from the library's exports (+ lines: add them)"
fi

for p in libpmalloc1 libpmalloc-dev pmalloc; do
	deb=$t/${p}_1.0.0_amd64.deb
	[ -f "$deb" ] || { bad "no $p package"; continue; }
	dpkg-deb -c "$deb" | sed 's/.* \.\//\//; s/ -> .*//' >"$t/$p.list"
	dpkg -x "$deb" "$t/root" || bad "dpkg -x $p"
done
has() { grep -qx "$2" "$t/$1.list" || bad "$1 lacks $2"; }
has libpmalloc1 "/usr/lib/$ma/libpmalloc.so.1.0.0"
has libpmalloc1 "/usr/lib/$ma/libpmalloc.so.1"
has libpmalloc1 "/usr/share/gdb/auto-load/usr/lib/$ma/libpmalloc.so.1.0.0-gdb.py"
has libpmalloc-dev /usr/include/pmalloc.h
has libpmalloc-dev "/usr/lib/$ma/libpmalloc.a"
has libpmalloc-dev "/usr/lib/$ma/libpmalloc.so"
has libpmalloc-dev "/usr/lib/$ma/pkgconfig/pmalloc.pc"
has libpmalloc-dev /usr/share/man/man3/pm_restore.3.gz
has libpmalloc-dev /usr/share/man/man3/pm_restore_ex.3.gz
has pmalloc /usr/bin/pmalloc
has pmalloc /usr/share/man/man1/pmalloc.1.gz
dpkg-deb --info "$t/libpmalloc1_1.0.0_amd64.deb" symbols >"$t/symbols" 2>&1 ||
	bad "libpmalloc1 has no symbols file"
for s in pm_checkpoint pm_restore malloc free; do
	grep -q "^ $s@Base 1.0.0" "$t/symbols" || bad "symbols file lacks $s"
done
dpkg-deb -f "$t/pmalloc_1.0.0_amd64.deb" Depends | grep -q 'libpmalloc1 (= 1.0.0)' ||
	bad "pmalloc does not depend on libpmalloc1"

if command -v lintian >/dev/null 2>&1; then
	lintian --fail-on error "$t/pmalloc_1.0.0_amd64.changes" >"$t/lintian" 2>&1 ||
		{ cat "$t/lintian"; bad "lintian reports errors"; }
	grep -v '^running with root' "$t/lintian"
	echo "lintian: $(grep -c '^E:' "$t/lintian") errors, $(grep -c '^W:' "$t/lintian") warnings"
else
	echo "lintian not installed: not run"
fi

# ---- use the packaged files from the scratch root ----------------------------
root=$t/root
lib=$root/usr/lib/$ma
export PKG_CONFIG_PATH="$lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$root"
flags=$(pkg-config --cflags --libs pmalloc) || bad "pkg-config --cflags --libs pmalloc"
echo "pkg-config: $flags"
"$CC" -std=c11 -D_GNU_SOURCE -O2 -o "$t/wordindex" "$T/examples/wordindex.c" $flags \
	2>"$t/cc.log" || { cat "$t/cc.log"; bad "cannot build the example"; }
export LD_LIBRARY_PATH="$lib"
if [ -x "$t/wordindex" ]; then
	ldd "$t/wordindex" | grep -q "$lib/libpmalloc.so.1" ||
		bad "the example does not load the packaged library: $(ldd "$t/wordindex")"
	for run in build restore; do
		PMALLOC_LIB= "$root/usr/bin/pmalloc" run -- "$t/wordindex" -n 50000 \
			-c "$t/wi.ckpt" be zzz >"$t/$run.out" 2>"$t/$run.err" ||
			{ cat "$t/$run.err"; bad "example run '$run'"; }
	done
	grep -q 'built in' "$t/build.err" || bad "first run: $(cat "$t/build.err")"
	grep -q 'restored from' "$t/restore.err" || bad "second run: $(cat "$t/restore.err")"
	cmp -s "$t/build.out" "$t/restore.out" || bad "the restored run answered differently"
	"$root/usr/bin/pmalloc" verify "$t/wi.ckpt" >/dev/null 2>&1 || bad "pmalloc verify"
fi
# any program, the library preloaded by its SONAME
out=$(LD_PRELOAD=libpmalloc.so.1 PMALLOC_SIZE=256M sh -c 'cat /proc/$$/maps; grep -c . /proc/self/maps' 2>&1)
echo "$out" | grep -q "^e0000000-" || bad "LD_PRELOAD=libpmalloc.so.1: no region in the shell's maps"
echo "$out" | grep -q "$lib/libpmalloc.so.1.0.0" || bad "LD_PRELOAD=libpmalloc.so.1 did not load the packaged library"
out=$(LD_PRELOAD=libpmalloc.so.1 PMALLOC_STATS=1 sort -r /etc/passwd 2>&1 >/dev/null)
[ $? -eq 0 ] || bad "sort under LD_PRELOAD=libpmalloc.so.1"
command -v man >/dev/null 2>&1 &&
	{ man -l "$root/usr/share/man/man3/pm_restore.3.gz" 2>&1 | grep -q 'pm_restore_ex' ||
		bad "man -l pm_restore.3.gz"; }

[ $fail -eq 0 ] && echo "deb: 3 packages built, lint-clean, usable from a scratch root"
exit $fail
