#!/bin/sh
# build_sh.sh - the one-step ./build.sh works from a fresh clone: it builds
# with clang and leaves ./libmalloc.so (a real file, compiled by clang,
# ignored by git) that a program can preload.  The clone is of the
# committed tree, in a temporary directory (building in place would disturb
# the working tree).
. "$(dirname "$0")/lib.sh"
command -v clang >/dev/null 2>&1 || skip "clang not installed"
command -v git >/dev/null 2>&1 || skip "git not installed"

git clone -q "$T" "$t/src" || { echo "git clone failed"; exit 1; }
cd "$t/src" || exit 1
[ -f build.sh ] || { echo "no build.sh in the committed tree"; exit 1; }
# make check's CC and make flags must not leak in: build.sh picks clang
if ! (unset CC MAKEFLAGS MFLAGS MAKELEVEL; sh ./build.sh) >"$t/build.log" 2>&1; then
	tail -n 30 "$t/build.log"; echo "FAIL: build.sh"; exit 1
fi
tail -n 2 "$t/build.log"
if grep -i 'warning:' "$t/build.log"; then
	bad "clang warnings in the build"
fi
[ -f libmalloc.so ] && [ ! -L libmalloc.so ] ||
	bad "./libmalloc.so is missing or a symlink"
grep -q "$t/src/libmalloc.so" "$t/build.log" ||
	bad "build.sh does not say where libmalloc.so is"
if command -v readelf >/dev/null 2>&1; then
	readelf -p .comment libmalloc.so 2>/dev/null | grep -q clang ||
		bad "libmalloc.so was not compiled by clang"
	readelf -d libmalloc.so | grep -q 'SONAME.*libpmalloc.so.1' ||
		bad "libmalloc.so has not the SONAME libpmalloc.so.1"
fi
[ -z "$(git status --porcelain)" ] ||
	bad "the build left untracked or changed files: $(git status --porcelain)"
out=$(LD_PRELOAD="$t/src/libmalloc.so" sh -c 'echo preloaded' 2>&1)
case "$out" in
*preloaded*) echo "$out" | head -n 3 ;;
*) bad "a program under LD_PRELOAD=libmalloc.so: $out" ;;
esac
exit $fail
