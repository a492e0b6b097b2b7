/* Thread stress through the interposed names: 8 threads allocate blocks of
 * random sizes (16 B .. 64 KiB, mostly small) with malloc, calloc,
 * realloc and memalign, fill them with a pattern, and hand about half of
 * them to another thread through a mutex-protected mailbox; the receiver
 * checks the pattern and frees the block (cross-thread frees).  At the end
 * the heap checks clean and no block was damaged.
 * Then threads are created and exit over and over (each exit releases its
 * thread cache and its aligned reserves), and threads that only free
 * (their cache made by a free) exit with the blocks they freed cached:
 * the persistent arena's live bytes come back near where they started. */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include "pmalloc.h"
#include "testlib.h"

#define NTHREADS 8
#define OPS 60000
#define SLOTS 256
#define BOX 512

struct blk {
	unsigned char *p;
	size_t n;
	uint32_t seed;
	size_t align;
};

struct mailbox {
	pthread_mutex_t mu;
	struct blk q[BOX];
	unsigned head, count;
};

static struct mailbox boxes[NTHREADS];
static atomic_int producers_left = NTHREADS;
static atomic_long damaged, misaligned, failed_allocs, handed, received;

static unsigned char pattern(uint32_t seed, size_t i)
{
	return (unsigned char)(seed + i * 13u + (i >> 9));
}

static void fill(struct blk *b)
{
	for (size_t i = 0; i < b->n; i++)
		b->p[i] = pattern(b->seed, i);
}

static void verify(const struct blk *b, const char *who)
{
	for (size_t i = 0; i < b->n; i++)
		if (b->p[i] != pattern(b->seed, i)) {
			fprintf(stderr, "%s: block %p (%zu bytes) damaged at "
				"%zu\n", who, (void *)b->p, b->n, i);
			atomic_fetch_add(&damaged, 1);
			return;
		}
	if ((uintptr_t)b->p % b->align) {
		fprintf(stderr, "%s: block %p not %zu-aligned\n", who,
			(void *)b->p, b->align);
		atomic_fetch_add(&misaligned, 1);
	}
	if (malloc_usable_size(b->p) < b->n) {
		fprintf(stderr, "%s: block %p usable %zu < %zu\n", who,
			(void *)b->p, malloc_usable_size(b->p), b->n);
		atomic_fetch_add(&damaged, 1);
	}
}

static size_t pick(uint64_t *rng)
{
	uint64_t r = test_rand(rng);
	switch (r % 16) {
	case 0: return 16 + (r >> 8) % (64 * 1024 - 15);  /* up to 64 KiB */
	case 1: case 2: return 16 + (r >> 8) % 4096;
	default: return 16 + (r >> 8) % 240;             /* mostly small */
	}
}

static int mail_send(int to, const struct blk *b)
{
	struct mailbox *m = &boxes[to];
	int ok = 0;
	pthread_mutex_lock(&m->mu);
	if (m->count < BOX) {
		m->q[(m->head + m->count) % BOX] = *b;
		m->count++;
		ok = 1;
	}
	pthread_mutex_unlock(&m->mu);
	return ok;
}

/* Check and free everything in our mailbox; returns how many. */
static int drain(int me)
{
	struct blk local[BOX];
	unsigned n;
	struct mailbox *m = &boxes[me];
	pthread_mutex_lock(&m->mu);
	n = m->count;
	for (unsigned i = 0; i < n; i++)
		local[i] = m->q[(m->head + i) % BOX];
	m->head = (m->head + n) % BOX;
	m->count = 0;
	pthread_mutex_unlock(&m->mu);
	for (unsigned i = 0; i < n; i++) {
		verify(&local[i], "receiver");
		free(local[i].p);
	}
	atomic_fetch_add(&received, (long)n);
	return (int)n;
}

