/*
 * ckpt_speed.c - checkpoint and restore timings for bench/ckpt_speed.sh.
 *
 *   ckpt_speed make FILE MB REPS
 *       Fill the heap with about MB MiB of live blocks of mixed sizes
 *       (mostly 16 B..1 KiB, some up to 64 KiB, one block in ten freed
 *       again), every byte written.  Then, after one untimed checkpoint
 *       that gives the file's size S, REPS times, alternating which goes
 *       first: write S bytes of the heap (from its base) with write() in
 *       1 MiB pieces to a new file FILE.rawN and fsync it, and
 *       pm_checkpoint() to a new file FILE.N (the last one: FILE).  The
 *       other files are deleted at the end.  Prints one line per
 *       repetition,
 *           rep R write_s W ckpt_s C
 *       and then
 *           live L blocks N extent E file_size S heap_off H
 *       (H: bytes before the heap data = header, tables, globals, padding).
 *   ckpt_speed read FILE
 *       One read() pass over FILE in 1 MiB pieces; prints the seconds.
 *   ckpt_speed restore FILE [nv]
 *       pm_restore_ex(FILE) (nv: PM_RESTORE_NO_VERIFY) timed; prints the
 *       seconds, then (untimed) checks a sample of the restored blocks.
 *
 * Run `make` and `restore` under `pmalloc run` (address-space randomisation
 * off), so that the restoring process has the layout of the writing one.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <pmalloc.h>

#define CKPT_NAME "ckpt_speed"
#define CKPT_SEED 0x5851f42d4c957f2dULL
#include "ckpt_common.h"

/* The heap's state, in globals so that a restore brings it back. */
static double checkpoint(const char *path)
{
	double t0 = bench_now();
	int rc = pm_checkpoint(path);
	double t = bench_now() - t0;
	if (rc) {
		fprintf(stderr, "ckpt_speed: pm_checkpoint: %s\n", pm_errmsg());
		exit(1);
	}
	return t;
}

static int cmd_make(const char *file, size_t mb, int reps)
{
	ckpt_fill_heap(mb);
	struct pm_heap_info hi;
	if (pm_heap_info(&hi)) {
		fprintf(stderr, "ckpt_speed: pm_heap_info: %s\n", pm_errmsg());
		return 1;
	}
	/*
	 * Every file is a new one, and nothing is deleted until all the
	 * timing is done: deleting a big file makes some file systems
	 * (ext4 mounted with -o discard, ...) busy for a while, and that
	 * would slow down whichever write comes next.
	 */
	char warm[4096], raw[4096], ck[4096];
	snprintf(warm, sizeof warm, "%s.warm", file);

	/* One untimed checkpoint first: it tells how many bytes a
	 * checkpoint writes, and the plain write below writes as many
	 * (from the start of the heap), so both write the same amount. */
	checkpoint(warm);
	struct stat st;
	if (stat(warm, &st)) {
		perror(warm);
		return 1;
	}
	size_t len = (size_t)st.st_size;
	if (len > hi.top - hi.base)
		len = hi.top - hi.base;

	for (int r = 0; r < reps; r++) {
		double tw, tc;
		snprintf(raw, sizeof raw, "%s.raw%d", file, r);
		/* the last checkpoint is FILE, which the restores use */
		snprintf(ck, sizeof ck, r == reps - 1 ? "%s" : "%s.%d", file,
			 r);
		sync(); /* nothing dirty left from before */
		if (r % 2) {
			tc = checkpoint(ck);
			sync();
			tw = ckpt_write_raw(raw, (const char *)hi.base, len, len);
		} else {
			tw = ckpt_write_raw(raw, (const char *)hi.base, len, len);
			sync();
			tc = checkpoint(ck);
		}
		printf("rep %d write_s %.4f ckpt_s %.4f\n", r, tw, tc);
		fflush(stdout);
	}
	unlink(warm);
	for (int r = 0; r < reps; r++) {
		snprintf(raw, sizeof raw, "%s.raw%d", file, r);
		snprintf(ck, sizeof ck, "%s.%d", file, r);
		unlink(raw);
		if (r < reps - 1)
			unlink(ck);
	}

	/* the file's size, and where its heap data starts (header field
	 * heap_off, little-endian, at offset 144: docs/FORMAT.md) */
	unsigned char h[8] = {0};
	int fd = open(file, O_RDONLY);
	if (fd < 0 || fstat(fd, &st) || pread(fd, h, 8, 144) != 8) {
		perror(file);
		return 1;
	}
	close(fd);
	uint64_t heap_off = 0;
	for (int i = 7; i >= 0; i--)
		heap_off = heap_off << 8 | h[i];
	size_t nlive = 0;
	for (size_t i = 0; i < g_nblocks; i++)
		nlive += g_blocks[i] != NULL;
	printf("live %zu blocks %zu extent %zu file_size %lld heap_off %llu\n",
	       hi.live, nlive, hi.top - hi.base,
	       (long long)st.st_size, (unsigned long long)heap_off);
	return 0;
}

static int cmd_restore(const char *file, unsigned flags)
{
	double t0 = bench_now();
	int rc = pm_restore_ex(file, flags);
	double t = bench_now() - t0;
	if (rc) {
		fprintf(stderr, "ckpt_speed: restore refused: %s\n",
			pm_errmsg());
		return 1;
	}
	/* untimed: a sample of the blocks must hold their tags */
	for (size_t i = 0; i < g_nblocks; i += 97)
		if (g_blocks[i] && g_blocks[i][0] != ckpt_tag(i)) {
			fprintf(stderr, "ckpt_speed: block %zu wrong after "
					"restore\n", i);
			return 1;
		}
	printf("%.4f\n", t);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "make"))
		return cmd_make(argv[2], (size_t)strtoul(argv[3], NULL, 10),
				atoi(argv[4]));
	if (argc == 3 && !strcmp(argv[1], "read"))
		return ckpt_read_pass(argv[2]);
	if ((argc == 3 || argc == 4) && !strcmp(argv[1], "restore"))
		return cmd_restore(argv[2], argc == 4 ? PM_RESTORE_NO_VERIFY
						      : 0);
	fprintf(stderr, "usage: ckpt_speed make FILE MB REPS | read FILE | "
			"restore FILE [nv]\n");
	return 2;
}
