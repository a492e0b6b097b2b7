/*
 * heap_free.c - giving memory back: free (deferred onto the fast lists for
 * small chunks, coalesced and binned for the others), the check of a block
 * handed to free/realloc, the fast lists' bulk operations for the thread
 * caches, consolidation, and returning pages to the OS (trim, and the
 * interiors of large free runs).
 *
 * Invariants kept: coalescing is immediate (no two adjacent free chunks
 * after free_chunk); a fast-list block stays an in-use chunk carrying
 * PM_FREE_KEY and is counted in fast_bytes, not live_bytes; a page given
 * back reads as zero and never holds a chunk header or link (only whole
 * pages past PM_FREE_HDR of a free chunk, or past top's first 32 bytes,
 * are released).  The caller holds the arena's lock.
 */
#include "heap.h"

void pm__check_block(struct pm_arena *a, const void *p, const char *call)
{
	struct pm_chunk *c = pm__chunk_of(p);
	uintptr_t u = (uintptr_t)c;
	char msg[64];
	if (unlikely(pm__misaligned((uintptr_t)p) || u < pm__arena_first(a) ||
		     u >= a->top)) {
		pm__fmt(msg, sizeof msg, "%s(): invalid pointer", call);
		pm__fatal(msg, p);
	}
	size_t sz = pm__chunk_size(c);
	if (unlikely(!(c->head & PM_CHUNK_CINUSE) ||
		     (pm__block_key_get(p) == PM_FREE_KEY &&
		      pm__arena_fast_has(a, (void *)p)))) {
		pm__fmt(msg, sizeof msg,
			"%s(): double free or not a live block", call);
		pm__fatal(msg, p);
	}
	if (unlikely(sz < PM_CHUNK_MIN || pm__misaligned(sz) ||
		     u + sz > a->top ||
		     !(pm__chunk_next(c)->head & PM_CHUNK_PINUSE))) {
		pm__fmt(msg, sizeof msg, "%s(): invalid pointer (bad size)",
			call);
		pm__fatal(msg, p);
	}
}

/* Give back the whole pages strictly inside a free chunk's payload (past
 * its header and links). */
static void release_interior(struct pm_arena *a, struct pm_chunk *c, size_t sz)
{
	uintptr_t lo =
		((uintptr_t)c + PM_FREE_HDR + PM_PAGE - 1) & ~(PM_PAGE - 1);
	uintptr_t hi = ((uintptr_t)c + sz) & ~(PM_PAGE - 1);
	if (hi > lo) {
		pm__os_release((void *)lo, hi - lo);
		a->released += hi - lo;
	}
}

/* Free chunk c for real: coalesce, bin, maybe release pages.  The caller
 * has already taken its bytes off live_bytes or fast_bytes. */
void pm__free_chunk(struct pm_arena *a, struct pm_chunk *c)
{
	size_t sz = pm__chunk_size(c), biggest = sz;
	struct pm_chunk *own = c; /* the chunk being freed, before merging */
	size_t own_sz = sz;
	c->head &= ~PM_CHUNK_CINUSE; /* so a second free of p is caught */
	if (!(c->head &
	      PM_CHUNK_PINUSE)) { /* merge with the free predecessor */
		size_t psz = c->prev_foot;
		if (psz > biggest)
			biggest = psz;
		struct pm_chunk *pc = pm__chunk_prev(c);
		if (unlikely(psz < PM_CHUNK_MIN ||
			     (uintptr_t)c - pm__arena_first(a) < psz ||
			     pm__chunk_size(pc) != psz ||
			     (pc->head & PM_CHUNK_CINUSE)))
			pm__fatal(
				"free(): corrupted size of the previous chunk",
				pm__chunk_mem(own));
		pm__bin_remove(a, pc, psz);
		sz += psz;
		c = pc;
	}
	struct pm_chunk *n = chunk_plus(c, sz);
	if ((uintptr_t)n == a->top) { /* merge into top */
		sz += pm__chunk_size(n);
		c->head = sz | PM_CHUNK_PINUSE;
		a->top = (uintptr_t)c;
		if (sz > a->trim_threshold)
			pm__arena_trim(a, a->trim_threshold / 2);
		return;
	}
	if (!(n->head & PM_CHUNK_CINUSE)) { /* merge with the free successor */
		size_t nsz = pm__chunk_size(n);
		pm__bin_chunk_check(a, n, nsz);
		pm__bin_remove(a, n, nsz);
		sz += nsz;
		if (nsz > biggest)
			biggest = nsz;
	}
	c->head = sz | PM_CHUNK_PINUSE;
	set_foot(c, sz);
	pm__chunk_next(c)->head &= ~PM_CHUNK_PINUSE;
	pm__bin_insert(a, c, sz);
	/* A large free run goes back to the OS once; a small free that joins
	 * a run already given back gives back only its own pages (the joins
	 * are at most a page each). */
	if (sz >= a->trim_threshold) {
		if (biggest < a->trim_threshold)
			release_interior(a, c, sz);
		else
			release_interior(a, own, own_sz);
	}
}

