/*
 * ckpt_image.c - process image timings for bench/ckpt_image.sh.
 *
 *   ckpt_image make FILE MB REPS
 *       Fill the heap with about MB MiB of live blocks of mixed sizes (as
 *       bench/ckpt_speed.c: mostly 16 B..1 KiB, one in sixteen up to
 *       64 KiB, one in ten freed again, every byte written).  Then, after
 *       one untimed pm_image() that gives the image's size S, REPS times,
 *       alternating which goes first: write S bytes of memory (the heap
 *       from its base, again from the base if S is larger than the heap's
 *       extent) with write() in 1 MiB pieces to a new file FILE.rawN and
 *       fsync it, and pm_image() to a new file FILE.N (the last one:
 *       FILE).  Prints one line per repetition,
 *           rep R write_s W image_s C
 *       and then, from FILE's section table,
 *           live L file_size S records H heap_pages P other_pages O
 *       (H: bytes before the pages = header, tables, records, padding;
 *       P: PAGES bytes inside pmalloc's region; O: PAGES bytes of every
 *       other mapping: the executable's and libraries' data, the brk
 *       heap, anonymous mappings).
 *       Resumed from FILE (pm_image returns PM_RESUMED), it reads the
 *       clock at once, reads the time `exec` wrote to FILE.t0, prints
 *           resume_s T
 *       (the seconds from just before the exec to the return of
 *       pm_image), checks a sample of the heap's blocks and exits.
 *   ckpt_image exec T0FILE IMAGE VERIFY PROG ARGS...
 *       Set PMALLOC_RESUME=IMAGE and PMALLOC_RESUME_VERIFY=VERIFY (0: no
 *       checksums), turn address-space randomisation off, write
 *       CLOCK_MONOTONIC to T0FILE and exec PROG: the process that resumes.
 *   ckpt_image read FILE
 *       One read() pass over FILE in 1 MiB pieces; prints the seconds.
 *
 * The resumed process's memory is the image's: the start time cannot
 * travel in the environment or in argv (both are the imaging run's, and
 * argv must be the same for the image to be resumed), so it goes through
 * a file whose name the imaging run already knows.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/personality.h>
#include <sys/stat.h>

#include <pmalloc.h>

#define CKPT_NAME "ckpt_image"
#define CKPT_SEED 0x2545f4914f6cdd1dULL
#include "ckpt_common.h"

/* The heap's state, in globals: a resume brings them back with it. */
static const char *g_file;

/* The resumed process: the time since `exec` read the clock. */
static void resumed(void)
{
	double t1 = bench_now();
	char p[4096];
	snprintf(p, sizeof p, "%s.t0", g_file);
	FILE *f = fopen(p, "r");
	double t0;
	if (!f || fscanf(f, "%lf", &t0) != 1) {
		fprintf(stderr, "ckpt_image: no start time in %s\n", p);
		exit(1);
	}
	fclose(f);
	for (size_t i = 0; i < g_nblocks; i += 97)
		if (g_blocks[i] && g_blocks[i][0] != ckpt_tag(i)) {
			fprintf(stderr, "ckpt_image: block %zu wrong after "
					"the resume\n", i);
			exit(1);
		}
	printf("resume_s %.4f\n", t1 - t0);
	exit(0);
}

static double image(const char *path)
{
	double t0 = bench_now();
	int rc = pm_image(path);
	double t = bench_now() - t0;
	if (rc == PM_RESUMED)
		resumed();
	if (rc) {
		fprintf(stderr, "ckpt_image: pm_image: %s\n", pm_errmsg());
		exit(1);
	}
	return t;
}

static uint64_t le(const unsigned char *p, int n)
{
	uint64_t v = 0;
	while (n--)
		v = v << 8 | p[n];
	return v;
}

/* FILE's size and where its bytes are (docs/FORMAT.md: header fields
 * table_off 88, nsections 96, heap_off 144; sections of 64 bytes: kind
 * 0, addr 8, len 16; PAGES is kind 8). */
