#!/bin/sh
# image_dirfd.sh - a directory open without O_DIRECTORY (GNU find's
# starting directory, a shell's `exec 3< .`) is a descriptor an image
# carries: the image used to be written and then called corrupt by its
# own reader ("not a directory opened for reading"), so info and verify
# failed and every resume was refused.  Now it verifies, resumes, and the
# descriptor is the same directory again; a directory replaced by a FIFO
# is refused without hanging.
. "$(dirname "$0")/lib.sh"
norand true 2>/dev/null || skip "setarch -R does not work here"
cd "$t" || die "no $t"
mkdir -p d/sub && echo x >d/sub/mark || die "mkdir"
cat >p.c <<'EOC'
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <pmalloc.h>
int main(void)
{
	/* no O_DIRECTORY; O_NONBLOCK: a FIFO in its place must not hang
	 * the normal run after a refusal */
	int fd = open("d", O_RDONLY | O_NONBLOCK);
	if (fd < 0)
		return 2;
	int rc = pm_image("dir.img");
	fprintf(stderr, "pm_image %d\n", rc);
	if (rc < 0)
		fprintf(stderr, "%s\n", pm_errmsg());
	struct stat st;
	int in = openat(fd, "sub/mark", O_RDONLY);
	char buf[8] = "";
	if (in < 0 || read(in, buf, 1) != 1 || fstat(fd, &st))
		return 3;
	printf("dir %d mark %c\n", S_ISDIR(st.st_mode), buf[0]);
	return 0;
}
EOC
build_c "$t/p" p.c
"$B/pmalloc" run -- ./p >make.out 2>make.err || die "imaging run: $(cat make.err)"
expect_has "imaging run" "pm_image 0" "$(cat make.err)"
expect_eq "imaging run's output" "dir 1 mark x" "$(cat make.out)"
pm_verify dir.img || bad "the image does not verify"
"$B/pmalloc" info dir.img >info 2>&1 || bad "pmalloc info: $(cat info)"
"$B/pmalloc" run --resume dir.img -- ./p >out 2>err || bad "resume: exit $?"
expect_has "resumed" "pm_image 1" "$(cat err)"
expect_eq "resumed output" "dir 1 mark x" "$(cat out)"
# the directory replaced by a FIFO: refused at once, then a normal run
# (which fails to open it as its directory: exit 2)
mv d d.old && mkfifo d || die "mkfifo"
timeout 20 "$B/pmalloc" run --resume dir.img -- ./p >out2 2>err2
rc=$?
[ $rc = 124 ] && bad "the resume hung on the FIFO"
expect_has "FIFO: refused" "pmalloc: not resumed" "$(cat err2)"
finish
