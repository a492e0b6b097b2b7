/*
 * w_xthread - two threads freeing each other's blocks (Larson-like).
 *
 * Each round, both threads allocate BATCH blocks of random sizes 16..512
 * into their own outbox (writing one byte into each), meet at a barrier,
 * then each frees every block of the *other* thread's outbox and meets
 * again.  So every block is freed by the thread that did not allocate it.
 *
 * usage: w_xthread [batch=10000] [rounds=100]
 */
#include "bench.h"
#include <pthread.h>

static long batch, rounds;
static unsigned char **box[2];
static pthread_barrier_t bar;
static unsigned long sums[2];

static void *worker(void *arg)
{
	int me = (int)(intptr_t)arg;
	struct bench_rng rng;
	unsigned long sum = 0;

	bench_rng_seed(&rng, 100 + (uint64_t)me);
	for (long r = 0; r < rounds; r++) {
		unsigned char **mine = box[me], **other = box[1 - me];

		for (long i = 0; i < batch; i++) {
			size_t n = bench_rng_range(&rng, 16, 512);
			mine[i] = bench_xmalloc(n);
			mine[i][0] = (unsigned char)n;
		}
		pthread_barrier_wait(&bar);
		for (long i = 0; i < batch; i++) {
			sum += other[i][0];
			free(other[i]);
		}
		pthread_barrier_wait(&bar);
	}
	sums[me] = sum;
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t th[2];
	double t0, t1;

	batch = bench_arg(argc, argv, 1, 10000);
	rounds = bench_arg(argc, argv, 2, 100);
	if (batch < 1 || rounds < 0)
		return 2;
	for (int i = 0; i < 2; i++) {
		box[i] = bench_xmalloc((size_t)batch * sizeof *box[i]);
		memset(box[i], 0, (size_t)batch * sizeof *box[i]);
	}
	pthread_barrier_init(&bar, NULL, 2);

	t0 = bench_now();
	for (int i = 0; i < 2; i++)
		if (pthread_create(&th[i], NULL, worker, (void *)(intptr_t)i)) {
			fprintf(stderr, "pthread_create failed\n");
			return 2;
		}
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	t1 = bench_now();

	pthread_barrier_destroy(&bar);
	for (int i = 0; i < 2; i++)
		free(box[i]);
	bench_sink((void *)(sums[0] + sums[1]));
	bench_report("xthread", t1 - t0, 4 * batch * rounds, NULL);
	return 0;
}
