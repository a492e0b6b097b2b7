/*
 * bench/ckpt_common.h - what the checkpoint and image benchmarks share
 * (bench/ckpt_speed.c, bench/ckpt_image.c): a heap filled with blocks of
 * mixed sizes, every byte written with data that does not compress, one
 * in ten freed again, the first word of block i holding ckpt_tag(i) (a
 * restore or resume must bring it back); the plain write+fsync they are
 * measured against; one read() pass over a file.
 *
 * Define CKPT_NAME (the program's name, for messages) and CKPT_SEED (its
 * tag seed) before including this.
 */
#ifndef PM_BENCH_CKPT_COMMON_H
#define PM_BENCH_CKPT_COMMON_H

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

static uint64_t **g_blocks; /* every block; freed ones are NULL */
static size_t g_nblocks;

static uint64_t ckpt_tag(size_t i)
{
	return (uint64_t)i * 0x9e3779b97f4a7c15ULL ^ CKPT_SEED;
}

static void *ckpt_xmalloc(size_t n)
{
	void *p = malloc(n);
	if (!p) {
		fprintf(stderr, CKPT_NAME ": out of memory\n");
		exit(1);
	}
	return p;
}

/* mb MiB of live blocks (16 B .. 1 KiB mostly, one in 16 up to 64 KiB) */
static void ckpt_fill_heap(size_t mb)
{
	struct bench_rng r;
	bench_rng_seed(&r, 42);
	size_t want = mb << 20, have = 0, cap = 1 << 16;
	g_blocks = ckpt_xmalloc(cap * sizeof *g_blocks);
	while (have < want + want / 9) { /* one in ten is freed below */
		if (g_nblocks == cap) {
			cap *= 2;
			g_blocks = realloc(g_blocks, cap * sizeof *g_blocks);
			if (!g_blocks)
				ckpt_xmalloc(~(size_t)0);
		}
		size_t n = (bench_rng_next(&r) % 16
				    ? bench_rng_range(&r, 16, 1024)
				    : bench_rng_range(&r, 1024, 64 << 10)) &
			   ~(size_t)7;
		uint64_t *b = ckpt_xmalloc(n);
		b[0] = ckpt_tag(g_nblocks);
		for (size_t w = 1; w < n / 8; w++)
			b[w] = bench_rng_next(&r);
		g_blocks[g_nblocks++] = b;
		have += n;
	}
	for (size_t i = 5; i < g_nblocks; i += 10) {
		free(g_blocks[i]);
		g_blocks[i] = NULL;
	}
}

/* write() len bytes, in 1 MiB pieces, of from[0, have) (again from its
 * start past have) to a new file, then fsync(); the seconds it took */
static double ckpt_write_raw(const char *path, const char *from, size_t have,
			     size_t len)
{
	double t0 = bench_now();
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0) {
		perror(path);
		exit(1);
	}
	for (size_t off = 0; off < len;) {
		size_t at = off % have, n = len - off < (1 << 20) ? len - off
								 : (1 << 20);
		if (n > have - at)
			n = have - at;
		ssize_t w = write(fd, from + at, n);
		if (w <= 0) {
			perror("write");
			exit(1);
		}
		off += (size_t)w;
	}
	if (fsync(fd) || close(fd)) {
		perror("fsync");
		exit(1);
	}
	return bench_now() - t0;
}

/* One read() pass over file in 1 MiB pieces: prints the seconds.  The
 * buffer is a heap block, not a global: globals are part of every
 * checkpoint, and a 1 MiB one would swell the file. */
static int ckpt_read_pass(const char *file)
{
	char *buf = ckpt_xmalloc(1 << 20);
	memset(buf, 0, 1 << 20); /* its pages are in place before timing */
	double t0 = bench_now();
	int fd = open(file, O_RDONLY);
	if (fd < 0) {
		perror(file);
		return 1;
	}
	while (read(fd, buf, 1 << 20) > 0)
		;
	close(fd);
	printf("%.4f\n", bench_now() - t0);
	free(buf);
	return 0;
}

#endif /* PM_BENCH_CKPT_COMMON_H */