void pm__arena_free(struct pm_arena *a, void *p)
{
	struct pm_chunk *c = pm__chunk_of(p);
	size_t sz = pm__chunk_size(c);
	c->head &= ~PM_CHUNK_EARLY; /* whoever gets it next is not early */
	a->live_bytes -= sz;
	if (sz < PM_SMALL_LIMIT) { /* defer: onto the fast list */
		unsigned i = pm__small_index(sz);
		*pm__block_link(p) = (void *)a->fast[i];
		*pm__block_key(p) = PM_FREE_KEY;
		fast_run_set((uintptr_t)p, 1, (uintptr_t)p);
		a->fast[i] = (uintptr_t)p;
		a->fast_bytes += sz;
		PM_ASSERT_BOOKS(a);
		return;
	}
	pm__free_chunk(a, c);
	PM_ASSERT_BOOKS(a);
}

/* ---- fast lists --------------------------------------------------------- */

void pm__arena_fast_splice(struct pm_arena *a, size_t sz, void *first,
			   void *last, size_t n)
{
	unsigned i = pm__small_index(sz);
	*pm__block_link(last) = (void *)a->fast[i];
	fast_run_set((uintptr_t)first, n, (uintptr_t)last);
	a->fast[i] = (uintptr_t)first;
	a->live_bytes -= sz * n;
	a->fast_bytes += sz * n;
}

size_t pm__arena_fast_take(struct pm_arena *a, size_t sz, size_t max,
			   void **first, void **last)
{
	unsigned i = pm__small_index(sz);
	uintptr_t h = a->fast[i];
	if (!h || !max)
		return 0;
	/* the arena's bounds once, not per block */
	uintptr_t lo = pm__chunk_first(a->lo), top = a->top;
	fast_block_check_in(lo, top, h, sz, "malloc(): corrupted fast list");
	/* whole runs while they fit, without walking them: their blocks are
	 * checked as the cache hands them out (pm__tc_pop's range and key
	 * checks), their heads and tails here */
	uintptr_t b = h, end = 0, tail = 0;
	size_t n = 0, run;
	while ((run = fast_run_get(lo, top, b, sz, &tail)) != 0 &&
	       n + run <= max) {
		n += run;
		end = tail;
		b = fast_next(tail); /* the next run's head, as it is */
		if (!b || n == max)
			break;
		fast_block_check_in(lo, top, b, sz,
				    "malloc(): corrupted fast list");
	}
	if (n == 0) {
		/* the first run is longer than max (or unknown): walk max
		 * blocks of it, checking each; what is left of the run gets
		 * its run word */
		end = h;
		n = 1;
		for (uintptr_t nx; n < max && (nx = fast_next(end)) != 0; n++) {
			end = nx;
			fast_block_check_in(lo, top, end, sz,
					    "malloc(): corrupted fast list");
		}
		b = fast_next(end);
		if (b && run != n)
			fast_run_set(b, run > n ? run - n : 0,
				     run > n ? tail : 0);
	}
	a->fast[i] = b;
	a->fast_bytes -= n * sz;
	a->live_bytes += n * sz;
	if (a->live_bytes > a->peak)
		a->peak = a->live_bytes;
	*first = (void *)h;
	*last = (void *)end;
	return n;
}

int pm__arena_fast_has(struct pm_arena *a, void *p)
{
	size_t sz = pm__chunk_size(pm__chunk_of(p));
	if (sz >= PM_SMALL_LIMIT)
		return 0;
	for (uintptr_t b = a->fast[pm__small_index(sz)]; b; b = fast_next(b)) {
		fast_block_check(a, b, sz, "free(): corrupted fast list");
		if (b == (uintptr_t)p)
			return 1;
	}
	return 0;
}

void pm__arena_consolidate(struct pm_arena *a)
{
	for (unsigned i = 0; i < PM_NSMALL; i++) {
		uintptr_t b = a->fast[i];
		a->fast[i] = 0;
		while (b) {
			fast_block_check(a, b, pm__small_size(i),
					 "malloc(): corrupted fast list");
			uintptr_t n = fast_next(b);
			*pm__block_key((void *)b) = 0;
			pm__free_chunk(a, pm__chunk_of((void *)b));
			b = n;
		}
	}
	a->fast_bytes = 0;
	PM_ASSERT_BOOKS(a);
}

/* ---- trim --------------------------------------------------------------- */

int pm__arena_trim(struct pm_arena *a, size_t pad)
{
	struct pm_chunk *t = pm__chunk_at(a->top);
	if (pad > a->top_end - a->top)
		return 0;
	uintptr_t lo = ((uintptr_t)t + PM_CHUNK_MIN + pad + PM_PAGE - 1) &
		       ~(PM_PAGE - 1);
	int did = 0;
	if (lo < a->top_end && lo < a->zero_from) {
		/* pages past zero_from were never touched: nothing to give */
		pm__os_release((void *)lo, a->zero_from - lo);
		a->released += a->zero_from - lo;
		a->zero_from = lo;
		a->trim_mark = lo;
		did = 1;
	}
	return did;
}

int pm__arena_trim_all(struct pm_arena *a, size_t pad)
{
	pm__arena_consolidate(a);
	int did = pm__arena_trim(a, pad);
	for (unsigned b = 0; b < PM_NSMALL + PM_NLARGE; b++) {
		struct pm_chunk *h = bin_at(a, b);
		for (struct pm_chunk *c = h->fd; c != h; c = c->fd) {
			if (unlikely(!chunk_ok(a, (uintptr_t)c)))
				pm__fatal("malloc_trim(): corrupted free list",
					  c);
			if (pm__chunk_size(c) >= 2 * PM_PAGE + PM_FREE_HDR) {
				release_interior(a, c, pm__chunk_size(c));
				did = 1;
			}
		}
	}
	return did;
}
