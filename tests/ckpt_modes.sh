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
# temp files of killed writers go with the next checkpoint of the same
# target: a temp nobody holds a lock on (a live writer flocks its temp), and
# one of the old shape (.NAME.tmp.PID.N, never locked) whose pid is gone.
# A locked temp stays, so does an old-shape one of a live pid and every
# temp of another target.
R=0123456789abcdef
: >"$t/.real.ckpt.tmp.4194303.0"
: >"$t/.real.ckpt.tmp.$$.3"
: >"$t/.real.ckpt.tmp.$$.$R"
: >"$t/.real.ckpt.tmp.4194303.$R"
: >"$t/.other.ckpt.tmp.4194303.$R"
mkfifo "$t/ready"
(flock 9; echo $? >"$t/ready"; exec sleep 300) \
	9>"$t/.real.ckpt.tmp.$$.fedcba9876543210" &
holder=$!
read locked <"$t/ready"
[ "$locked" = 0 ] || { echo "FAIL: flock(1) could not lock: $locked"; fail=1; }
out=$("$t/to" "$t/real.ckpt") || { echo "FAIL: plain file: $out"; fail=1; }
"$B/pmalloc" verify "$t/real.ckpt" >/dev/null || fail=1
for f in ".real.ckpt.tmp.4194303.0" ".real.ckpt.tmp.$$.$R" \
	".real.ckpt.tmp.4194303.$R"; do
	[ -e "$t/$f" ] && { echo "FAIL: stale temp $f kept"; fail=1; }
done
for f in ".real.ckpt.tmp.$$.3" ".real.ckpt.tmp.$$.fedcba9876543210" \
	".other.ckpt.tmp.4194303.$R"; do
	[ -e "$t/$f" ] || { echo "FAIL: $f removed (live writer or other target)"; fail=1; }
done
kill "$holder"
wait "$holder" 2>/dev/null
# a new file is 0600; a replaced one keeps its mode
m=$(stat -c %a "$t/real.ckpt")
[ "$m" = 600 ] || { echo "FAIL: new file mode $m, expected 600"; fail=1; }
exit $fail
