/*
 * w_xmalloc - many producers and consumers (after xmalloc-test, written
 * from its description).
 *
 * THREADS threads, half producers and half consumers.  A producer mallocs
 * batches of BATCH blocks of random sizes 8..1024 (one byte written in
 * each) and puts each batch on a shared queue; a consumer takes batches off
 * the queue, reads each block's byte and frees it.  So every block is freed
 * by a thread other than the one that allocated it, by whichever consumer
 * got there first, while producers keep allocating: the allocator's
 * remote-free path and the reuse of remotely freed memory are exercised
 * under contention.  The queue holds at most QMAX batches (a producer
 * waits when it is full) so the live set stays bounded.
 *
 * usage: w_xmalloc [threads=4] [batches=8000] [batch=256] [qmax=64]
 */
#include "bench.h"
#include <pthread.h>

struct batch {
	struct batch *next;
	unsigned char *blk[];
};

static long nprod, ncons, batches, batch_len, qmax;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t not_full = PTHREAD_COND_INITIALIZER;
static pthread_cond_t not_empty = PTHREAD_COND_INITIALIZER;
static struct batch *q_head, *q_tail;
static long q_len, producers_left;

static void *producer(void *arg)
{
	long me = (long)(intptr_t)arg;
	long share = batches / nprod + (me < batches % nprod);
	struct bench_rng rng;

	bench_rng_seed(&rng, 500 + (uint64_t)me);
	for (long b = 0; b < share; b++) {
		struct batch *bt = bench_xmalloc(
			sizeof *bt + (size_t)batch_len * sizeof bt->blk[0]);

		bt->next = NULL;
		for (long i = 0; i < batch_len; i++) {
			size_t n = bench_rng_range(&rng, 8, 1024);
			bt->blk[i] = bench_xmalloc(n);
			bt->blk[i][0] = (unsigned char)n;
		}
		pthread_mutex_lock(&mu);
		while (q_len >= qmax)
			pthread_cond_wait(&not_full, &mu);
		if (q_tail)
			q_tail->next = bt;
		else
			q_head = bt;
		q_tail = bt;
		q_len++;
		pthread_cond_signal(&not_empty);
		pthread_mutex_unlock(&mu);
	}
	pthread_mutex_lock(&mu);
	if (--producers_left == 0)
		pthread_cond_broadcast(&not_empty);
	pthread_mutex_unlock(&mu);
	return NULL;
}

static void *consumer(void *arg)
{
	unsigned long sum = 0;

	for (;;) {
		struct batch *bt;

		pthread_mutex_lock(&mu);
		while (!q_head && producers_left > 0)
			pthread_cond_wait(&not_empty, &mu);
		bt = q_head;
		if (bt) {
			q_head = bt->next;
			if (!q_head)
				q_tail = NULL;
			q_len--;
			pthread_cond_signal(&not_full);
		}
		pthread_mutex_unlock(&mu);
		if (!bt)
			break;
		for (long i = 0; i < batch_len; i++) {
			sum += bt->blk[i][0];
			free(bt->blk[i]);
		}
		free(bt);
	}
	*(unsigned long *)arg = sum;
	return NULL;
}

int main(int argc, char **argv)
{
	long threads = bench_arg(argc, argv, 1, 4);
	pthread_t *th;
	unsigned long *sums, sum = 0;
	char extra[64];
	double t0, t1;

	batches = bench_arg(argc, argv, 2, 8000);
	batch_len = bench_arg(argc, argv, 3, 256);
	qmax = bench_arg(argc, argv, 4, 64);
	if (threads < 2 || threads > 1024 || batches < 0 || batch_len < 1 ||
	    qmax < 1)
		return 2;
	nprod = threads / 2;
	ncons = threads - nprod;
	producers_left = nprod;
	th = bench_xmalloc((size_t)threads * sizeof *th);
	sums = bench_xmalloc((size_t)ncons * sizeof *sums);

	t0 = bench_now();
	for (long i = 0; i < threads; i++) {
		int e = i < nprod
			? pthread_create(&th[i], NULL, producer,
					 (void *)(intptr_t)i)
			: pthread_create(&th[i], NULL, consumer,
					 &sums[i - nprod]);
		if (e) {
			fprintf(stderr, "pthread_create failed\n");
			return 2;
		}
	}
	for (long i = 0; i < threads; i++)
		pthread_join(th[i], NULL);
	t1 = bench_now();

	for (long i = 0; i < ncons; i++)
		sum += sums[i];
	free(sums);
	free(th);
	bench_sink((void *)sum);
	snprintf(extra, sizeof extra, "threads=%ld", threads);
	bench_report("xmalloc", t1 - t0, 2 * batches * batch_len, extra);
	return 0;
}
