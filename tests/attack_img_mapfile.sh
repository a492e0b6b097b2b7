#!/bin/sh
# attack_img_mapfile.sh - a file the program had mapped read-only (a
# named mapping, mapped again from the file by the resume).  Its file
# offset in the image, damaged (crcs recomputed) to a value that is not
# page-aligned, verified and made the restorer's mmap fail after the
# point of no return ("resume failed at step N: errno 22", exit 127);
# damaged past the file's end, or with the file truncated since the
# image, the program resumed and died of SIGBUS when it touched the
# mapping.  Both are refused now; the untouched image resumes and reads
# the mapped bytes.
. "$(dirname "$0")/lib.sh"
norand true 2>/dev/null || skip "setarch -R does not work here"
cat >"$t/mapf.c" <<'EOC'
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>
#include <pmalloc.h>
int main(int argc, char **argv)
{
	int fd = argc == 3 ? open(argv[2], O_RDONLY) : -1;
	char *m = fd < 0 ? MAP_FAILED
			 : mmap(0, 8192, PROT_READ, MAP_PRIVATE, fd, 4096);
	if (m == MAP_FAILED)
		return 3;
	close(fd);
	int rc = pm_image(argv[1]);
	fprintf(stderr, "pm_image = %d\n", rc);
	if (rc == 1)
		fprintf(stderr, "mapped %.4s %.4s\n", m, m + 4096);
	return rc < 0;
}
EOC
build_c "$t/mapf" "$t/mapf.c"
craft=$t/img_craft
"$CC" -std=c11 -D_GNU_SOURCE -O2 -I"$T/src" -I"$T/include" -o "$craft" \
	"$T/tests/prog/img_craft.c" "$T/src/crc32c.c" || die "cannot build img_craft"
cd "$t" || die "no $t"
for c in a b c d; do head -c 4096 /dev/zero | tr '\0' "$c"; done >data.bin
pm_run "$t/mapf" "$t/m.img" data.bin >out 2>err || die "imaging run: $(cat err)"
resume() { # IMAGE
	"$B/pmalloc" run --resume "$1" -- "$t/mapf" "$t/m.img" data.bin >out 2>err
	rc=$?
}
resume m.img
expect_eq "the image resumes" "pm_image = 1
mapped bbbb cccc" "$(cat err)"
i=$("$craft" m.img vma data.bin) || die "no mapping of data.bin in the image"
# struct pmf_vma: offset at 16
for m in ^1 ^0x100000; do
	cp m.img bad.img && "$craft" bad.img rec 6 $((i * 64 + 16)) 8 "$m" || die "img_craft"
	resume bad.img
	expect_eq "offset $m: exit" 0 "$rc"
	expect_has "offset $m: refused" "pmalloc: not resumed:" "$(cat err)"
	expect_has "offset $m: normal run" "pm_image = 0" "$(cat err)"
done
cp data.bin data.keep
head -c 8192 data.keep >data.bin
resume m.img
expect_eq "file truncated: exit" 0 "$rc"
expect_has "file truncated: refused" "shorter than its mapping" "$(cat err)"
finish
