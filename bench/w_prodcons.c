/*
 * w_prodcons - producer/consumer pair.
 *
 * The producer mallocs blocks of random sizes 16..256, writes a byte into
 * each and pushes the pointer through a single-producer/single-consumer
 * lock-free ring; the consumer pops, reads the byte and frees the block.
 * A thread that finds the ring full/empty spins briefly, then yields (the
 * benchmark machine has only two cores and other work running).
 *
 * usage: w_prodcons [items=1000000] [ring=4096]
 */
#include "bench.h"
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#define CACHELINE 64

static long items;
static size_t ring_size; /* a power of two */
static unsigned char **ring;
static _Alignas(CACHELINE) atomic_size_t head; /* next slot to fill */
static _Alignas(CACHELINE) atomic_size_t tail; /* next slot to drain */
static _Alignas(CACHELINE) unsigned long consumed_sum;

static void backoff(unsigned *spins)
{
	if (++*spins < 64)
		__asm__ __volatile__("" ::: "memory");
	else {
		sched_yield();
		*spins = 0;
	}
}

static void *producer(void *arg)
{
	struct bench_rng rng;
	size_t h = 0;

	(void)arg;
	bench_rng_seed(&rng, 7);
	for (long i = 0; i < items; i++) {
		size_t n = bench_rng_range(&rng, 16, 256);
		unsigned char *p = bench_xmalloc(n);
		unsigned spins = 0;

		p[0] = (unsigned char)n;
		while (h - atomic_load_explicit(&tail, memory_order_acquire) >=
		       ring_size)
			backoff(&spins);
		ring[h & (ring_size - 1)] = p;
		atomic_store_explicit(&head, ++h, memory_order_release);
	}
	return NULL;
}

static void *consumer(void *arg)
{
	unsigned long sum = 0;
	size_t t = 0;

	(void)arg;
	for (long i = 0; i < items; i++) {
		unsigned spins = 0;
		unsigned char *p;

		while (atomic_load_explicit(&head, memory_order_acquire) == t)
			backoff(&spins);
		p = ring[t & (ring_size - 1)];
		atomic_store_explicit(&tail, ++t, memory_order_release);
		sum += p[0];
		free(p);
	}
	consumed_sum = sum;
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t pt, ct;
	long rs;
	double t0, t1;

	items = bench_arg(argc, argv, 1, 1000000);
	rs = bench_arg(argc, argv, 2, 4096);
	if (items < 0 || rs < 2 || (rs & (rs - 1)) != 0)
		return 2;
	ring_size = (size_t)rs;
	ring = bench_xmalloc(ring_size * sizeof *ring);

	t0 = bench_now();
	if (pthread_create(&ct, NULL, consumer, NULL) ||
	    pthread_create(&pt, NULL, producer, NULL)) {
		fprintf(stderr, "pthread_create failed\n");
		return 2;
	}
	pthread_join(pt, NULL);
	pthread_join(ct, NULL);
	t1 = bench_now();

	free(ring);
	bench_sink((void *)consumed_sum);
	bench_report("prodcons", t1 - t0, 2 * items, NULL);
	return 0;
}
