/*
 * tests/ring.h - a producer and a consumer of small blocks through a
 * ring (t_threads, t_fork, t_ckpt_state): the consumer's cache fills and
 * hands chains to the class's transfer stack, the producer's empties and
 * takes them.  A test may define RING_ALLOC(i, n) before including this
 * (the block for step i, its size into n; default: 24..72 bytes).
 */
#ifndef PM_TEST_RING_H
#define PM_TEST_RING_H

#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#ifndef RING_ALLOC
#define RING_ALLOC(i, n) ((n) = 24 + ((i) % 4) * 16, malloc(n))
#endif

#define RING 1024
static void *_Atomic ring[RING];
static atomic_int ring_stop;

static void *ring_producer(void *arg)
{
	(void)arg;
	for (unsigned i = 0; !atomic_load(&ring_stop); i++) {
		size_t n;
		void *p = RING_ALLOC(i, n), *none = NULL;
		if (!p)
			continue;
		memset(p, 0x4d, n);
		while (!atomic_compare_exchange_weak(&ring[i % RING], &none, p)) {
			none = NULL;
			if (atomic_load(&ring_stop)) {
				free(p);
				return NULL;
			}
			sched_yield();
		}
	}
	return NULL;
}

static void *ring_consumer(void *arg)
{
	(void)arg;
	for (unsigned i = 0;;) {
		unsigned char *p = atomic_exchange(&ring[i % RING], NULL);
		if (p) {
			if (p[0] != 0x4d)
				abort();
			free(p);
			i++;
		} else if (atomic_load(&ring_stop)) {
			break;
		} else {
			sched_yield();
		}
	}
	return NULL;
}

/* After both are joined: what is left in the ring. */
static void ring_free(void)
{
	for (int i = 0; i < RING; i++)
		free(atomic_exchange(&ring[i], NULL));
}

#endif /* PM_TEST_RING_H */