static int describe(const char *file, const struct pm_heap_info *hi)
{
	unsigned char h[256];
	struct stat st;
	int fd = open(file, O_RDONLY);
	if (fd < 0 || fstat(fd, &st) || pread(fd, h, sizeof h, 0) != sizeof h) {
		perror(file);
		return 1;
	}
	uint64_t toff = le(h + 88, 8), n = le(h + 96, 4), hoff = le(h + 144, 8);
	unsigned char *t = ckpt_xmalloc(n * 64);
	if (pread(fd, t, n * 64, (off_t)toff) != (ssize_t)(n * 64)) {
		perror(file);
		return 1;
	}
	close(fd);
	uint64_t in = 0, out = 0;
	for (uint64_t i = 0; i < n; i++) {
		const unsigned char *s = t + i * 64;
		uint64_t addr = le(s + 8, 8), len = le(s + 16, 8);
		if (le(s, 4) != 8)
			continue;
		if (addr >= hi->base && addr - hi->base < hi->size)
			in += len;
		else
			out += len;
	}
	free(t);
	printf("live %zu file_size %lld records %llu heap_pages %llu "
	       "other_pages %llu\n",
	       hi->live, (long long)st.st_size, (unsigned long long)hoff,
	       (unsigned long long)in, (unsigned long long)out);
	return 0;
}

static int cmd_make(const char *file, size_t mb, int reps)
{
	g_file = file;
	ckpt_fill_heap(mb);
	struct pm_heap_info hi;
	if (pm_heap_info(&hi)) {
		fprintf(stderr, "ckpt_image: pm_heap_info: %s\n", pm_errmsg());
		return 1;
	}
	/* every file a new one, none deleted until the timing is done
	 * (as bench/ckpt_speed.c, which says why) */
	char warm[4096], raw[4096], im[4096];
	snprintf(warm, sizeof warm, "%s.warm", file);
	image(warm);
	struct stat st;
	if (stat(warm, &st)) {
		perror(warm);
		return 1;
	}
	size_t len = (size_t)st.st_size;
	for (int r = 0; r < reps; r++) {
		double tw, tc;
		snprintf(raw, sizeof raw, "%s.raw%d", file, r);
		snprintf(im, sizeof im, r == reps - 1 ? "%s" : "%s.%d", file, r);
		sync();
		if (r % 2) {
			tc = image(im);
			sync();
			tw = ckpt_write_raw(raw, (const char *)hi.base,
				       hi.top - hi.base, len);
		} else {
			tw = ckpt_write_raw(raw, (const char *)hi.base,
				       hi.top - hi.base, len);
			sync();
			tc = image(im);
		}
		printf("rep %d write_s %.4f image_s %.4f\n", r, tw, tc);
		fflush(stdout);
	}
	unlink(warm);
	for (int r = 0; r < reps; r++) {
		snprintf(raw, sizeof raw, "%s.raw%d", file, r);
		snprintf(im, sizeof im, "%s.%d", file, r);
		unlink(raw);
		if (r < reps - 1)
			unlink(im);
	}
	return describe(file, &hi);
}

static int cmd_exec(char **argv)
{
	const char *t0file = argv[0];
	if (setenv("PMALLOC_RESUME", argv[1], 1) ||
	    setenv("PMALLOC_RESUME_VERIFY", argv[2], 1))
		return 1;
	int pers = personality(0xffffffff);
	if (pers == -1 ||
	    personality((unsigned long)pers | ADDR_NO_RANDOMIZE) == -1) {
		perror("personality");
		return 1;
	}
	FILE *f = fopen(t0file, "w");
	if (!f)
		return 1;
	double t0 = bench_now();
	fprintf(f, "%.9f\n", t0);
	if (fclose(f))
		return 1;
	execv(argv[3], argv + 3);
	perror(argv[3]);
	return 127;
}

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "make"))
		return cmd_make(argv[2], (size_t)strtoul(argv[3], NULL, 10),
				atoi(argv[4]));
	if (argc >= 6 && !strcmp(argv[1], "exec"))
		return cmd_exec(argv + 2);
	if (argc == 3 && !strcmp(argv[1], "read"))
		return ckpt_read_pass(argv[2]);
	fprintf(stderr, "usage: ckpt_image make FILE MB REPS | exec T0FILE "
			"IMAGE VERIFY PROG ARGS... | read FILE\n");
	return 2;
}
