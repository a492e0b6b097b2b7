#!/bin/sh
# attack_img_fd1000.sh - a program with a descriptor numbered 1000 (a
# server with many files, or dup2 to a high number): the resume kept the
# image file and the files of named mappings at the lowest descriptor
# from 1000 up, took 1000 itself, and refused the image ("fd 1000 is
# needed by the image and by the resume").  Its own descriptors now go
# above every number the image records; the program reads on from where
# it was.
. "$(dirname "$0")/lib.sh"
norand true 2>/dev/null || skip "setarch -R does not work here"
cat >"$t/hifd.c" <<'EOC'
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <pmalloc.h>
int main(int argc, char **argv)
{
	char b[8];
	int fd = argc == 4 ? open(argv[2], O_RDONLY) : -1;
	if (fd < 0 || read(fd, b, 4) != 4 || dup2(fd, atoi(argv[3])) < 0)
		return 3;
	close(fd);
	int rc = pm_image(argv[1]);
	fprintf(stderr, "pm_image = %d\n", rc);
	if (rc == 1 && read(atoi(argv[3]), b, 4) == 4)
		fprintf(stderr, "read %.4s\n", b);
	return rc < 0;
}
EOC
build_c "$t/hifd" "$t/hifd.c"
echo abcdefghij >"$t/in.txt"
cd "$t" || die "no $t"
for n in 1000 1001; do
	rm -f h.img
	pm_run "$t/hifd" "$t/h.img" in.txt $n >out 2>err || die "imaging run: $(cat err)"
	"$B/pmalloc" run --resume h.img -- "$t/hifd" "$t/h.img" in.txt $n >out 2>err
	expect_eq "fd $n: resumed" "pm_image = 1
read efgh" "$(cat err)"
done
finish