static void *worker(void *arg)
{
	int me = (int)(intptr_t)arg;
	uint64_t rng = 0x9e3779b97f4a7c15ULL * (uint64_t)(me + 1);
	struct blk slots[SLOTS];
	memset(slots, 0, sizeof slots);
	for (int op = 0; op < OPS; op++) {
		struct blk *b = &slots[test_rand(&rng) % SLOTS];
		unsigned kind = (unsigned)(test_rand(&rng) % 16);
		if (b->p && kind < 8) {
			verify(b, "owner");
			int to = (int)(test_rand(&rng) % NTHREADS);
			if (kind < 4 && to != me && mail_send(to, b)) {
				atomic_fetch_add(&handed, 1);
			} else {
				free(b->p);
			}
			b->p = NULL;
		} else if (b->p && kind < 11) {
			verify(b, "owner");
			size_t n = pick(&rng);
			unsigned char *q = realloc(b->p, n);
			if (!q) {
				atomic_fetch_add(&failed_allocs, 1);
				continue;
			}
			size_t keep = b->n < n ? b->n : n;
			for (size_t i = 0; i < keep; i++)
				if (q[i] != pattern(b->seed, i)) {
					fprintf(stderr, "realloc lost data\n");
					atomic_fetch_add(&damaged, 1);
					break;
				}
			b->p = q;
			b->n = n;
			b->align = 16;
			fill(b);
		} else if (!b->p) {
			size_t n = pick(&rng);
			b->align = 16;
			if (kind % 5 == 0) {
				b->p = calloc(1, n);
				for (size_t i = 0; b->p && i < n; i++)
					if (b->p[i]) {
						fprintf(stderr, "calloc: byte "
							"%zu not zero\n", i);
						atomic_fetch_add(&damaged, 1);
						break;
					}
			} else if (kind % 5 == 1) {
				b->align = (size_t)32 << (test_rand(&rng) % 8);
				b->p = memalign(b->align, n);
			} else {
				b->p = malloc(n);
			}
			if (!b->p) {
				atomic_fetch_add(&failed_allocs, 1);
				continue;
			}
			b->n = n;
			b->seed = (uint32_t)test_rand(&rng);
			fill(b);
		}
		if (op % 64 == 0)
			drain(me);
	}
	for (int i = 0; i < SLOTS; i++)
		if (slots[i].p) {
			verify(&slots[i], "owner");
			free(slots[i].p);
		}
	atomic_fetch_sub(&producers_left, 1);
	/* keep receiving until nobody can send any more */
	while (atomic_load(&producers_left) > 0)
		if (drain(me) == 0)
			sched_yield();
	drain(me);
	return NULL;
}

/* A thread that never allocates: it only frees what main made (its cache
 * is made by its first free), then exits with those blocks cached. */
static void *only_frees(void *arg)
{
	void **v = arg;
	for (int i = 0; i < 2000; i++)
		free(v[i]);
	return NULL;
}

/* The ring's producer: mostly small blocks; every eighth a medium aligned
 * block, carved from this thread's reserve while the consumer's frees of
 * the ones before it reach the arena (their successors' heads change
 * under the lock while this thread carves). */
#define RING_ALLOC(i, n)                                                       \
	((n) = (i) % 8 ? 24 + ((i) % 4) * 16 : 1000 + ((i) % 2000),            \
	 (i) % 8 ? malloc(n) : memalign((size_t)64 << ((i) / 8 % 6), n))
#include "ring.h"

static pthread_barrier_t parked;
static int park;

/* A short-lived thread: fill its cache with blocks of many classes. */
static void *churn(void *arg)
{
	uint64_t rng = (uintptr_t)arg | 1;
	void *v[400];
	for (int round = 0; round < 4; round++) {
		for (int i = 0; i < 400; i++) {
			size_t n = 8 + test_rand(&rng) % 1000;
			/* every fourth aligned: the thread's aligned reserves
			 * are in use when it exits */
			v[i] = i % 4 ? malloc(n)
				     : memalign((size_t)32 << (i / 4 % 8), n);
			if (v[i])
				memset(v[i], 0x33, 8);
		}
		for (int i = 0; i < 400; i++)
			free(v[i]);
	}
	/* exit holding a reserve of every alignment, partly carved */
	for (int k = 0; k < 8; k++)
		free(memalign((size_t)32 << k, 100));
	if (park) { /* let main see the filled caches */
		pthread_barrier_wait(&parked);
		pthread_barrier_wait(&parked);
	}
	/* and one block freed by the thread that did not allocate it */
	return malloc(200);
}

