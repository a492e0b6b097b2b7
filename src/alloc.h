/*
 * alloc.h - the malloc family's fast paths, inlined into interpose.c and
 * the pm_ entry points.  The slow paths are in alloc.c.
 *
 * Routing: a request goes to the transient arena when `transient` is set
 * (before main(), or called from libc/ld.so themselves: FILE buffers, DIR
 * streams, dlopen state...), to the persistent arena otherwise.  A block
 * is freed into the arena its address lies in.
 */
#ifndef PM_ALLOC_H
#define PM_ALLOC_H
#include "tcache.h"

/* pm__pbase, pm__plen (tcache.h): process-level copies of the persistent
 * arena's range (not in the region: they are this process's view). */

void *pm__malloc_slow(size_t n, int transient);
void pm__free_slow(void *p);
void *pm__calloc(size_t nmemb, size_t size, int transient);
void *pm__realloc(void *p, size_t n, int transient);
void *pm__memalign(size_t align, size_t n, int transient);
size_t pm__usable_size(const void *p);

/* Is a call from return address `ra` one to serve from the transient
 * arena?  After main() starts, libc's and ld.so's own requests are.
 * Before (phase 0: init.c sets range 0 to the whole address space until
 * the executable's constructors run), all are but those of the libraries
 * whose globals a checkpoint holds (pm__early_transient). */
struct pm_ranges {
	uintptr_t lo0, len0, lo1, len1;
};
extern struct pm_ranges pm__transient_code;
int pm__early_transient(uintptr_t ra);

static inline int pm__transient_caller(uintptr_t ra)
{
	const struct pm_ranges *r = &pm__transient_code;
	if (ra - r->lo1 < r->len1)
		return 1;
	if (ra - r->lo0 < r->len0)
		return likely(pm__phase != 0) || pm__early_transient(ra);
	return 0;
}

/* The same rule for the libc functions that make memory for their caller
 * (owned.c): transient only before main(), for the run-time. */
static inline int pm__owned_transient(uintptr_t ra)
{
	return unlikely(pm__phase == 0) && pm__early_transient(ra);
}

static inline void *pm__malloc(size_t n, int transient)
{
	struct pm_tcache *tc = pm__tls_tc;
	/* the small classes' test first: one comparison for most requests */
	if (likely(n <= 1024 - 23) || n <= TC_MAXREQ) {
		if (!transient) { /* pm__tc_none: the pop fails */
			void *b = pm__tc_pop(tc, pm__tc_class_of_request(n));
			if (likely(b != NULL))
				return b;
		}
	}
	return pm__malloc_slow(n, transient);
}

/* free of anything but a small block the cache takes at once (alloc.c). */
void pm__free_more(void *p);

static inline void pm__free(void *p)
{
	struct pm_tcache *tc = pm__tls_tc; /* pm__tc_none: the test fails */
	uint64_t mark = TC_KEY;             /* read once: set at start-up */
	tc->busy = 1;
	PM_BARRIER();
	uintptr_t off = (uintptr_t)p - tc->lo;
	/* a 16-aligned address of the persistent arena: the offset rotated
	 * right by 4 is below the arena's length / 16 (see pm__tc_pop;
	 * span16 is 0 while the caches are stopped) */
	if (likely(((off >> 4) | (off << 60)) < tc->span16)) {
		/* The small class of an in-use block that is not
		 * PM_CHUNK_EARLY, in one test: with CINUSE flipped and PINUSE
		 * cleared, such a head is its size (bits 0-3 clear; any other
		 * flag leaves a bit that the rotation makes huge), and size /
		 * 16 < TC_NSMALL is a small chunk.  Classes 0 and 1 (sizes 0
		 * and 16: no chunk is that small) have no room. */
		size_t h = (pm__block_head(p) ^ PM_CHUNK_CINUSE) &
			   ~PM_CHUNK_PINUSE;
		size_t cls = (h >> 4) | (h << 60);
		if (likely(cls < TC_NSMALL) &&
		    likely(pm__block_key_get(p) != mark)) {
			unsigned room = tc->room[cls];
			if (likely(room != 0)) {
				PM_ASSERT(pm__chunk_size(pm__chunk_of(p)) ==
					  (cls << 4));
				*pm__block_link(p) = tc->head[cls];
				*pm__block_key(p) = mark;
				tc->head[cls] = p;
				tc->room[cls] = (uint16_t)(room - 1);
				PM_BARRIER();
				tc->busy = 0;
				return;
			}
		}
	}
	PM_BARRIER();
	tc->busy = 0;
	pm__free_more(p);
}
#endif
