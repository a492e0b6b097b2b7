#!/bin/sh
# attack_img_rellib.sh - a library found through a relative LD_PRELOAD
# entry ("./shim.so") in a program that changes directory before its
# image: the imaging process cannot stat the name, and records size and
# mtime 0.  Resumes compare objects by build-id, size and mtime (an
# executable patched in place keeps its build-id); this one was refused
# as "another build" although the build-ids agree.  Its build-id now
# stands for it (found by a review helper).
. "$(dirname "$0")/lib.sh"
norand true 2>/dev/null || skip "setarch -R does not work here"
cd "$t" || die "no $t"
echo 'int shim_dummy(void) { return 1; }' > shim.c
"$CC" -shared -fPIC -Wl,--build-id -o shim.so shim.c || die "no shim"
cat >p.c <<'EOC'
#include <stdio.h>
#include <unistd.h>
#include <pmalloc.h>
int main(int argc, char **argv)
{
	char img[4096];
	snprintf(img, sizeof img, "%s/s.img", argv[1]);
	if (chdir("/"))
		return 3;
	int rc = pm_image(img);
	printf("pm_image %d\n", rc);
	return 0;
}
EOC
build_c "$t/p" p.c
LD_PRELOAD=./shim.so "$B/pmalloc" run -- ./p "$t" >make.out 2>make.err || die "imaging: $(cat make.err)"
expect_eq "imaging run" "pm_image 0" "$(cat make.out)"
LD_PRELOAD=./shim.so "$B/pmalloc" run --resume s.img -- ./p "$t" >r.out 2>r.err
expect_eq "resumed ($(cat r.err))" "pm_image 1" "$(cat r.out)"
finish
