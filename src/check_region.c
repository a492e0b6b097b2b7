/*
 * check_region.c - the check of a region header read from a checkpoint
 * file (a copy: no heap page is touched), before the allocator follows any
 * of it.  Every address and size the allocator will use from the header
 * is checked against the layout (internal.h, chunk.h): the reservation,
 * the persistent arena's range, top and watermarks, each bin head and
 * fast-list head, the byte totals, the thread-cache list, the roots and
 * the pthread key table.  It reports the first bad field through
 * pm_errmsg() and never aborts.  (The walk of the heap behind the header
 * is check.c's.)
 */
#include "internal.h"
#include "tcache.h"
#include <string.h>

#define BAD(...) return pm__err(PM_ECORRUPT, "region header: " __VA_ARGS__)

/* Magic, version, size, the reservation and the arena's range and top. */
static int region_check_layout(const struct pm_region *r)
{
	const struct pm_arena *a = &r->p;
	if (r->magic != PM_REGION_MAGIC)
		BAD("bad magic 0x%lx", (unsigned long)r->magic);
	if (r->version != PM_REGION_VERSION)
		BAD("version %u, this library writes %u", r->version,
		    PM_REGION_VERSION);
	if (r->header_size != sizeof *r)
		BAD("header_size %u, expected %zu", r->header_size, sizeof *r);
	if ((r->base & (PM_PAGE - 1)) || (r->size & (PM_PAGE - 1)) ||
	    r->size < PM_MIN_SIZE || r->base + r->size < r->base)
		BAD("base 0x%lx size 0x%lx: not a page-aligned reservation",
		    (unsigned long)r->base, (unsigned long)r->size);
	if ((r->tbase & (PM_PAGE - 1)) || r->tbase <= r->base ||
	    r->tbase >= r->base + r->size)
		BAD("tbase 0x%lx outside the reservation [0x%lx, 0x%lx)",
		    (unsigned long)r->tbase, (unsigned long)r->base,
		    (unsigned long)(r->base + r->size));
	if (a->lo != r->base + sizeof *r || a->hi != r->tbase)
		BAD("arena range [0x%lx, 0x%lx), expected [0x%lx, 0x%lx)",
		    (unsigned long)a->lo, (unsigned long)a->hi,
		    (unsigned long)(r->base + sizeof *r),
		    (unsigned long)r->tbase);
	uintptr_t first = pm__chunk_first(a->lo);
	if ((a->top_end & (PM_PAGE - 1)) || a->top_end <= first ||
	    a->top_end > a->hi)
		BAD("top_end 0x%lx outside the arena (0x%lx, 0x%lx]",
		    (unsigned long)a->top_end, (unsigned long)first,
		    (unsigned long)a->hi);
	if (pm__misaligned(a->top) || a->top < first || a->top >= a->top_end)
		BAD("top 0x%lx outside the arena [0x%lx, 0x%lx)",
		    (unsigned long)a->top, (unsigned long)first,
		    (unsigned long)a->top_end);
	if (a->zero_from < first || a->zero_from > a->top_end)
		BAD("zero_from 0x%lx outside the arena [0x%lx, 0x%lx]",
		    (unsigned long)a->zero_from, (unsigned long)first,
		    (unsigned long)a->top_end);
	if (a->trim_mark && (a->trim_mark < first || a->trim_mark > a->hi))
		BAD("trim_mark 0x%lx outside the arena [0x%lx, 0x%lx]",
		    (unsigned long)a->trim_mark, (unsigned long)first,
		    (unsigned long)a->hi);
	return 0;
}

/* Each bin head empty (both links to itself) or both links to chunks
 * below top, its bitmap bit set exactly when non-empty; fast-list heads
 * blocks below top. */
