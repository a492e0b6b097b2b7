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
#include "vg.h"
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

/* Fields of the chunk at heap address c, and of the block at mem b,
 * through the view (chunk.h's layout). */
#define FIELD(c, f) W(m, (c) + offsetof(struct pm_chunk, f))
#define HEAD(c) FIELD(c, head)
#define SIZE(c) pm__head_size(HEAD(c))
#define FD(c) FIELD(c, fd)
#define BK(c) FIELD(c, bk)
#define FD_SIZE(c) FIELD(c, fd_size)
#define BK_SIZE(c) FIELD(c, bk_size)
#define LINK(b) W(m, (b) + PM_BLOCK_LINK_OFF)
#define KEY(b) W(m, (b) + PM_BLOCK_KEY_OFF)

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

/* The first chunk (as pm__arena_first, which is in heap_bins.c: this
 * file links without the allocator, for the checkpoint parser's fuzz
 * build). */
static uintptr_t arena_first(const struct pm_arena *a)
{
	return pm__chunk_first(a->lo);
}

/* What the chunk walk found, for the bins' and books' checks. */
struct tally {
	size_t nfree, free_bytes, live;
};

/* Is free chunk c (size sz) on the list of its bin? */
static int in_bin(struct img *m, uintptr_t aa, uintptr_t c, size_t sz)
{
	uintptr_t h = pm__bin_head_at(aa, pm__bin_of(sz));
	size_t guard = 0;
	for (uintptr_t p = FD(h); p != h && !m->oob && guard < (1u << 24);
	     p = FD(p), guard++)
		if (p == c)
			return 1;
	return 0;
}

/* Chunks tile [first, top_end): sane sizes, PINUSE matching the
 * predecessor, free chunks footed, never adjacent and each in its bin. */
