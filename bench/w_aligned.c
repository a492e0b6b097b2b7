/*
 * w_aligned - aligned allocation churn from many threads.
 *
 * THREADS threads each keep SLOTS live blocks and OPS times replace a
 * random one by a block from posix_memalign or aligned_alloc (alternately)
 * with a random power-of-two alignment 16..4096 and a random size
 * 16..2048 B (rounded up to a multiple of the alignment for aligned_alloc).
 * Every block is checked for its alignment (a misaligned block fails the
 * run, exit 3) and one byte is written.  Alignments above the allocator's
 * natural one force it to pad, split or use dedicated size classes; large
 * alignments with small sizes are the expensive case.
 *
 * usage: w_aligned [threads=8] [ops=150000] [slots=512]
 */
#include "bench.h"
#include <pthread.h>

static long ops, slots;

struct arg {
	long id;
	unsigned long sum;
};

static void *worker(void *p)
{
	struct arg *a = p;
	struct bench_rng rng;
	unsigned char **live = bench_xmalloc((size_t)slots * sizeof *live);
	unsigned long s = 0;

	bench_rng_seed(&rng, 300 + (uint64_t)a->id);
	memset(live, 0, (size_t)slots * sizeof *live);
	for (long i = 0; i < ops; i++) {
		size_t k = bench_rng_range(&rng, 0, (size_t)slots - 1);
		size_t al = (size_t)16 << bench_rng_range(&rng, 0, 8);
		size_t n = bench_rng_range(&rng, 16, 2048);
		void *p;

		if (live[k]) {
			s += live[k][0];
			free(live[k]);
		}
		if (i & 1) {
			n = (n + al - 1) & ~(al - 1);
			p = aligned_alloc(al, n);
		} else if (posix_memalign(&p, al, n) != 0) {
			p = NULL;
		}
		if (!p) {
			fprintf(stderr, "aligned allocation of %zu (align %zu) failed\n",
				n, al);
			exit(2);
		}
		if ((uintptr_t)p & (al - 1)) {
			fprintf(stderr, "misaligned: %p for alignment %zu\n", p,
				al);
			exit(3);
		}
		live[k] = p;
		live[k][0] = (unsigned char)n;
		live[k][n - 1] = (unsigned char)al;
	}
	for (long k = 0; k < slots; k++)
		if (live[k]) {
			s += live[k][0];
			free(live[k]);
		}
	free(live);
	a->sum = s;
	return NULL;
}

int main(int argc, char **argv)
{
	long threads = bench_arg(argc, argv, 1, 8);
	pthread_t *th;
	struct arg *args;
	unsigned long sum = 0;
	char extra[64];
	double t0, t1;

	ops = bench_arg(argc, argv, 2, 150000);
	slots = bench_arg(argc, argv, 3, 512);
	if (threads < 1 || threads > 1024 || ops < 0 || slots < 1)
		return 2;
	th = bench_xmalloc((size_t)threads * sizeof *th);
	args = bench_xmalloc((size_t)threads * sizeof *args);

	t0 = bench_now();
	for (long i = 0; i < threads; i++) {
		args[i].id = i;
		args[i].sum = 0;
		if (pthread_create(&th[i], NULL, worker, &args[i])) {
			fprintf(stderr, "pthread_create failed\n");
			return 2;
		}
	}
	for (long i = 0; i < threads; i++) {
		pthread_join(th[i], NULL);
		sum += args[i].sum;
	}
	t1 = bench_now();

	free(args);
	free(th);
	bench_sink((void *)sum);
	snprintf(extra, sizeof extra, "threads=%ld", threads);
	bench_report("aligned", t1 - t0, threads * ops, extra);
	return 0;
}
