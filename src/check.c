/*
 * check.c - the full invariant walk of an arena, over the live heap or over
 * a checkpoint image, and the check of a region header read from a file.
 * It reports the first broken invariant through pm_errmsg(); it never
 * aborts and never reads outside the bytes it was given.
 *
 * One walker serves both uses: it reads the heap through a "view" (struct
 * img), bytes [base, base+len) of the heap's address space readable at
 * `view` (view == base for the live heap).  Every read of a header or link
 * is bounds-checked against the view; an address outside reads as zero and
 * is reported, so a corrupt image cannot make the walk fault.
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

struct img {
	const unsigned char *view; /* where byte `base` is readable */
	uintptr_t base;
	size_t len;
	int oob;                   /* some read fell outside */
	uintptr_t oob_addr;        /* the first such address */
};

/* The 8-byte word at heap address a, or 0 (and note it) outside. */
static uintptr_t W(struct img *m, uintptr_t a)
{
	uintptr_t v;
	if (m->len < 8 || a - m->base > m->len - 8 || (a & 7)) {
		if (!m->oob) {
			m->oob = 1;
			m->oob_addr = a;
		}
		return 0;
	}
	memcpy(&v, m->view + (a - m->base), 8);
	return v;
}

/* Copy n bytes at heap address a; 0 if all inside, else -1. */
static int bytes(struct img *m, uintptr_t a, void *out, size_t n)
{
	if (m->len < n || a - m->base > m->len - n) {
		if (!m->oob) {
			m->oob = 1;
			m->oob_addr = a;
		}
		return -1;
	}
	memcpy(out, m->view + (a - m->base), n);
	return 0;
}

/* The error to report; an out-of-view read explains what followed it. */
static int fail(struct img *m, const char *msg)
{
	if (!m->oob)
		return pm__err(PM_ECORRUPT, "%s", msg);
	return pm__err(PM_ECORRUPT,
		       "%s (a link or size leads to 0x%lx, outside the heap "
		       "[0x%lx, 0x%lx))",
		       msg, (unsigned long)m->oob_addr, (unsigned long)m->base,
		       (unsigned long)(m->base + m->len));
}
#define FAIL(...)                                                              \
	do {                                                                   \
		char fail_msg_[256];                                           \
		pm__fmt(fail_msg_, sizeof fail_msg_, __VA_ARGS__);             \
		return fail(m, fail_msg_);                                     \
	} while (0)

#define HEAD(c) W(m, (c) + 8)
#define SIZE(c) (HEAD(c) & ~(size_t)15)
#define FD(c) W(m, (c) + 16)
#define BK(c) W(m, (c) + 24)
#define FD_SIZE(c) W(m, (c) + 32)
#define BK_SIZE(c) W(m, (c) + 40)

/* A large bin's ring of leaders: exactly the first chunk of each size, in
 * size order, doubly linked; the other chunks' links NULL.  (The bin's
 * fd chain was checked before, so the walk ends.) */
