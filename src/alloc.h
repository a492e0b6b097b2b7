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
	if (likely(tc != NULL) && likely(n <= TC_MAXREQ) && !transient) {
		void *b = pm__tc_pop(tc, pm__tc_class_of_request(n));
		if (likely(b != NULL))
			return b;
	}
	return pm__malloc_slow(n, transient);
}

static inline void pm__free(void *p)
{
	struct pm_tcache *tc = pm__tls_tc;
	uintptr_t off = (uintptr_t)p - (tc ? tc->lo : 0);
	/* a 16-aligned address of the persistent arena: the offset rotated
	 * right by 4 is below the arena's length / 16 (see pm__tc_pop) */
	if (likely(tc != NULL) && likely(((off >> 4) | (off << 60)) < tc->span16)) {
		size_t head = pm__block_head(p);
		size_t sz = pm__head_size(head);
		/* in use and not PM_CHUNK_EARLY (those go the slow way) */
		if (likely(pm__head_cacheable(head) && sz < TC_CHUNK_LIMIT &&
			   sz >= PM_CHUNK_MIN)) {
			unsigned cls = pm__tc_class_of_chunk(sz);
			if (likely(pm__tc_push(tc, cls, p)))
				return;
			pm__tc_overflow(tc, cls, p);
			return;
		}
	}
	pm__free_slow(p);
}
#endif
