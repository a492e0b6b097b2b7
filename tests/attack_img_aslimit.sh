#!/bin/sh
# attack_img_aslimit.sh - a resume under an address-space limit
# (`ulimit -v`, RLIMIT_AS) too small for the image: pmalloc's start-up
# reserved a smaller region here (2048 MiB instead of 4096), the image's
# mappings need more address space than the limit allows, and the
# restorer's mmap failed after its point of no return ("pmalloc: resume
# failed at step N: errno 12", exit 127).  The resume now adds up the
# address space the process will have and refuses first; the program
# runs normally.
. "$(dirname "$0")/lib.sh"
norand true 2>/dev/null || skip "setarch -R does not work here"
cd "$t" || die "no $t"
cat >p.c <<'EOC'
#include <stdio.h>
#include <pmalloc.h>
int main(void)
{
	printf("pm_image %d\n", pm_image("s.img"));
	return 0;
}
EOC
build_c "$t/p" p.c
"$B/pmalloc" run -- ./p >make.out 2>make.err || die "imaging run: $(cat make.err)"
expect_eq "imaging run" "pm_image 0" "$(cat make.out)"
cp s.img keep.img
# 3 GB: room for a 2 GiB region and the program, not for the image's 4 GiB
(ulimit -v 3000000 && exec "$B/pmalloc" run --resume s.img -- ./p) >out 2>err
rc=$?
expect_eq "exit status ($(tr '\n' ' ' <err))" 0 "$rc"
expect_has "refused" "pmalloc: not resumed: $t/s.img: the image needs" "$(cat err)"
expect_has "the reason" "of address space; the limit (ulimit -v) is" "$(cat err)"
expect_eq "then a normal run" "pm_image 0" "$(cat out)"
cp keep.img s.img
"$B/pmalloc" run --resume s.img -- ./p >out2 2>err2
expect_eq "without the limit it resumes" "pm_image 1" "$(cat out2)"
finish
