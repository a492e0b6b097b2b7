/*
 * check.c - the full invariant walk of both arenas (tests, the CLI, debug
 * builds).  It reads the chunk headers directly and reports the first
 * broken invariant through pm_errmsg(); it never aborts.
 *
 * Checked: chunks tile [first, top_end) with sane sizes; the PINUSE bit of
 * every chunk matches its predecessor's state; free chunks have correct
 * footers, are never adjacent, and are each in the right bin exactly once;
 * bins are well linked, large bins sorted with an exact ring of one
 * leader per size, bitmaps exact; byte totals
 * match; every cached block is an in-use chunk of its class.
 */
#include "tcache.h"
#include <string.h>

#define HEAD(c) (((size_t *)(c))[1])
#define SIZE(c) (HEAD(c) & ~(size_t)15)
#define FD(c) (((uintptr_t *)(c))[2])
#define BK(c) (((uintptr_t *)(c))[3])
#define FD_SIZE(c) (((uintptr_t *)(c))[4])
#define BK_SIZE(c) (((uintptr_t *)(c))[5])

/* A large bin's ring of leaders: exactly the first chunk of each size, in
 * size order, doubly linked; the other chunks' links NULL. */
static int check_ring(uintptr_t h, int b, const char *name)
{
	uintptr_t first = FD(h), expect = first;
	if (first == h)
		return 0;
	for (uintptr_t p = first; p != h; p = FD(p)) {
		int leader = p == first || SIZE(BK(p)) != SIZE(p);
		if (!leader) {
			if (FD_SIZE(p) || BK_SIZE(p))
				return pm__err(PM_ECORRUPT,
					       "%s arena: large bin %d: %p has "
					       "size links but is not the first "
					       "of its size",
					       name, b, (void *)p);
			continue;
		}
		if (p != expect || !FD_SIZE(p) || BK_SIZE(FD_SIZE(p)) != p)
			return pm__err(PM_ECORRUPT,
				       "%s arena: large bin %d: size ring "
				       "broken at %p",
				       name, b, (void *)p);
		expect = FD_SIZE(p);
	}
	if (expect != first)
		return pm__err(PM_ECORRUPT,
			       "%s arena: large bin %d: size ring does not "
			       "close",
			       name, b);
	return 0;
}

static int bin_of(size_t sz)
{
	if (sz < 1024)
		return (int)(sz >> 4);
	unsigned k = 63u - (unsigned)__builtin_clzl(sz);
	unsigned i = (k - 10) * 4 + (unsigned)((sz >> (k - 2)) & 3);
	return PM_NSMALL + (int)(i < PM_NLARGE ? i : PM_NLARGE - 1);
}

static uintptr_t bin_head(struct pm_arena *a, int b)
{
	return (uintptr_t)&a->bins[2 * b] - 16;
}