int main(void)
{
	pthread_t th[NTHREADS];
	for (int i = 0; i < NTHREADS; i++)
		pthread_mutex_init(&boxes[i].mu, NULL);
	for (int i = 0; i < NTHREADS; i++)
		CHECK(pthread_create(&th[i], NULL, worker,
				     (void *)(intptr_t)i) == 0);
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < NTHREADS; i++)
		CHECK_EQ(boxes[i].count, 0);
	CHECK_MSG(atomic_load(&damaged) == 0, "%ld damaged blocks",
		  atomic_load(&damaged));
	CHECK_MSG(atomic_load(&misaligned) == 0, "%ld misaligned",
		  atomic_load(&misaligned));
	CHECK_MSG(atomic_load(&failed_allocs) == 0, "%ld failed allocations",
		  atomic_load(&failed_allocs));
	CHECK_MSG(atomic_load(&handed) == atomic_load(&received),
		  "handed %ld, received %ld", atomic_load(&handed),
		  atomic_load(&received));
	CHECK_GT(atomic_load(&handed), NTHREADS * OPS / 20);
	fprintf(stderr, "stress: %ld blocks freed by another thread\n",
		atomic_load(&handed));
	int rc = pm_heap_check();
	CHECK_MSG(rc == 0, "pm_heap_check after stress: %d %s", rc,
		  pm_errmsg());

	/* transfer stacks in use: the heap check walks them while chains
	 * are given and taken */
	{
		pthread_t rp, rc2;
		CHECK(pthread_create(&rp, NULL, ring_producer, NULL) == 0);
		CHECK(pthread_create(&rc2, NULL, ring_consumer, NULL) == 0);
		for (int i = 0; i < 40; i++) {
			usleep(2000);
			rc = pm_heap_check();
			CHECK_MSG(rc == 0, "pm_heap_check with transfers: %d %s",
				  rc, pm_errmsg());
		}
		atomic_store(&ring_stop, 1);
		pthread_join(rp, NULL);
		pthread_join(rc2, NULL);
		ring_free();
	}

	/* Threads created and exiting repeatedly. */
	struct pm_heap_info before, after, during;
	void *mine = malloc(5000); /* something live of main's own */
	CHECK_EQ(pm_heap_info(&before), 0);
	/* first, the measure is sensitive: four threads with full caches */
	park = 1;
	pthread_barrier_init(&parked, NULL, 5);
	{
		pthread_t t[4];
		for (int i = 0; i < 4; i++)
			CHECK(pthread_create(&t[i], NULL, churn,
					     (void *)(intptr_t)(1000 + i)) == 0);
		pthread_barrier_wait(&parked);
		CHECK_EQ(pm_heap_info(&during), 0);
		pthread_barrier_wait(&parked);
		for (int i = 0; i < 4; i++) {
			void *ret = NULL;
			pthread_join(t[i], &ret);
			free(ret);
		}
	}
	park = 0;
	fprintf(stderr, "live with 4 cached threads: %zu -> %zu\n",
		before.live, during.live);
	CHECK_GT(during.live, before.live + 4 * 100000);
	for (int round = 0; round < 60; round++) {
		pthread_t t[4];
		for (int i = 0; i < 4; i++)
			CHECK(pthread_create(&t[i], NULL, churn,
					     (void *)(intptr_t)(round * 4 + i)) == 0);
		for (int i = 0; i < 4; i++) {
			void *ret = NULL;
			pthread_join(t[i], &ret);
			CHECK_PTR_NE(ret, NULL);
			free(ret);
		}
	}
	/* threads that only free: blocks of main's, aligned and not */
	for (int round = 0; round < 20; round++) {
		static void *v[2000];
		for (int i = 0; i < 2000; i++)
			v[i] = i % 3 ? malloc(16 + (size_t)(i * 7) % 2000)
				     : memalign((size_t)64 << (i % 7), 100 + (size_t)i);
		pthread_t t;
		CHECK(pthread_create(&t, NULL, only_frees, v) == 0);
		pthread_join(t, NULL);
	}
	CHECK_EQ(pm_heap_info(&after), 0);
	fprintf(stderr, "thread churn: live %zu -> %zu\n", before.live,
		after.live);
	/* 240 exited threads: had their caches (up to ~32 KiB per class)
	 * stayed, live would have grown by many MiB */
	CHECK_MSG(after.live <= before.live + (1u << 20),
		  "live grew from %zu to %zu after 240 thread exits",
		  before.live, after.live);
	free(mine);
	rc = pm_heap_check();
	CHECK_MSG(rc == 0, "pm_heap_check after churn: %d %s", rc, pm_errmsg());
	return test_end();
}