static int check_ring(struct img *m, uintptr_t h, int b, const char *name)
{
	uintptr_t first = FD(h), expect = first;
	if (first == h)
		return 0;
	for (uintptr_t p = first; p != h; p = FD(p)) {
		int leader = p == first || SIZE(BK(p)) != SIZE(p);
		if (!leader) {
			if (FD_SIZE(p) || BK_SIZE(p))
				FAIL("%s arena: large bin %d: %p has size "
				     "links but is not the first of its size",
				     name, b, (void *)p);
			continue;
		}
		if (p != expect || !FD_SIZE(p) || BK_SIZE(FD_SIZE(p)) != p)
			FAIL("%s arena: large bin %d: size ring broken at %p",
			     name, b, (void *)p);
		expect = FD_SIZE(p);
	}
	if (expect != first)
		FAIL("%s arena: large bin %d: size ring does not close", name,
		     b);
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

/* The first chunk (as pm__arena_first, which is in heap.c: this file
 * links without the allocator, for the checkpoint parser's fuzz build). */
static uintptr_t arena_first(const struct pm_arena *a)
{
	return (a->lo + 15) & ~(uintptr_t)15;
}

/* Bin b's fake head chunk, for the arena struct at heap address aa. */
static uintptr_t bin_head(uintptr_t aa, int b)
{
	return aa + offsetof(struct pm_arena, bins) + 16 * (uintptr_t)b - 16;
}

/* The arena whose struct is at heap address aa.  *out gets a copy of the
 * struct (for the caches' check). */
static int check_arena(struct img *m, uintptr_t aa, const char *name,
		       struct pm_arena *out)
{
	struct pm_arena A, *a = &A;
	if (bytes(m, aa, a, sizeof A))
		return pm__err(PM_ECORRUPT, "%s arena: its header at %p is "
					    "outside the heap",
			       name, (void *)aa);
	*out = A;
	uintptr_t first = arena_first(a);
	uintptr_t c = first, prev_free = 0;
	size_t nfree = 0, free_bytes = 0, live = 0;
	int prev_inuse = 1;
	if ((a->top & 15) || a->top < c || a->top >= a->top_end ||
	    a->top_end > a->hi || a->top_end - m->base > m->len)
		FAIL("%s arena: top %p outside [%p, %p)", name, (void *)a->top,
		     (void *)c, (void *)a->top_end);
	while (c < a->top) {
		size_t head = HEAD(c), sz = head & ~(size_t)15;
		int inuse = (head & 2) != 0;
		if (sz < 32 || (sz & 15) || sz > a->top - c)
			FAIL("%s arena: chunk %p has bad size %zu", name,
			     (void *)c, sz);
		if (((head & 1) != 0) != prev_inuse)
			FAIL("%s arena: chunk %p PINUSE does not match its "
			     "predecessor",
			     name, (void *)c);
		if (!inuse) {
			if (prev_free)
				FAIL("%s arena: free chunks %p and %p adjacent",
				     name, (void *)prev_free, (void *)c);
			if (W(m, c + sz) != sz)
				FAIL("%s arena: free chunk %p footer mismatch",
				     name, (void *)c);
			/* it must be in its bin */
			int b = bin_of(sz), found = 0;
			uintptr_t h = bin_head(aa, b);
			size_t guard = 0;
			for (uintptr_t p = FD(h);
			     p != h && !m->oob && guard < (1u << 24);
			     p = FD(p), guard++)
				if (p == c) {
					found = 1;
					break;
				}
			if (!found)
				FAIL("%s arena: free chunk %p (size %zu) not "
				     "in bin %d",
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
		FAIL("%s arena: chunks end at %p, not at top %p", name,
		     (void *)c, (void *)a->top);
	if (prev_free)
		FAIL("%s arena: free chunk %p next to top", name,
		     (void *)prev_free);
	if (((HEAD(a->top) & 1) != 0) != prev_inuse)
		FAIL("%s arena: top PINUSE wrong", name);
	if (c + SIZE(c) != a->top_end)
		FAIL("%s arena: top size %zu does not reach %p", name, SIZE(c),
		     (void *)a->top_end);
	/* bins: links, sizes, order, bitmaps, counts */
	size_t binned = 0, binned_bytes = 0;
	for (int b = 0; b < PM_NSMALL + PM_NLARGE; b++) {
		uintptr_t h = bin_head(aa, b);
		int empty = FD(h) == h;
		uint64_t map = b < PM_NSMALL ? a->smallmap : a->largemap;
		int bit = b < PM_NSMALL ? b : b - PM_NSMALL;
		if (empty != !((map >> bit) & 1))
			FAIL("%s arena: bitmap wrong for bin %d", name, b);
		size_t last = 0;
		for (uintptr_t p = FD(h); p != h; p = FD(p)) {
			if ((p & 15) || p < first || p >= a->top ||
			    BK(FD(p)) != p)
				FAIL("%s arena: bin %d broken at %p", name, b,
				     (void *)p);
			size_t sz = SIZE(p);
			if ((HEAD(p) & 2) || bin_of(sz) != b)
				FAIL("%s arena: chunk %p (size %zu) wrongly in "
				     "bin %d",
				     name, (void *)p, sz, b);
			if (b >= PM_NSMALL && sz < last)
				FAIL("%s arena: large bin %d not sorted at %p",
				     name, b, (void *)p);
			last = sz;
			binned++;
			binned_bytes += sz;
			if (binned > nfree)
				FAIL("%s arena: more binned chunks than free "
				     "chunks",
				     name);
		}
	}
	for (int b = PM_NSMALL; b < PM_NSMALL + PM_NLARGE; b++) {
		int r = check_ring(m, bin_head(aa, b), b, name);
		if (r)
			return r;
	}
	if (binned != nfree || binned_bytes != free_bytes ||
	    free_bytes != a->free_bytes)
		FAIL("%s arena: %zu free chunks (%zu bytes), %zu binned (%zu "
		     "bytes), books say %zu bytes",
		     name, nfree, free_bytes, binned, binned_bytes,
		     a->free_bytes);
	/* fast lists: deferred frees, still marked in use */
	size_t fast = 0;
	for (unsigned i = 0; i < PM_NSMALL; i++) {
		size_t guard = 0;
		for (uintptr_t b = a->fast[i]; b; b = W(m, b)) {
			uintptr_t c2 = b - 16;
			if ((b & 15) || c2 < first || c2 >= a->top ||
			    !(HEAD(c2) & 2) || SIZE(c2) != (size_t)i << 4 ||
			    W(m, b + 8) != PM_FREE_KEY ||
			    ++guard > (a->top - first) / 32)
				FAIL("%s arena: fast list %u: bad block %p",
				     name, i, (void *)b);
			fast += (size_t)i << 4;
		}
	}
	if (fast != a->fast_bytes)
		FAIL("%s arena: fast lists hold %zu bytes, books say %zu", name,
		     fast, a->fast_bytes);
	if (live != a->live_bytes + a->fast_bytes)
		FAIL("%s arena: in-use chunks hold %zu bytes, books say %zu "
		     "live + %zu deferred",
		     name, live, a->live_bytes, a->fast_bytes);
	if (m->oob) /* a read outside that did not show otherwise */
		FAIL("%s arena", name);
	return 0;
}

/* The list of thread caches from `head`, in the persistent arena a. */
static int check_caches(struct img *m, uintptr_t head,
			const struct pm_arena *a)
{
	uintptr_t first = arena_first(a);
	size_t ncache = 0;
	for (uintptr_t t = head; t;) {
		struct pm_tcache tc;
		uintptr_t c = t - 16;
		if ((t & 15) || c < first || c >= a->top ||
		    !(HEAD(c) & 2) || SIZE(c) < sizeof tc + 8 ||
		    SIZE(c) > a->top - c ||
		    ++ncache > (a->top - first) / sizeof tc ||
		    bytes(m, t, &tc, sizeof tc))
			FAIL("thread cache %p: not an in-use block of the "
			     "persistent arena",
			     (void *)t);
		for (unsigned i = 0; i < TC_NCLASS; i++) {
			unsigned n = 0, cap = pm__tc_cap_of(i);
			if (tc.room[i] > cap)
				FAIL("thread cache %p class %u: room %u > %u",
				     (void *)t, i, tc.room[i], cap);
			for (uintptr_t b = (uintptr_t)tc.head[i]; b;
			     b = W(m, b), n++) {
				uintptr_t c3 = b - 16;
				size_t h3 = HEAD(c3), s3 = h3 & ~(size_t)15;
				if ((b & 15) || c3 < first || c3 >= a->top ||
				    !(h3 & 2) || s3 < 32 ||
				    s3 >= TC_CHUNK_LIMIT ||
				    pm__tc_class_of_chunk(s3) != i ||
				    W(m, b + 8) != TC_KEY ||
				    n >= cap - tc.room[i])
					FAIL("thread cache %p class %u: bad "
					     "block %p (head %zx, key %zx)",
					     (void *)t, i, (void *)b, h3,
					     (size_t)W(m, b + 8));
			}
			if (n != cap - tc.room[i])
				FAIL("thread cache %p class %u: room %u, list %u",
				     (void *)t, i, tc.room[i], n);
		}
		t = tc.next;
	}
	return 0;
}

/* ---- a region header read from a file --------------------------------- */

#define BAD(...) return pm__err(PM_ECORRUPT, "region header: " __VA_ARGS__)

int pm__region_check_copy(const struct pm_region *r)
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
	uintptr_t first = (a->lo + 15) & ~(uintptr_t)15;
	if ((a->top_end & (PM_PAGE - 1)) || a->top_end <= first ||
	    a->top_end > a->hi)
		BAD("top_end 0x%lx outside the arena (0x%lx, 0x%lx]",
		    (unsigned long)a->top_end, (unsigned long)first,
		    (unsigned long)a->hi);
	if ((a->top & 15) || a->top < first || a->top >= a->top_end)
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
	/* bins: each head empty (both links to itself) or both links to
	 * chunks below top; its bitmap bit set exactly when non-empty */
	uintptr_t aa = r->base + offsetof(struct pm_region, p);
	for (int b = 0; b < PM_NSMALL + PM_NLARGE; b++) {
		uintptr_t h = bin_head(aa, b);
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
		if (!empty && ((fd & 15) || fd < first || fd >= a->top))
			BAD("%s bin %d fd 0x%lx outside the arena [0x%lx, "
			    "0x%lx)",
			    which, i, (unsigned long)fd, (unsigned long)first,
			    (unsigned long)a->top);
		if (!empty && ((bk & 15) || bk < first || bk >= a->top))
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
		BAD("small bitmap 0x%lx marks bins 0-1", (unsigned long)a->smallmap);
	for (unsigned i = 0; i < PM_NSMALL; i++) {
		uintptr_t f = a->fast[i];
		if (f && (i < 2 || (f & 15) || f - 16 < first ||
			  f - 16 >= a->top))
			BAD("fast list %u head 0x%lx outside the arena [0x%lx, "
			    "0x%lx)",
			    i, (unsigned long)f, (unsigned long)first + 16,
			    (unsigned long)a->top);
	}
	size_t used = a->top - first;
	if ((a->live_bytes | a->free_bytes | a->fast_bytes) & 15 ||
	    a->live_bytes > used || a->free_bytes > used ||
	    a->fast_bytes > used ||
	    a->live_bytes + a->free_bytes + a->fast_bytes != used)
		BAD("live %zu + free %zu + deferred %zu bytes do not make the "
		    "%zu bytes below top",
		    a->live_bytes, a->free_bytes, a->fast_bytes, used);
	/* thread caches: the checkpoint drained them; after a restore their
	 * structs are freed (pm__tc_release_others) */
	uintptr_t t = r->tcaches;
	if (t && ((t & 15) || t - 16 < first ||
		  t + sizeof(struct pm_tcache) > a->top))
		BAD("thread cache list 0x%lx outside the arena [0x%lx, 0x%lx)",
		    (unsigned long)t, (unsigned long)first + 16,
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

/* ---- a whole image ------------------------------------------------------ */

int pm__heap_check_image(const unsigned char *view, uintptr_t base,
			 size_t len)
{
	struct pm_region r;
	if (len < sizeof r)
		return pm__err(PM_ECORRUPT, "heap image of %zu bytes is "
					    "shorter than the region header",
			       len);
	memcpy(&r, view, sizeof r);
	int rc = pm__region_check_copy(&r);
	if (rc)
		return rc;
	if (r.base != base || r.p.top_end - base > len)
		return pm__err(PM_ECORRUPT,
			       "heap image [0x%lx, 0x%lx) does not hold the "
			       "region [0x%lx, 0x%lx)",
			       (unsigned long)base, (unsigned long)(base + len),
			       (unsigned long)r.base,
			       (unsigned long)r.p.top_end);
	struct img m = { view, base, r.p.top_end - base, 0, 0 };
	struct pm_arena a;
	rc = check_arena(&m, base + offsetof(struct pm_region, p),
			 "persistent", &a);
	if (!rc)
		rc = check_caches(&m, r.tcaches, &a);
	return rc;
}

#ifdef PM_CKPT_PARSE_ONLY
/* Without an allocator (the CLI) there is no process key: a file holds
 * no block that carries one (see pm__region_check_copy). */
uint64_t pm__free_key = 0;
#endif

int pm__heap_check_image_caches(const unsigned char *view, uintptr_t base,
				size_t len)
{
	struct pm_region r;
	if (len < sizeof r)
		return pm__err(PM_ECORRUPT, "heap image of %zu bytes is "
					    "shorter than the region header",
			       len);
	memcpy(&r, view, sizeof r);
	int rc = pm__region_check_copy(&r);
	if (rc)
		return rc;
	if (r.base != base || r.p.top_end - base > len)
		return pm__err(PM_ECORRUPT,
			       "heap image [0x%lx, 0x%lx) does not hold the "
			       "region [0x%lx, 0x%lx)",
			       (unsigned long)base, (unsigned long)(base + len),
			       (unsigned long)r.base,
			       (unsigned long)r.p.top_end);
	struct img m = { view, base, r.p.top_end - base, 0, 0 };
	return check_caches(&m, r.tcaches, &r.p);
}

#ifndef PM_CKPT_PARSE_ONLY /* the live heap */
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
	struct pm_region *g = pm__region;
	struct img p = { (const unsigned char *)g->base, g->base,
			 g->p.top_end - g->base, 0, 0 };
	struct pm_arena a, ta;
	int r = check_arena(&p, (uintptr_t)&g->p, "persistent", &a);
	if (!r) {
		uintptr_t tb = (uintptr_t)pm__transient;
		struct img t = { (const unsigned char *)tb, tb,
				 pm__transient->top_end - tb, 0, 0 };
		r = check_arena(&t, tb, "transient", &ta);
	}
	if (!r)
		r = check_caches(&p, g->tcaches, &a);
	pm__tc_start_all();
	pm__unlock_transient();
	pm__unlock_persistent();
	return r;
}
#endif