static int check_arena(struct pm_arena *a, const char *name)
{
	uintptr_t c = pm__arena_first(a), prev_free = 0;
	size_t nfree = 0, free_bytes = 0, live = 0;
	int prev_inuse = 1;
	if (a->top < c || a->top >= a->top_end || a->top_end > a->hi)
		return pm__err(PM_ECORRUPT, "%s arena: top %p outside [%p, %p)",
			       name, (void *)a->top, (void *)c,
			       (void *)a->top_end);
	while (c < a->top) {
		size_t sz = SIZE(c);
		int inuse = (HEAD(c) & 2) != 0;
		if (sz < 32 || (sz & 15) || c + sz > a->top)
			return pm__err(PM_ECORRUPT,
				       "%s arena: chunk %p has bad size %zu",
				       name, (void *)c, sz);
		if (((HEAD(c) & 1) != 0) != prev_inuse)
			return pm__err(PM_ECORRUPT,
				       "%s arena: chunk %p PINUSE does not match "
				       "its predecessor",
				       name, (void *)c);
		if (!inuse) {
			if (prev_free)
				return pm__err(PM_ECORRUPT,
					       "%s arena: free chunks %p and %p "
					       "adjacent",
					       name, (void *)prev_free, (void *)c);
			if (((size_t *)(c + sz))[0] != sz)
				return pm__err(PM_ECORRUPT,
					       "%s arena: free chunk %p footer "
					       "mismatch",
					       name, (void *)c);
			/* it must be in its bin */
			int b = bin_of(sz), found = 0;
			uintptr_t h = bin_head(a, b);
			size_t guard = 0;
			for (uintptr_t p = FD(h); p != h && guard < (1u << 24);
			     p = FD(p), guard++)
				if (p == c) {
					found = 1;
					break;
				}
			if (!found)
				return pm__err(PM_ECORRUPT,
					       "%s arena: free chunk %p (size "
					       "%zu) not in bin %d",
					       name, (void *)c, sz, b);
			nfree++;
			free_bytes += sz;
			prev_free = c;
		} else {
			live += sz;
			prev_free = 0;
		}
		prev_inuse = inuse;
		c += sz;
	}
	if (c != a->top)
		return pm__err(PM_ECORRUPT, "%s arena: chunks end at %p, not at "
					    "top %p",
			       name, (void *)c, (void *)a->top);
	if (prev_free)
		return pm__err(PM_ECORRUPT,
			       "%s arena: free chunk %p next to top", name,
			       (void *)prev_free);
	if (((HEAD(a->top) & 1) != 0) != prev_inuse)
		return pm__err(PM_ECORRUPT, "%s arena: top PINUSE wrong", name);
	if (c + SIZE(c) != a->top_end)
		return pm__err(PM_ECORRUPT,
			       "%s arena: top size %zu does not reach %p", name,
			       SIZE(c), (void *)a->top_end);
	/* bins: links, sizes, order, bitmaps, counts */
	size_t binned = 0, binned_bytes = 0;
	for (int b = 0; b < PM_NSMALL + PM_NLARGE; b++) {
		uintptr_t h = bin_head(a, b);
		int empty = FD(h) == h;
		uint64_t map = b < PM_NSMALL ? a->smallmap : a->largemap;
		int bit = b < PM_NSMALL ? b : b - PM_NSMALL;
		if (empty != !((map >> bit) & 1))
			return pm__err(PM_ECORRUPT,
				       "%s arena: bitmap wrong for bin %d", name,
				       b);
		size_t last = 0;
		for (uintptr_t p = FD(h); p != h; p = FD(p)) {
			if (p < pm__arena_first(a) || p >= a->top ||
			    BK(FD(p)) != p)
				return pm__err(PM_ECORRUPT,
					       "%s arena: bin %d broken at %p",
					       name, b, (void *)p);
			size_t sz = SIZE(p);
			if ((HEAD(p) & 2) || bin_of(sz) != b)
				return pm__err(PM_ECORRUPT,
					       "%s arena: chunk %p (size %zu) "
					       "wrongly in bin %d",
					       name, (void *)p, sz, b);
			if (b >= PM_NSMALL && sz < last)
				return pm__err(PM_ECORRUPT,
					       "%s arena: large bin %d not "
					       "sorted at %p",
					       name, b, (void *)p);
			last = sz;
			binned++;
			binned_bytes += sz;
			if (binned > nfree)
				return pm__err(PM_ECORRUPT,
					       "%s arena: more binned chunks "
					       "than free chunks",
					       name);
		}
	}
	for (int b = PM_NSMALL; b < PM_NSMALL + PM_NLARGE; b++) {
		int r = check_ring(bin_head(a, b), b, name);
		if (r)
			return r;
	}
	if (binned != nfree || binned_bytes != free_bytes ||
	    free_bytes != a->free_bytes)
		return pm__err(PM_ECORRUPT,
			       "%s arena: %zu free chunks (%zu bytes), %zu "
			       "binned (%zu bytes), books say %zu bytes",
			       name, nfree, free_bytes, binned, binned_bytes,
			       a->free_bytes);
	/* fast lists: deferred frees, still marked in use */
	size_t fast = 0;
	for (unsigned i = 0; i < PM_NSMALL; i++) {
		size_t guard = 0;
		for (uintptr_t b = a->fast[i]; b; b = *(uintptr_t *)b) {
			uintptr_t c2 = b - 16;
			if (c2 < pm__arena_first(a) || c2 >= a->top ||
			    !(HEAD(c2) & 2) || SIZE(c2) != (size_t)i << 4 ||
			    ((uint64_t *)b)[1] != PM_FREE_KEY ||
			    ++guard > (a->top - pm__arena_first(a)) / 32)
				return pm__err(PM_ECORRUPT,
					       "%s arena: fast list %u: bad "
					       "block %p",
					       name, i, (void *)b);
			fast += (size_t)i << 4;
		}
	}
	if (fast != a->fast_bytes)
		return pm__err(PM_ECORRUPT,
			       "%s arena: fast lists hold %zu bytes, books say "
			       "%zu",
			       name, fast, a->fast_bytes);
	if (live != a->live_bytes + a->fast_bytes)
		return pm__err(PM_ECORRUPT,
			       "%s arena: in-use chunks hold %zu bytes, books "
			       "say %zu live + %zu deferred",
			       name, live, a->live_bytes, a->fast_bytes);
	return 0;
}

static int check_caches(void)
{
	for (uintptr_t t = pm__region->tcaches; t;
	     t = ((struct pm_tcache *)t)->next) {
		struct pm_tcache *tc = (struct pm_tcache *)t;
		if (!pm__in_persistent(t))
			return pm__err(PM_ECORRUPT, "thread cache %p outside "
						    "the persistent arena",
				       (void *)tc);
		for (unsigned i = 0; i < TC_NCLASS; i++) {
			unsigned n = 0;
			for (void *b = tc->head[i]; b; b = *(void **)b, n++) {
				uintptr_t c = (uintptr_t)b - 16;
				if (!pm__in_persistent(c) || !(HEAD(c) & 2) ||
				    SIZE(c) < 32 || SIZE(c) >= TC_CHUNK_LIMIT ||
				    pm__tc_class_of_chunk(SIZE(c)) != i ||
				    ((uint64_t *)b)[1] != TC_KEY ||
				    n > (unsigned)(pm__tc_cap[i] - tc->room[i]))
					return pm__err(PM_ECORRUPT,
						       "thread cache %p class "
						       "%u: bad block %p (head "
						       "%zx, key %zx)",
						       (void *)tc, i, b,
						       HEAD(c),
						       (size_t)((uint64_t *)b)[1]);
			}
			if (n != (unsigned)(pm__tc_cap[i] - tc->room[i]))
				return pm__err(PM_ECORRUPT,
					       "thread cache %p class %u: "
					       "room %u, list %u",
					       (void *)tc, i, tc->room[i], n);
		}
	}
	return 0;
}

PM_EXPORT int pm_heap_check(void)
{
	if (pm__ensure_init())
		return pm__err(PM_ENOHEAP, "no heap");
	if (pm__region->magic != PM_REGION_MAGIC)
		return pm__err(PM_ECORRUPT, "region header magic is wrong");
	/* stop the caches so that other threads' lists hold still */
	pm__lock_persistent();
	pm__lock_transient();
	pm__tc_stop_all();
	int r = check_arena(&pm__region->p, "persistent");
	if (!r)
		r = check_arena(pm__transient, "transient");
	if (!r)
		r = check_caches();
	pm__tc_start_all();
	pm__unlock_transient();
	pm__unlock_persistent();
	return r;
}
