/*
 * w_cache_scratch - false sharing through the allocator (after Hoard's
 * cache-scratch test, written from its description).
 *
 * The main thread allocates one small object per thread, back to back, so
 * they likely share a cache line, and hands object i to thread i.  Each
 * thread frees the object it was handed (a block another thread allocated),
 * then ITERS times mallocs an object of OBJSIZE bytes, writes each of its
 * bytes REPS times and frees it.  An allocator that gives a thread's own
 * allocations memory next to another thread's (for example by reusing the
 * handed-over block for that thread) makes the cores fight over one cache
 * line on every write; one that keeps threads' memory apart does not.
 *
 * usage: w_cache_scratch [threads=2] [iters=16000] [objsize=8] [reps=2000]
 */
#include "bench.h"
#include <pthread.h>

static long iters, objsize, reps;
static pthread_barrier_t bar;

struct arg {
	char *given;
	unsigned long sum;
};

static void *worker(void *p)
{
	struct arg *a = p;
	unsigned long sum = 0;

	pthread_barrier_wait(&bar);
	free(a->given);
	for (long i = 0; i < iters; i++) {
		volatile char *o = bench_xmalloc((size_t)objsize);

		for (long r = 0; r < reps; r++)
			for (long j = 0; j < objsize; j++)
				o[j] = (char)(o[j] + (char)r + 1);
		sum += (unsigned char)o[0];
		free((void *)o);
	}
	a->sum = sum;
	return NULL;
}

int main(int argc, char **argv)
{
	long threads = bench_arg(argc, argv, 1, 2);
	pthread_t *th;
	struct arg *args;
	unsigned long sum = 0;
	char extra[64];
	double t0, t1;

	iters = bench_arg(argc, argv, 2, 16000);
	objsize = bench_arg(argc, argv, 3, 8);
	reps = bench_arg(argc, argv, 4, 2000);
	if (threads < 1 || threads > 1024 || iters < 0 || objsize < 1 ||
	    reps < 0)
		return 2;
	th = bench_xmalloc((size_t)threads * sizeof *th);
	args = bench_xmalloc((size_t)threads * sizeof *args);
	/* The handed-over objects: consecutive small allocations. */
	for (long i = 0; i < threads; i++) {
		args[i].given = bench_xmalloc((size_t)objsize);
		memset(args[i].given, 1, (size_t)objsize);
		args[i].sum = 0;
	}
	pthread_barrier_init(&bar, NULL, (unsigned)threads + 1);

	for (long i = 0; i < threads; i++)
		if (pthread_create(&th[i], NULL, worker, &args[i])) {
			fprintf(stderr, "pthread_create failed\n");
			return 2;
		}
	t0 = bench_now();
	pthread_barrier_wait(&bar);
	for (long i = 0; i < threads; i++) {
		pthread_join(th[i], NULL);
		sum += args[i].sum;
	}
	t1 = bench_now();

	pthread_barrier_destroy(&bar);
	free(args);
	free(th);
	bench_sink((void *)sum);
	snprintf(extra, sizeof extra, "threads=%ld", threads);
	bench_report("cache_scratch", t1 - t0, threads * iters, extra);
	return 0;
}
