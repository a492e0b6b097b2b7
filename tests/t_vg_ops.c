/* A seeded random workload through the pm_* names only, for
 * tests/valgrind.sh: memcheck replaces malloc & co. in the program and in
 * libc but leaves pm_malloc alone, so the allocator's own code runs under
 * it (uninitialised reads, stray accesses outside the mappings, bad
 * syscall arguments).  Also a plain test: built and run by make check.
 * Argument: number of operations (default 40000). */
#include <pthread.h>
#include "pmalloc.h"
#include "heapops.h"

static void *memalign_(size_t a, size_t n) { return pm_memalign(a, n); }

static long worker_ops;

static void *worker(void *arg)
{
	uint64_t rng = (uintptr_t)arg | 1;
	void *slots[256] = { 0 };
	for (long i = 0; i < worker_ops; i++) {
		int k = (int)(test_rand(&rng) % 256);
		if (slots[k]) {
			pm_free(slots[k]);
			slots[k] = NULL;
		} else {
			size_t n = test_rand(&rng) % 3000;
			slots[k] = i % 7 ? pm_malloc(n) : pm_calloc(1, n);
			if (slots[k])
				memset(slots[k], 0x6b, n);
		}
	}
	for (int k = 0; k < 256; k++)
		pm_free(slots[k]);
	return NULL;
}

int main(int argc, char **argv)
{
	long nops = argc > 1 ? atol(argv[1]) : 40000;
	worker_ops = nops / 2;
	struct heap_api api = { pm_malloc, pm_free, pm_calloc, pm_realloc,
				memalign_, pm_usable_size, pm_heap_check };
	CHECK_EQ(run_heapops(&api, 99, 1500, nops), 0);
	pthread_t t[3];
	for (int i = 0; i < 3; i++)
		CHECK(pthread_create(&t[i], NULL, worker,
				     (void *)(uintptr_t)(i + 5)) == 0);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	void *p = NULL;
	CHECK(pm_posix_memalign(&p, 4096, 10000) == 0 && p);
	pm_free(p);
	int rc = pm_heap_check();
	CHECK_MSG(rc == 0, "pm_heap_check: %d %s", rc, pm_errmsg());
	return test_end();
}
