#!/bin/sh
# Restore by copying (PMALLOC_RESTORE_COPY=1) gives the same state, and no
# mapping of the file stays; a checkpoint refuses to replace a directory,
# a fifo or device, or a symbolic link (rename would not follow it).
. "$(dirname "$0")/lib.sh"
build_cxx "$t/prog" "$T/tests/prog/cxx_globals.cpp"
build_c "$t/to" "$T/tests/prog/ckpt_to.c"

pm_run "$t/prog" make "$t/c.ckpt" >"$t/made" || exit 1
PMALLOC_RESTORE_COPY=1 pm_run "$t/prog" check "$t/c.ckpt" \
	>"$t/got" || fail=1
same_output "copy restore" "$t/made" "$t/got"

mkdir "$t/dir"
out=$("$t/to" "$t/dir")
case "$out" in -21\ *"is a directory"*) ;; *) echo "FAIL: dir: $out"; fail=1 ;; esac
ln -s "$t/real.ckpt" "$t/link.ckpt"
out=$("$t/to" "$t/link.ckpt")
case "$out" in -22\ *"symbolic link"*) ;; *) echo "FAIL: symlink: $out"; fail=1 ;; esac
[ -L "$t/link.ckpt" ] || bad "the link was replaced"
mkfifo "$t/fifo"
out=$("$t/to" "$t/fifo")
case "$out" in -22\ *"fifo"*) ;; *) echo "FAIL: fifo: $out"; fail=1 ;; esac
[ -p "$t/fifo" ] || bad "the fifo was replaced"
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
[ "$locked" = 0 ] || bad "flock(1) could not lock: $locked"
out=$("$t/to" "$t/real.ckpt") || bad "plain file: $out"
pm_verify "$t/real.ckpt" || fail=1
for f in ".real.ckpt.tmp.4194303.0" ".real.ckpt.tmp.$$.$R" \
	".real.ckpt.tmp.4194303.$R"; do
	[ -e "$t/$f" ] && bad "stale temp $f kept"
done
for f in ".real.ckpt.tmp.$$.3" ".real.ckpt.tmp.$$.fedcba9876543210" \
	".other.ckpt.tmp.4194303.$R"; do
	[ -e "$t/$f" ] || bad "$f removed (live writer or other target)"
done
kill "$holder"
wait "$holder" 2>/dev/null
# a new file is 0600; a replaced one keeps its mode
m=$(stat -c %a "$t/real.ckpt")
[ "$m" = 600 ] || bad "new file mode $m, expected 600"
exit $fail
