/* The allocator core under ASan+UBSan, through the prefixed API only
 * (ASan owns malloc here).  Random sequences, then threads. */
#include <pthread.h>
#include "pmalloc.h"
#include "heapops.h"

static void *memalign_(size_t a, size_t n) { return pm_memalign(a, n); }

static void *worker(void *arg)
{
	uint64_t rng = (uintptr_t)arg;
	void *slots[512] = { 0 };
	for (int i = 0; i < 100000; i++) {
		int k = (int)(test_rand(&rng) % 512);
		if (slots[k]) {
			pm_free(slots[k]);
			slots[k] = NULL;
		} else {
			size_t n = test_rand(&rng) % 2000;
			slots[k] = pm_malloc(n);
			memset(slots[k], 0x5a, n);
		}
	}
	for (int k = 0; k < 512; k++)
		pm_free(slots[k]);
	return NULL;
}

int main(void)
{
	struct heap_api api = { pm_malloc, pm_free, pm_calloc, pm_realloc,
				memalign_, pm_usable_size, pm_heap_check };
	CHECK_EQ(run_heapops(&api, 7, 2000, 60000), 0);
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)(i + 9));
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	CHECK_EQ(pm_heap_check(), 0);
	return test_end();
}
