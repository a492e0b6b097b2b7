#!/bin/sh
# deb.sh - the Debian packages: dpkg-buildpackage -us -uc -b on a copy of
# the tree makes libpmalloc1 (with a symbols file and the gdb extension),
# libpmalloc-dev and pmalloc; lintian finds no error; the packages are
# extracted (dpkg -x, nothing is installed on this machine) into a scratch
# root, where examples/wordindex compiles with `pkg-config --cflags --libs
# pmalloc`, runs under the packaged `pmalloc run` (build + checkpoint, then
# restore), and a program runs with LD_PRELOAD=libpmalloc.so.1.
build=${PMALLOC_BUILD:-build}
top=${PMALLOC_TOP:-.}
top=$(cd "$top" && pwd) || exit 1
for t in dpkg-buildpackage dpkg-architecture dh pkg-config; do
	command -v $t >/dev/null 2>&1 ||
		{ echo "$t not installed (apt-get install dpkg-dev debhelper pkg-config)"; exit 77; }
done
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }
ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH)

mkdir "$tmp/src"
(cd "$top" && tar --exclude=./.git --exclude='./build' --exclude='./build-*' \
	--exclude="./$(basename "$build")" -cf - .) | tar -C "$tmp/src" -xf - ||
	{ echo "cannot copy the tree"; exit 1; }
(cd "$tmp/src" && dpkg-checkbuilddeps) >"$tmp/deps" 2>&1 ||
	{ cat "$tmp/deps"; echo "build dependencies missing: $(tail -n 1 "$tmp/deps")"; exit 77; }
(cd "$tmp/src" && DEB_BUILD_OPTIONS=parallel=2 dpkg-buildpackage -us -uc -b) \
	>"$tmp/build.log" 2>&1 || { tail -n 40 "$tmp/build.log"; bad "dpkg-buildpackage"; exit 1; }
# every export must be in the symbols file (a new function: add its line)
if grep -q 'dpkg-gensymbols: warning' "$tmp/build.log"; then
	sed -n '/dpkg-gensymbols: warning/,/^ *dh_/p' "$tmp/build.log" | grep -v '^ *dh_'
	bad "debian/libpmalloc1.symbols differs from the library's exports (+ lines: add them)"
fi

for p in libpmalloc1 libpmalloc-dev pmalloc; do
	deb=$tmp/${p}_1.0.0_amd64.deb
	[ -f "$deb" ] || { bad "no $p package"; continue; }
	dpkg-deb -c "$deb" | sed 's/.* \.\//\//; s/ -> .*//' >"$tmp/$p.list"
	dpkg -x "$deb" "$tmp/root" || bad "dpkg -x $p"
done
has() { grep -qx "$2" "$tmp/$1.list" || bad "$1 lacks $2"; }
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
dpkg-deb --info "$tmp/libpmalloc1_1.0.0_amd64.deb" symbols >"$tmp/symbols" 2>&1 ||
	bad "libpmalloc1 has no symbols file"
for s in pm_checkpoint pm_restore malloc free; do
	grep -q "^ $s@Base 1.0.0" "$tmp/symbols" || bad "symbols file lacks $s"
done
dpkg-deb -f "$tmp/pmalloc_1.0.0_amd64.deb" Depends | grep -q 'libpmalloc1 (= 1.0.0)' ||
	bad "pmalloc does not depend on libpmalloc1"

if command -v lintian >/dev/null 2>&1; then
	lintian --fail-on error "$tmp/pmalloc_1.0.0_amd64.changes" >"$tmp/lintian" 2>&1 ||
		{ cat "$tmp/lintian"; bad "lintian reports errors"; }
	grep -v '^running with root' "$tmp/lintian"
	echo "lintian: $(grep -c '^E:' "$tmp/lintian") errors, $(grep -c '^W:' "$tmp/lintian") warnings"
else
	echo "lintian not installed: not run"
fi

# ---- use the packaged files from the scratch root ----------------------------
root=$tmp/root
lib=$root/usr/lib/$ma
export PKG_CONFIG_PATH="$lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$root"
flags=$(pkg-config --cflags --libs pmalloc) || bad "pkg-config --cflags --libs pmalloc"
echo "pkg-config: $flags"
cc=${CC:-cc}
$cc -std=c11 -D_GNU_SOURCE -O2 -o "$tmp/wordindex" "$top/examples/wordindex.c" $flags \
	2>"$tmp/cc.log" || { cat "$tmp/cc.log"; bad "cannot build the example"; }
export LD_LIBRARY_PATH="$lib"
if [ -x "$tmp/wordindex" ]; then
	ldd "$tmp/wordindex" | grep -q "$lib/libpmalloc.so.1" ||
		bad "the example does not load the packaged library: $(ldd "$tmp/wordindex")"
	for run in build restore; do
		PMALLOC_LIB= "$root/usr/bin/pmalloc" run -- "$tmp/wordindex" -n 50000 \
			-c "$tmp/wi.ckpt" be zzz >"$tmp/$run.out" 2>"$tmp/$run.err" ||
			{ cat "$tmp/$run.err"; bad "example run '$run'"; }
	done
	grep -q 'built in' "$tmp/build.err" || bad "first run: $(cat "$tmp/build.err")"
	grep -q 'restored from' "$tmp/restore.err" || bad "second run: $(cat "$tmp/restore.err")"
	cmp -s "$tmp/build.out" "$tmp/restore.out" || bad "the restored run answered differently"
	"$root/usr/bin/pmalloc" verify "$tmp/wi.ckpt" >/dev/null 2>&1 || bad "pmalloc verify"
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
