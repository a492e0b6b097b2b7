/* Seeded random malloc/calloc/realloc/memalign/free sequences through the
 * interposed names, checked against a shadow model and the heap checker. */
#include <malloc.h>
#include "pmalloc.h"
#include "heapops.h"

static size_t usable(const void *p) { return malloc_usable_size((void *)p); }

int main(int argc, char **argv)
{
	struct heap_api api = { malloc, free, calloc, realloc, memalign,
				usable, pm_heap_check };
	uint64_t seeds[] = { 1, 42, 0xdeadbeef, 20261125 };
	if (argc > 1)
		seeds[0] = strtoull(argv[1], NULL, 0);
	for (unsigned i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
		int bad = run_heapops(&api, seeds[i], 4000, 60000);
		CHECK_MSG(bad == 0, "seed %llu: %d failures",
			  (unsigned long long)seeds[i], bad);
	}
	/* the blocks really are in the region */
	void *p = malloc(100), *q = malloc(1 << 20);
	struct pm_heap_info hi;
	CHECK_EQ(pm_heap_info(&hi), 0);
	CHECK_LT((uintptr_t)p - hi.base, hi.size);
	CHECK_LT((uintptr_t)q - hi.base, hi.size);
	CHECK(hi.base == 0xe0000000UL || getenv("PMALLOC_BASE"));
	free(p);
	free(q);
	CHECK_EQ(pm_heap_check(), 0);
	return test_end();
}
