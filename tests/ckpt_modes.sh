#!/bin/sh
# Restore by copying (PMALLOC_RESTORE_COPY=1) gives the same state, and no
# mapping of the file stays; a checkpoint refuses to replace a directory,
# a fifo or device, or a symbolic link (rename would not follow it).
set -u
B="$PMALLOC_BUILD"
T="$PMALLOC_TOP"
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
fail=0
"${CXX:-g++}" -O2 -I"$T/include" -o "$t/prog" "$T/tests/prog/cxx_globals.cpp" \
	-L"$B" -lpmalloc -Wl,-rpath,"$B" || exit 1
"${CC:-cc}" -O2 -I"$T/include" -o "$t/to" "$T/tests/prog/ckpt_to.c" \
	-L"$B" -lpmalloc -Wl,-rpath,"$B" || exit 1

"$B/pmalloc" run -- "$t/prog" make "$t/c.ckpt" >"$t/made" || exit 1
PMALLOC_RESTORE_COPY=1 "$B/pmalloc" run -- "$t/prog" check "$t/c.ckpt" \
	>"$t/got" || fail=1
cmp -s "$t/made" "$t/got" || { echo "FAIL: copy restore differs"; fail=1; }

mkdir "$t/dir"
out=$("$t/to" "$t/dir")
case "$out" in -21\ *"is a directory"*) ;; *) echo "FAIL: dir: $out"; fail=1 ;; esac
ln -s "$t/real.ckpt" "$t/link.ckpt"
out=$("$t/to" "$t/link.ckpt")
case "$out" in -22\ *"symbolic link"*) ;; *) echo "FAIL: symlink: $out"; fail=1 ;; esac
[ -L "$t/link.ckpt" ] || { echo "FAIL: the link was replaced"; fail=1; }
mkfifo "$t/fifo"
out=$("$t/to" "$t/fifo")
case "$out" in -22\ *"fifo"*) ;; *) echo "FAIL: fifo: $out"; fail=1 ;; esac
[ -p "$t/fifo" ] || { echo "FAIL: the fifo was replaced"; fail=1; }
# temp files of killed writers go with the next good checkpoint; one of a
# live process stays
: >"$t/.real.ckpt.tmp.4194303.0"
: >"$t/.real.ckpt.tmp.$$.3"
: >"$t/.other.ckpt.tmp.4194303.0"
out=$("$t/to" "$t/real.ckpt") || { echo "FAIL: plain file: $out"; fail=1; }
"$B/pmalloc" verify "$t/real.ckpt" >/dev/null || fail=1
[ -e "$t/.real.ckpt.tmp.4194303.0" ] && { echo "FAIL: stale temp kept"; fail=1; }
[ -e "$t/.real.ckpt.tmp.$$.3" ] || { echo "FAIL: a live writer's temp removed"; fail=1; }
[ -e "$t/.other.ckpt.tmp.4194303.0" ] || { echo "FAIL: another target's temp removed"; fail=1; }
exit $fail
