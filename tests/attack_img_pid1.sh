#!/bin/sh
# attack_img_pid1.sh - pm_image as pid 1 (a container's first process):
# the writer looked for the C library's cached thread id as the one word
# of the thread descriptor equal to gettid(), and 1 is in several, so
# pm_image failed ("cannot find the thread id").  It asks the kernel
# where the word is (PR_GET_TID_ADDRESS: glibc registers it with
# set_tid_address).  The image taken as pid 1 resumes as pid 1 and in an
# ordinary process, and its output is an uninterrupted run's.
. "$(dirname "$0")/lib.sh"
need unshare
norand true 2>/dev/null || skip "setarch -R does not work here"
in_ns() { unshare -pf --mount-proc "$@"; }
in_ns sh -c 'test $$ = 1' 2>/dev/null || skip "no pid namespace here (unshare -pf)"
prog=$t/image_prog
build_c "$prog" "$T/tests/prog/image_prog.c" -pthread
mkdir "$t/u" "$t/r"
(cd "$t/u" && pm_run "$prog" a.img b.img >out 2>err) || die "reference run: $(cat "$t/u/err")"
cd "$t/r" || die "no $t/r"
in_ns "$B/pmalloc" run -- "$prog" a.img b.img >p1.out 2>p1.err
expect_eq "pm_image as pid 1: exit" 0 "$?"
expect_eq "pm_image as pid 1" "pm_image(a.img) = 0
pm_image(b.img) = 0" "$(cat p1.err)"
same_output "output as pid 1" "$t/u/out" p1.out
rm -f a.img b.img
STOP=1 in_ns "$B/pmalloc" run -- "$prog" a.img b.img >s.out 2>s.err
[ -f a.img ] || die "no image as pid 1: $(cat s.err)"
cp a.img keep.img
in_ns "$B/pmalloc" run --resume "$t/r/keep.img" -- "$prog" a.img b.img >r1.out 2>r1.err
expect_has "resumed as pid 1" "pm_image(a.img) = 1" "$(cat r1.err)"
"$B/pmalloc" run --resume "$t/r/keep.img" -- "$prog" a.img b.img >r2.out 2>r2.err
expect_has "resumed as another pid" "pm_image(a.img) = 1" "$(cat r2.err)"
finish
