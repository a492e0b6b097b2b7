#!/bin/sh
# image_dupfd.sh - two descriptors on one open file description (dup,
# `exec 4<&3`) cannot share one offset again after a resume: each is
# reopened on its own.  A shell script reading by turns from both resumed
# and silently computed another result.  pm_image now refuses, naming
# both descriptors (kcmp), and the program goes on; the same file opened
# twice (two descriptions) and a dup of the inherited stdout still image.
. "$(dirname "$0")/lib.sh"
norand true 2>/dev/null || skip "setarch -R does not work here"
cd "$t" || die "no $t"
seq 1 1000 >nums.txt
cat >p.c <<'EOC'
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <pmalloc.h>
int main(int argc, char **argv)
{
	int a = !strcmp(argv[1], "stdin") ? 0
		: !strcmp(argv[1], "dirdup") ? open(".", O_RDONLY | O_DIRECTORY)
		: !strcmp(argv[1], "appdup")
			? open("log", O_WRONLY | O_APPEND | O_CREAT, 0600)
			: open("nums.txt", O_RDONLY);
	int b = !strcmp(argv[1], "twice") ? open("nums.txt", O_RDONLY) : dup(a);
	if (a < 0 || b < 0)
		return 2;
	char buf[16];
	if (!strcmp(argv[1], "appdup")) {
		if (write(a, "1234", 4) != 4 || write(b, "5678", 4) != 4)
			return 3;
	} else if (strcmp(argv[1], "dirdup") &&
		   (read(a, buf, 4) != 4 || read(b, buf, 4) != 4)) {
		return 3;
	}
	int rc = pm_image(argv[1]);
	fprintf(stderr, "pm_image %d%s%s\n", rc, rc < 0 ? ": " : "",
		rc < 0 ? pm_errmsg() : "");
	long oa = lseek(a, 0, SEEK_CUR), ob = lseek(b, 0, SEEK_CUR);
	printf("offsets %ld %ld\n", oa, ob);
	return 0;
}
EOC
build_c "$t/p" p.c
"$B/pmalloc" run -- ./p dup >d.out 2>d.err || die "dup run: $(cat d.err)"
expect_has "dup: refused" "fd 3 and fd 4 share one open file" "$(cat d.err)"
expect_eq "dup: the program goes on" "offsets 8 8" "$(cat d.out)"
[ -e dup ] && bad "dup: an image was written"

"$B/pmalloc" run -- ./p stdin <nums.txt >s.out 2>s.err || die "stdin run: $(cat s.err)"
expect_has "dup of stdin: refused" "fd 0 and fd 3 share one open file" "$(cat s.err)"
expect_eq "dup of stdin: the program goes on" "offsets 8 8" "$(cat s.out)"

# not refused: a dup of a directory (fts: find keeps one of each to open
# files in it, and reads the other), two O_APPEND writers
for m in dirdup appdup; do
	"$B/pmalloc" run -- ./p $m >$m.out 2>$m.err || die "$m run: $(cat $m.err)"
	expect_has "$m: imaged" "pm_image 0" "$(cat $m.err)"
	"$B/pmalloc" run --resume $m -- ./p $m >$m.r 2>$m.rerr || bad "$m: resume: exit $?"
	expect_has "$m: resumed" "pm_image 1" "$(cat $m.rerr)"
done
expect_eq "appdup: the log as the image had it" "12345678" "$(cat log)"

"$B/pmalloc" run -- ./p twice >w.out 2>w.err || die "twice run: $(cat w.err)"
expect_has "opened twice: imaged" "pm_image 0" "$(cat w.err)"
expect_eq "opened twice: output" "offsets 4 4" "$(cat w.out)"
"$B/pmalloc" run --resume twice -- ./p twice >r.out 2>r.err || bad "resume: exit $?"
expect_has "opened twice: resumed" "pm_image 1" "$(cat r.err)"
expect_eq "opened twice: resumed offsets" "offsets 4 4" "$(cat r.out)"
finish
