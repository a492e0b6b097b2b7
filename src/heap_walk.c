/*
 * heap_walk.c - walks over an arena's chunks in address order, for the
 * code outside the allocator: the checkpoint writer's spans (what of the
 * persistent arena is worth saving), the globals analysis's "does this
 * word point into a live transient block", the restore's count of the
 * program's own live blocks, and the generic walk.
 *
 * They read chunk heads only (chunk.h) and stop at the first size that
 * cannot be right rather than follow it.  The caller holds the arena's
 * lock or has quiesced the heap.
 */
#include "heap.h"

size_t pm__block_chunksize(const void *p)
{
	return pm__chunk_size(pm__chunk_of(p));
}
size_t pm__block_usable(const void *p)
{
	return pm__chunk_size(pm__chunk_of(p)) - PM_CHUNK_OVERHEAD;
}

int pm__arena_walk(struct pm_arena *a,
		   int (*fn)(void *, uintptr_t, size_t, int), void *ctx)
{
	uintptr_t c = pm__arena_first(a);
	while (c < a->top) {
		size_t sz = pm__chunk_size(pm__chunk_at(c));
		if (sz < PM_CHUNK_MIN || c + sz > a->top)
			return fn(ctx, c, sz, -1); /* corrupt: let fn say */
		int r = fn(ctx, c, sz, pm__head_inuse(pm__chunk_at(c)->head));
		if (r)
			return r;
		c += sz;
	}
	return fn(ctx, a->top, pm__chunk_size(pm__chunk_at(a->top)), 0);
}

static int count_own(void *ctx, uintptr_t c, size_t sz, int inuse)
{
	if (inuse > 0 && !(pm__chunk_at(c)->head & PM_CHUNK_EARLY))
		*(size_t *)ctx += sz;
	return 0;
}

size_t pm__arena_own_bytes(struct pm_arena *a)
{
	size_t own = 0;
	pm__arena_walk(a, count_own, &own);
	return own;
}

int pm__transient_live(uintptr_t v)
{
	struct pm_arena *a = pm__transient_now();
	if (!a || v < pm__arena_first(a) || v >= a->top)
		return 0;
	/* chunks are in address order: walk until past v */
	uintptr_t c = pm__arena_first(a);
	while (c < a->top) {
		size_t head = pm__chunk_at(c)->head, sz = pm__head_size(head);
		if (sz < PM_CHUNK_MIN)
			return 0;
		if (v < c + sz)
			return pm__head_inuse(head) && v >= c + PM_CHUNK_MEM;
		c += sz;
	}
	return 0;
}

int pm__heap_spans(int (*fn)(void *, uintptr_t, uintptr_t), void *ctx)
{
	uintptr_t lo = pm__region->base; /* start of the pending span */
	struct pm_arena *a = &pm__region->p;
	uintptr_t c = pm__arena_first(a);
	int r;
	while (c <= a->top) {
		size_t head = pm__chunk_at(c)->head, sz = pm__head_size(head);
		int inuse = pm__head_inuse(head);
		if (c == a->top)
			inuse = 0, sz = a->top_end - c;
		if (!inuse) {
			/* a free chunk's header and links stay; its whole
			 * pages past them read as zero */
			uintptr_t ilo = (c + PM_FREE_HDR + PM_PAGE - 1) &
					~(PM_PAGE - 1);
			uintptr_t ihi = (c + sz) & ~(PM_PAGE - 1);
			if (ihi > ilo) {
				if (ilo > lo && (r = fn(ctx, lo, ilo)))
					return r;
				lo = ihi;
			}
		}
		if (c == a->top || sz < PM_CHUNK_MIN)
			break;
		c += sz;
	}
	if (a->top_end > lo && (r = fn(ctx, lo, a->top_end)))
		return r;
	return 0;
}