static int check_chunks(struct img *m, uintptr_t aa, const struct pm_arena *a,
			const char *name, struct tally *t)
{
	uintptr_t c = arena_first(a), prev_free = 0;
	int prev_inuse = 1;
	while (c < a->top) {
		size_t head = HEAD(c), sz = pm__head_size(head);
		int inuse = pm__head_inuse(head);
		if (!pm__chunk_size_ok(c, sz, a->top))
			FAIL("%s arena: chunk %p has bad size %zu", name,
			     (void *)c, sz);
		if (pm__head_pinuse(head) != prev_inuse)
			FAIL("%s arena: chunk %p PINUSE does not match its "
			     "predecessor",
			     name, (void *)c);
		if (!inuse) {
			if (prev_free)
				FAIL("%s arena: free chunks %p and %p adjacent",
				     name, (void *)prev_free, (void *)c);
			if (W(m, c + sz) != sz) /* the next's prev_foot */
				FAIL("%s arena: free chunk %p footer mismatch",
				     name, (void *)c);
			if (!in_bin(m, aa, c, sz))
				FAIL("%s arena: free chunk %p (size %zu) not "
				     "in bin %u",
				     name, (void *)c, sz, pm__bin_of(sz));
			t->nfree++;
			t->free_bytes += sz;
			prev_free = c;
		} else {
			t->live += sz;
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
	if (pm__head_pinuse(HEAD(a->top)) != prev_inuse)
		FAIL("%s arena: top PINUSE wrong", name);
	if (c + SIZE(c) != a->top_end)
		FAIL("%s arena: top size %zu does not reach %p", name, SIZE(c),
		     (void *)a->top_end);
	return 0;
}

/* Bin b: linked both ways, each chunk free and of the bin's sizes, large
 * bins sorted, the bitmap bit right.  Adds to *binned, *binned_bytes. */
static int check_bin(struct img *m, uintptr_t aa, const struct pm_arena *a,
		     int b, const char *name, size_t nfree, size_t *binned,
		     size_t *binned_bytes)
{
	uintptr_t h = pm__bin_head_at(aa, (unsigned)b), first = arena_first(a);
	int empty = FD(h) == h;
	uint64_t map = b < PM_NSMALL ? a->smallmap : a->largemap;
	int bit = b < PM_NSMALL ? b : b - PM_NSMALL;
	if (empty != !((map >> bit) & 1))
		FAIL("%s arena: bitmap wrong for bin %d", name, b);
	/* the links below check each chunk's successor's back link; the
	 * head's successor must point back at the head too */
	if (BK(FD(h)) != h)
		FAIL("%s arena: bin %d: its first chunk's back link is not "
		     "the bin",
		     name, b);
	size_t last = 0;
	for (uintptr_t p = FD(h); p != h; p = FD(p)) {
		if (!pm__chunk_addr_ok(p, first, a->top) || BK(FD(p)) != p)
			FAIL("%s arena: bin %d broken at %p", name, b,
			     (void *)p);
		size_t sz = SIZE(p);
		if (pm__head_inuse(HEAD(p)) || (int)pm__bin_of(sz) != b)
			FAIL("%s arena: chunk %p (size %zu) wrongly in bin %d",
			     name, (void *)p, sz, b);
		if (b >= PM_NSMALL && sz < last)
			FAIL("%s arena: large bin %d not sorted at %p", name, b,
			     (void *)p);
		last = sz;
		++*binned;
		*binned_bytes += sz;
		if (*binned > nfree)
			FAIL("%s arena: more binned chunks than free chunks",
			     name);
	}
	return 0;
}

/* Every bin and large ring; binned chunks and bytes == the walk's. */
static int check_bins(struct img *m, uintptr_t aa, const struct pm_arena *a,
		      const char *name, const struct tally *t)
{
	size_t binned = 0, binned_bytes = 0;
	int r;
	for (int b = 0; b < PM_NBINS; b++)
		if ((r = check_bin(m, aa, a, b, name, t->nfree, &binned,
				   &binned_bytes)))
			return r;
	for (int b = PM_NSMALL; b < PM_NBINS; b++)
		if ((r = check_ring(m, pm__bin_head_at(aa, (unsigned)b), b, name)))
			return r;
	if (binned != t->nfree || binned_bytes != t->free_bytes ||
	    t->free_bytes != a->free_bytes)
		FAIL("%s arena: %zu free chunks (%zu bytes), %zu binned (%zu "
		     "bytes), books say %zu bytes",
		     name, t->nfree, t->free_bytes, binned, binned_bytes,
		     a->free_bytes);
	return 0;
}

/* The fast lists: deferred frees, still in use, keyed, of their size;
 * their bytes and the live ones add up to the in-use chunks'. */
static int check_fast(struct img *m, const struct pm_arena *a,
		      const char *name, const struct tally *t)
{
	uintptr_t first = arena_first(a);
	size_t fast = 0;
	for (unsigned i = 0; i < PM_NSMALL; i++) {
		size_t guard = 0, sz = pm__small_size(i);
		/* the head's run word (heap.h, fast_run_set): n blocks from
		 * the head, the n-th its tail (0 blocks: unknown) */
		uint64_t rw = a->fast[i] ? W(m, a->fast[i] + 16) : 0;
		size_t run = (size_t)(rw >> 48), at = 0;
		uintptr_t tail = (uintptr_t)(rw & (((uint64_t)1 << 48) - 1));
		for (uintptr_t b = a->fast[i]; b; b = LINK(b), at++) {
			if (at + 1 == run && b != tail)
				FAIL("%s arena: fast list %u: its head's run "
				     "of %zu blocks ends at %p, not %p",
				     name, i, run, (void *)b, (void *)tail);
			uintptr_t c = b - PM_CHUNK_MEM;
			if (!pm__chunk_addr_ok(c, first, a->top) ||
			    !pm__head_inuse(HEAD(c)) || SIZE(c) != sz ||
			    KEY(b) != PM_FREE_KEY ||
			    ++guard > (a->top - first) / PM_CHUNK_MIN)
				FAIL("%s arena: fast list %u: bad block %p",
				     name, i, (void *)b);
			fast += sz;
		}
		if (at < run)
			FAIL("%s arena: fast list %u: %zu blocks, its head's "
			     "run %zu",
			     name, i, at, run);
	}
	if (fast != a->fast_bytes)
		FAIL("%s arena: fast lists hold %zu bytes, books say %zu", name,
		     fast, a->fast_bytes);
	if (t->live != a->live_bytes + a->fast_bytes)
		FAIL("%s arena: in-use chunks hold %zu bytes, books say %zu "
		     "live + %zu deferred",
		     name, t->live, a->live_bytes, a->fast_bytes);
	return 0;
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
	if (pm__misaligned(a->top) || a->top < first || a->top >= a->top_end ||
	    a->top_end > a->hi || a->top_end - m->base > m->len)
		FAIL("%s arena: top %p outside [%p, %p)", name, (void *)a->top,
		     (void *)first, (void *)a->top_end);
	struct tally t = { 0, 0, 0 };
	int r = check_chunks(m, aa, a, name, &t);
	if (!r)
		r = check_bins(m, aa, a, name, &t);
	if (!r)
		r = check_fast(m, a, name, &t);
	if (!r && m->oob) /* a read outside that did not show otherwise */
		FAIL("%s arena", name);
	return r;
}

/* One class of a thread cache: room within the cap, every block an
 * in-use chunk of the class, keyed, as many as the room says; the words
 * beside the room that the free fast path finds for a free or early
 * chunk 0 (see struct pm_tc_list). */
static int check_class(struct img *m, uintptr_t t, const struct pm_tcache *tc,
		       unsigned i, const struct pm_arena *a)
{
	uintptr_t first = arena_first(a);
	unsigned n = 0, cap = pm__tc_cap_of(i);
	const struct pm_tc_list *l = &tc->lists[i];
	if (l->busy || l->zero_early[0] || l->zero_early[1])
		FAIL("thread cache %p class %u: busy or room of a free or "
		     "early chunk %u %u %u (want 0)",
		     (void *)t, i, l->busy, l->zero_early[0],
		     l->zero_early[1]);
	if (tc->lists[i].room > cap)
		FAIL("thread cache %p class %u: room %u > %u", (void *)t, i,
		     tc->lists[i].room, cap);
	for (uintptr_t b = (uintptr_t)tc->lists[i].head; b; b = LINK(b), n++) {
		uintptr_t c = b - PM_CHUNK_MEM;
		size_t h = HEAD(c), sz = pm__head_size(h);
		if (!pm__chunk_addr_ok(c, first, a->top) ||
		    !pm__head_inuse(h) || sz < PM_CHUNK_MIN ||
		    sz >= TC_CHUNK_LIMIT || pm__tc_class_of_chunk(sz) != i ||
		    KEY(b) != TC_KEY || n >= cap - tc->lists[i].room)
			FAIL("thread cache %p class %u: bad block %p (head "
			     "%zx, key %zx)",
			     (void *)t, i, (void *)b, h, (size_t)KEY(b));
	}
	if (n != cap - tc->lists[i].room)
		FAIL("thread cache %p class %u: room %u, list %u", (void *)t, i,
		     tc->lists[i].room, n);
	return 0;
}

/* An aligned reserve of a thread cache: none, or an in-use chunk of the
 * persistent arena whose block is aligned to the reserve's alignment. */
static int check_reserve(struct img *m, uintptr_t t, const struct pm_tcache *tc,
			 unsigned k, const struct pm_arena *a)
{
	uintptr_t r = (uintptr_t)tc->ares[k], c = r - PM_CHUNK_MEM;
	if (!r)
		return 0;
	size_t al = (size_t)32 << k, h = HEAD(c), sz = pm__head_size(h);
	if (!pm__chunk_addr_ok(c, arena_first(a), a->top) ||
	    !pm__head_inuse(h) || sz < PM_CHUNK_MIN || sz > a->top - c ||
	    tc->aend[k] != c + sz || ((c + sz + PM_CHUNK_MEM) & (al - 1)))
		FAIL("thread cache %p: aligned reserve %u at %p (head %zx, "
		     "carved from 0x%lx) is not an in-use block whose end is "
		     "aligned to %zu",
		     (void *)t, k, (void *)r, h, (unsigned long)tc->aend[k], al);
	return 0;
}

/* The transfer stacks: chains of keyed in-use chunks of their class,
 * each as long as its first block says, the stack as deep. */
static int check_xfer(struct img *m, const uint64_t *xfer,
		      const struct pm_arena *a)
{
	uintptr_t first = arena_first(a);
	for (unsigned i = 0; i < TC_NSMALL; i++) {
		uintptr_t h = xfer[i] & TC_XFER_PTR;
		unsigned depth = 0;
		while (h) {
			uint64_t w = 0;
			if (!pm__chunk_addr_ok(h - PM_CHUNK_MEM, first, a->top) ||
			    bytes(m, h + 16, &w, sizeof w))
				FAIL("transfer stack %u: chain %p outside the "
				     "arena",
				     i, (void *)h);
			unsigned n = 0, want = (unsigned)(w >> 48) & 255,
				 d = (unsigned)(w >> 56);
			if (++depth > 255 || d == 0)
				FAIL("transfer stack %u: chain %p at depth %u "
				     "says %u",
				     i, (void *)h, depth, d);
			for (uintptr_t b = h; b; b = LINK(b), n++) {
				uintptr_t c = b - PM_CHUNK_MEM;
				size_t hd = HEAD(c);
				if (!pm__chunk_addr_ok(c, first, a->top) ||
				    !pm__head_inuse(hd) ||
				    pm__head_size(hd) != pm__tc_class_size(i) ||
				    KEY(b) != TC_KEY || n >= want)
					FAIL("transfer stack %u: bad block %p "
					     "(head %zx, key %zx) in chain %p",
					     i, (void *)b, hd, (size_t)KEY(b),
					     (void *)h);
			}
			if (n != want)
				FAIL("transfer stack %u: chain %p of %u blocks "
				     "says %u",
				     i, (void *)h, n, want);
			h = (uintptr_t)(w & TC_XFER_PTR);
		}
	}
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
		uintptr_t c = t - PM_CHUNK_MEM;
		if (!pm__chunk_addr_ok(c, first, a->top) ||
		    !pm__head_inuse(HEAD(c)) ||
		    SIZE(c) < sizeof tc + PM_CHUNK_OVERHEAD ||
		    SIZE(c) > a->top - c ||
		    ++ncache > (a->top - first) / sizeof tc ||
		    bytes(m, t, &tc, sizeof tc))
			FAIL("thread cache %p: not an in-use block of the "
			     "persistent arena",
			     (void *)t);
		for (unsigned i = 0; i < TC_NCLASS; i++) {
			int r = check_class(m, t, &tc, i, a);
			if (r)
				return r;
		}
		for (unsigned k = 0; k < TC_NALIGN; k++) {
			int r = check_reserve(m, t, &tc, k, a);
			if (r)
				return r;
		}
		t = tc.next;
	}
	return 0;
}

/* ---- a whole image ------------------------------------------------------ */

/* The region header of an image, checked, into *r, and the view of the
 * heap it describes into *m. */
static int image_open(const unsigned char *view, uintptr_t base, size_t len,
		      struct pm_region *r, struct img *m)
{
	if (len < sizeof *r)
		return pm__err(PM_ECORRUPT, "heap image of %zu bytes is "
					    "shorter than the region header",
			       len);
	memcpy(r, view, sizeof *r);
	int rc = pm__region_check_copy(r);
	if (rc)
		return rc;
	if (r->base != base || r->p.top_end - base > len)
		return pm__err(PM_ECORRUPT,
			       "heap image [0x%lx, 0x%lx) does not hold the "
			       "region [0x%lx, 0x%lx)",
			       (unsigned long)base, (unsigned long)(base + len),
			       (unsigned long)r->base,
			       (unsigned long)r->p.top_end);
	*m = (struct img){ view, base, r->p.top_end - base, 0, 0 };
	return 0;
}

int pm__heap_check_image(const unsigned char *view, uintptr_t base,
			 size_t len)
{
	struct pm_region r;
	struct img m = { 0 };
	int rc = image_open(view, base, len, &r, &m);
	if (rc)
		return rc;
	struct pm_arena a = { 0 };
	rc = check_arena(&m, base + offsetof(struct pm_region, p),
			 "persistent", &a);
	if (!rc)
		rc = check_caches(&m, r.tcaches, &a);
	if (!rc)
		rc = check_xfer(&m, r.xfer, &a);
	return rc;
}

#ifdef PM_CKPT_PARSE_ONLY
/* Without an allocator (the CLI) the program sets a random key at start:
 * a file holds no block that carries it. */
uint64_t pm__free_key = 0;
#endif

int pm__heap_check_image_caches(const unsigned char *view, uintptr_t base,
				size_t len)
{
	struct pm_region r;
	struct img m = { 0 };
	int rc = image_open(view, base, len, &r, &m);
	if (!rc)
		rc = check_caches(&m, r.tcaches, &r.p);
	return rc ? rc : check_xfer(&m, r.xfer, &r.p);
}

#ifndef PM_CKPT_PARSE_ONLY /* the live heap */
PM_EXPORT int pm_heap_check(void)
{
	if (pm__ensure_init())
		return pm__err(PM_ENOHEAP, "no heap");
	if (pm__region->magic != PM_REGION_MAGIC)
		return pm__err(PM_ECORRUPT, "region header magic is wrong");
	/* stop the caches so that other threads' lists hold still */
	pm__vg_mute();
	pm__lock_persistent();
	pm__lock_transient();
	pm__tc_stop_all();
	int r = pm__heap_check_quiesced();
	pm__tc_start_all();
	pm__unlock_transient();
	pm__unlock_persistent();
	pm__vg_unmute();
	return r;
}

int pm__heap_check_quiesced(void)
{
	struct pm_region *g = pm__region;
	struct img p = { (const unsigned char *)g->base, g->base,
			 g->p.top_end - g->base, 0, 0 };
	struct pm_arena a = { 0 }, ta;
	int r = check_arena(&p, (uintptr_t)&g->p, "persistent", &a);
	struct pm_arena *tr = pm__transient_now(); /* NULL: never made */
	if (!r && tr) {
		uintptr_t tb = (uintptr_t)tr;
		struct img t = { (const unsigned char *)tb, tb,
				 tr->top_end - tb, 0, 0 };
		r = check_arena(&t, tb, "transient", &ta);
	}
	if (!r)
		r = check_caches(&p, g->tcaches, &a);
	if (!r)
		r = check_xfer(&p, g->xfer, &a);
	return r;
}
#endif
