#!/bin/sh
# attack_img_nofile.sh - a resume under a descriptor limit below 1000
# (`ulimit -n 256`; the program's own descriptors all below it).  The
# resume kept its own descriptors (the image file, the files of named
# mappings, the prepared files) at 1000 and up, which such a limit
# forbids: every resume there was refused ("cannot keep the image
# open").  They now go right above the image's descriptors when the
# limit leaves no room from 1000 up; the image resumes.
. "$(dirname "$0")/lib.sh"
norand true 2>/dev/null || skip "setarch -R does not work here"
cd "$t" || die "no $t"
cat >nofds.c <<'EOC'
/* nofds N PROG ARGS: close every descriptor above 2, ulimit -n N, exec */
#include <stdlib.h>
#include <unistd.h>
#include <sys/resource.h>
int main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	for (int fd = 3; fd < 4096; fd++)
		close(fd);
	struct rlimit rl = {strtoul(argv[1], 0, 10), strtoul(argv[1], 0, 10)};
	if (setrlimit(RLIMIT_NOFILE, &rl))
		return 3;
	execvp(argv[2], argv + 2);
	return 127;
}
EOC
cat >p.c <<'EOC'
#include <stdio.h>
#include <pmalloc.h>
int main(int argc, char **argv)
{
	char line[100];
	int n = 0;
	FILE *f = fopen(argv[1], "r");
	if (!f || !fgets(line, sizeof line, f))
		return 1;
	fprintf(stderr, "pm_image %d\n", pm_image("s.img"));
	while (fgets(line, sizeof line, f))
		n++;
	printf("%d more lines\n", n);
	return 0;
}
EOC
"$CC" -O2 -o nofds nofds.c || die "cannot build nofds"
build_c "$t/p" p.c
seq 1 100 >in.txt
./nofds 256 true || skip "cannot set ulimit -n 256 here"
./nofds 256 "$B/pmalloc" run -- ./p in.txt >make.out 2>make.err ||
	die "imaging run: $(cat make.err)"
expect_eq "imaging run" "pm_image 0" "$(cat make.err)"
./nofds 256 "$B/pmalloc" run --resume s.img -- ./p in.txt >out 2>err
expect_eq "ulimit -n 256: resumed" "pm_image 1" "$(cat err)"
expect_eq "ulimit -n 256: output" "99 more lines" "$(cat out)"
finish
