#!/bin/sh
# build.sh - the one-step build: compiles pmalloc with clang (in build/clang/)
# and leaves the library as ./libmalloc.so beside this script, ready for
#   LD_PRELOAD=/path/to/libmalloc.so program
# (the same library as libpmalloc.so; `make` and `make check` are the full
# build and test suite).
set -e
cd "$(dirname "$0")"
if ! command -v clang >/dev/null 2>&1; then
	echo "build.sh: clang is not installed (or run: make CC=gcc)" >&2
	exit 1
fi
jobs=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)
make -j"$jobs" CC=clang B=build/clang all
# a real file, not a symlink into build/
rm -f libmalloc.so
cp build/clang/libmalloc.so libmalloc.so
echo "built $(pwd)/libmalloc.so with clang"
echo "use: LD_PRELOAD=$(pwd)/libmalloc.so PROGRAM"