static int region_check_bins(const struct pm_region *r)
{
	const struct pm_arena *a = &r->p;
	uintptr_t first = pm__chunk_first(a->lo);
	/* bins: each head empty (both links to itself) or both links to
	 * chunks below top; its bitmap bit set exactly when non-empty */
	uintptr_t aa = r->base + offsetof(struct pm_region, p);
	for (int b = 0; b < PM_NBINS; b++) {
		uintptr_t h = pm__bin_head_at(aa, (unsigned)b);
		uintptr_t fd = a->bins[2 * b], bk = a->bins[2 * b + 1];
		const char *which = b < PM_NSMALL ? "small" : "large";
		int i = b < PM_NSMALL ? b : b - PM_NSMALL;
		uint64_t map = b < PM_NSMALL ? a->smallmap : a->largemap;
		int empty = fd == h;
		if (empty != (bk == h))
			BAD("%s bin %d: fd 0x%lx and bk 0x%lx disagree on "
			    "emptiness (head 0x%lx)",
			    which, i, (unsigned long)fd, (unsigned long)bk,
			    (unsigned long)h);
		if (!empty &&
		    (pm__misaligned(fd) || fd < first || fd >= a->top))
			BAD("%s bin %d fd 0x%lx outside the arena [0x%lx, "
			    "0x%lx)",
			    which, i, (unsigned long)fd, (unsigned long)first,
			    (unsigned long)a->top);
		if (!empty &&
		    (pm__misaligned(bk) || bk < first || bk >= a->top))
			BAD("%s bin %d bk 0x%lx outside the arena [0x%lx, "
			    "0x%lx)",
			    which, i, (unsigned long)bk, (unsigned long)first,
			    (unsigned long)a->top);
		if (empty != !((map >> i) & 1))
			BAD("%s bin %d is %s but its bitmap bit is %s", which,
			    i, empty ? "empty" : "not empty",
			    empty ? "set" : "clear");
	}
	/* the small bins' bits 0, 1 (no such chunk sizes) were checked
	 * above: those bins must be empty */
	if (a->smallmap & 3)
		BAD("small bitmap 0x%lx marks bins 0-1",
		    (unsigned long)a->smallmap);
	for (unsigned i = 0; i < PM_NSMALL; i++) {
		uintptr_t f = a->fast[i];
		uintptr_t c = f - PM_CHUNK_MEM;
		if (f &&
		    (i < 2 || pm__misaligned(f) || c < first || c >= a->top))
			BAD("fast list %u head 0x%lx outside the arena [0x%lx, "
			    "0x%lx)",
			    i, (unsigned long)f,
			    (unsigned long)(first + PM_CHUNK_MEM),
			    (unsigned long)a->top);
	}
	return 0;
}

int pm__region_check_copy(const struct pm_region *r)
{
	int rc = region_check_layout(r);
	if (!rc)
		rc = region_check_bins(r);
	if (rc)
		return rc;
	const struct pm_arena *a = &r->p;
	uintptr_t first = pm__chunk_first(a->lo);
	size_t used = a->top - first;
	if (pm__misaligned(a->live_bytes | a->free_bytes | a->fast_bytes) ||
	    a->live_bytes > used || a->free_bytes > used ||
	    a->fast_bytes > used ||
	    a->live_bytes + a->free_bytes + a->fast_bytes != used)
		BAD("live %zu + free %zu + deferred %zu bytes do not make the "
		    "%zu bytes below top",
		    a->live_bytes, a->free_bytes, a->fast_bytes, used);
	/* thread caches: the checkpoint drained them; after a restore their
	 * structs are freed (pm__tc_release_others) */
	uintptr_t t = r->tcaches;
	if (t && (pm__misaligned(t) || t - PM_CHUNK_MEM < first ||
		  t + sizeof(struct pm_tcache) > a->top))
		BAD("thread cache list 0x%lx outside the arena [0x%lx, 0x%lx)",
		    (unsigned long)t, (unsigned long)(first + PM_CHUNK_MEM),
		    (unsigned long)a->top);
	for (int i = 0; i < PM_NROOTS; i++) {
		const struct pm_root *o = &r->roots[i];
		if (!memchr(o->name, 0, sizeof o->name))
			BAD("root %d: name not NUL-terminated", i);
		if (o->ptr && (o->ptr < first || o->ptr >= a->top_end))
			BAD("root %d (\"%s\"): pointer 0x%lx outside the arena "
			    "[0x%lx, 0x%lx)",
			    i, o->name, (unsigned long)o->ptr,
			    (unsigned long)first, (unsigned long)a->top_end);
	}
	if (r->nkeys > PM_NKEYS)
		BAD("%u pthread keys, at most %d", r->nkeys, PM_NKEYS);
	for (uint32_t i = 0; i < r->nkeys; i++)
		if (r->keys[i].key >= 64 * PM_TSD_WORDS ||
		    r->keys[i].has_value > 1)
			BAD("pthread key entry %u: key %u has_value %u", i,
			    r->keys[i].key, r->keys[i].has_value);
	return 0;
}
