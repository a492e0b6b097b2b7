/*
 * w_larson - server simulation (after Larson and Krishnan's benchmark,
 * written from its description).
 *
 * THREADS threads each own an array of SLOTS blocks of random sizes
 * 8..1000, first filled by the main thread (so the first frees are of
 * blocks another thread allocated).  A thread replaces random slots of its
 * own array (free, then malloc a block of a new random size and write a
 * byte into it) OPS/(THREADS*GENS) times, then starts a new thread that
 * inherits the array and exits: each of the GENS generations of a "server
 * connection" frees what the previous generation allocated.  The threads
 * share nothing but the allocator; with more threads than cores they are
 * also preempted in the middle of malloc and free, and threads are created
 * and torn down all the time.
 *
 * usage: w_larson [threads=4] [ops=8000000] [gens=20] [slots=1000]
 */
#include "bench.h"
#include <pthread.h>

struct conn {
	unsigned char **slot;
	struct bench_rng rng;
	long gen;
	unsigned long sum;
};

static long threads, ops_per_gen, gens, slots;
static pthread_attr_t detached;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t all_done = PTHREAD_COND_INITIALIZER;
static long done;

static void *serve(void *p)
{
	struct conn *c = p;

	for (long i = 0; i < ops_per_gen; i++) {
		size_t k = bench_rng_range(&c->rng, 0, (size_t)slots - 1);
		size_t n = bench_rng_range(&c->rng, 8, 1000);

		c->sum += c->slot[k][0];
		free(c->slot[k]);
		c->slot[k] = bench_xmalloc(n);
		c->slot[k][0] = (unsigned char)n;
	}
	if (++c->gen < gens) {
		pthread_t t;

		if (pthread_create(&t, &detached, serve, c) == 0)
			return NULL;
		fprintf(stderr, "pthread_create failed\n");
		exit(2);
	}
	pthread_mutex_lock(&mu);
	if (++done == threads)
		pthread_cond_signal(&all_done);
	pthread_mutex_unlock(&mu);
	return NULL;
}

int main(int argc, char **argv)
{
	long ops;
	struct conn *c;
	unsigned long sum = 0;
	char extra[64];
	double t0, t1;

	threads = bench_arg(argc, argv, 1, 4);
	ops = bench_arg(argc, argv, 2, 8000000);
	gens = bench_arg(argc, argv, 3, 20);
	slots = bench_arg(argc, argv, 4, 1000);
	if (threads < 1 || threads > 1024 || ops < 0 || gens < 1 || slots < 1)
		return 2;
	ops_per_gen = ops / (threads * gens);
	c = bench_xmalloc((size_t)threads * sizeof *c);
	for (long t = 0; t < threads; t++) {
		c[t].slot = bench_xmalloc((size_t)slots * sizeof *c[t].slot);
		bench_rng_seed(&c[t].rng, 1000 + (uint64_t)t);
		c[t].gen = 0;
		c[t].sum = 0;
		for (long i = 0; i < slots; i++) {
			size_t n = bench_rng_range(&c[t].rng, 8, 1000);
			c[t].slot[i] = bench_xmalloc(n);
			c[t].slot[i][0] = (unsigned char)n;
		}
	}
	pthread_attr_init(&detached);
	pthread_attr_setdetachstate(&detached, PTHREAD_CREATE_DETACHED);

	t0 = bench_now();
	for (long t = 0; t < threads; t++) {
		pthread_t th;

		if (pthread_create(&th, &detached, serve, &c[t])) {
			fprintf(stderr, "pthread_create failed\n");
			return 2;
		}
	}
	pthread_mutex_lock(&mu);
	while (done < threads)
		pthread_cond_wait(&all_done, &mu);
	pthread_mutex_unlock(&mu);
	t1 = bench_now();

	for (long t = 0; t < threads; t++) {
		for (long i = 0; i < slots; i++) {
			sum += c[t].slot[i][0];
			free(c[t].slot[i]);
		}
		free(c[t].slot);
		sum += c[t].sum;
	}
	free(c);
	pthread_attr_destroy(&detached);
	bench_sink((void *)sum);
	snprintf(extra, sizeof extra, "threads=%ld gens=%ld", threads, gens);
	bench_report("larson", t1 - t0, ops_per_gen * threads * gens, extra);
	return 0;
}
