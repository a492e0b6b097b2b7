/*
 * heap_bins.c - the arena's bins and top: putting free chunks into their
 * bin and taking them out (small bins LIFO, large bins sorted with a ring
 * of one leader per size), growing top, and setting an arena up.
 *
 * Owns the bin invariants of heap.h: a binned chunk is free, of its bin's
 * size class, correctly bordered, and linked both ways; bitmap bit i is
 * set exactly when bin i is non-empty; free_bytes is the sum of binned
 * sizes.  Top always exists, is free, and ends at top_end (the end of the
 * committed part).  The caller holds the arena's lock.
 */
#include "heap.h"
#include <errno.h>
#include <string.h>

/* A chunk about to leave a bin: free, of the bin's size, its successor
 * inside the arena and marking it free (prev_foot, PM_CHUNK_PINUSE clear). */
void pm__bin_chunk_check(struct pm_arena *a, struct pm_chunk *c, size_t sz)
{
	uintptr_t u = (uintptr_t)c;
	if (unlikely(!chunk_ok(a, u) || (c->head & PM_CHUNK_CINUSE) ||
		     pm__chunk_size(c) != sz || sz > a->top - u ||
		     (u + sz != a->top && sz + PM_CHUNK_MIN > a->top - u) ||
		     pm__chunk_next(c)->prev_foot != sz ||
		     (pm__chunk_next(c)->head & PM_CHUNK_PINUSE)))
		pm__fatal("malloc(): corrupted free chunk", pm__chunk_mem(c));
}

/* Link c into the list after `after`. */
static inline void link_after(struct pm_chunk *after, struct pm_chunk *c)
{
	c->fd = after->fd;
	c->bk = after;
	after->fd->bk = c;
	after->fd = c;
}

/* Put leader c on the ring just before leader `before` (NULL: c alone). */
static inline void ring_before(struct pm_chunk *before, struct pm_chunk *c)
{
	if (!before) {
		c->fd_size = c->bk_size = c;
		return;
	}
	c->fd_size = before;
	c->bk_size = before->bk_size;
	before->bk_size->fd_size = c;
	before->bk_size = c;
}

/* A large bin: sorted by size, one leader per size on the ring.  Walk the
 * leaders (not the chunks) to the place of size sz. */
/* A leader's size links, before they are followed or written: each a
 * chunk of the arena, each pointing back (a use-after-free write of a
 * freed large block's fd_size/bk_size would otherwise make the next
 * malloc write a chosen word to a chosen address). */
static void ring_check(const struct pm_arena *a, const struct pm_chunk *l)
{
	const struct pm_chunk *f = l->fd_size, *b = l->bk_size;
	if (unlikely(!chunk_ok(a, (uintptr_t)f) || !chunk_ok(a, (uintptr_t)b) ||
		     f->bk_size != l || b->fd_size != l))
		pm__fatal("corrupted large bin (size links)",
			  pm__chunk_mem((struct pm_chunk *)l));
}

static void large_insert(const struct pm_arena *a, struct pm_chunk *h,
			 struct pm_chunk *c, size_t sz)
{
	struct pm_chunk *first = h->fd;
	if (first == h) { /* empty bin */
		link_after(h, c);
		ring_before(NULL, c);
		return;
	}
	ring_check(a, first);
	struct pm_chunk *last = first->bk_size; /* the largest size's leader */
	size_t fsz = pm__chunk_size(first), lsz = pm__chunk_size(last);
	if (sz > lsz) { /* larger than every size: at the end */
		link_after(h->bk, c);
		ring_before(first, c);
		return;
	}
	if (sz - fsz <= lsz - sz || sz < fsz) {
		/* nearer the small end: up from the first leader */
		struct pm_chunk *l = first;
		for (;;) {
			ring_check(a, l);
			size_t s = pm__chunk_size(l);
			if (s == sz) { /* same size: behind its leader */
				link_after(l, c);
				c->fd_size = c->bk_size = NULL;
				return;
			}
			if (s > sz) { /* a new size, before l's group */
				link_after(l->bk, c);
				ring_before(l, c);
				return;
			}
			l = l->fd_size; /* sz <= lsz: ends at last at most */
		}
	}
	/* nearer the large end: down from the last leader to the first
	 * whose size is at most sz (sz > fsz: first at most) */
	struct pm_chunk *l = last;
	for (;;) {
		ring_check(a, l);
		size_t s = pm__chunk_size(l);
		if (s == sz) {
			link_after(l, c);
			c->fd_size = c->bk_size = NULL;
			return;
		}
		if (s < sz) { /* a new size, before the next leader's group */
			struct pm_chunk *nl = l->fd_size;
			link_after(nl->bk, c);
			ring_before(nl, c);
			return;
		}
		l = l->bk_size;
	}
}

static void large_remove(const struct pm_arena *a, struct pm_chunk *h,
			 struct pm_chunk *c)
{
	if (!c->fd_size)
		return; /* not a leader: only the list link (caller) */
	ring_check(a, c);
	struct pm_chunk *n = c->fd;
	if (n != h &&
	    pm__chunk_size(n) == pm__chunk_size(c)) { /* n leads its size now */
		if (c->fd_size == c) {
			n->fd_size = n->bk_size = n;
		} else {
			n->fd_size = c->fd_size;
			n->bk_size = c->bk_size;
			c->fd_size->bk_size = n;
			c->bk_size->fd_size = n;
		}
	} else if (c->fd_size != c) {
		c->bk_size->fd_size = c->fd_size;
		c->fd_size->bk_size = c->bk_size;
	}
	c->fd_size = c->bk_size = NULL;
}

void pm__bin_insert(struct pm_arena *a, struct pm_chunk *c, size_t sz)
{
	PM_ASSERT(chunk_ok(a, (uintptr_t)c) && sz >= PM_CHUNK_MIN);
	PM_ASSERT_FREE_CHUNK(a, c, sz);
	if (sz < PM_SMALL_LIMIT) {
		unsigned i = pm__small_index(sz);
		a->smallmap |= 1ULL << i;
		link_after(bin_at(a, i), c); /* LIFO at the front */
	} else {
		unsigned i = pm__large_index(sz);
		a->largemap |= 1ULL << i;
		large_insert(a, bin_at(a, PM_NSMALL + i), c, sz);
	}
	a->free_bytes += sz;
}

void pm__bin_remove(struct pm_arena *a, struct pm_chunk *c, size_t sz)
{
	struct pm_chunk *f = c->fd, *b = c->bk;
	if (unlikely(!link_ok(a, (uintptr_t)f) || !link_ok(a, (uintptr_t)b) ||
		     f->bk != c || b->fd != c))
		pm__fatal("corrupted free list", pm__chunk_mem(c));
	if (sz >= PM_SMALL_LIMIT)
		large_remove(a, bin_at(a, PM_NSMALL + pm__large_index(sz)), c);
	f->bk = b;
	b->fd = f;
	if (f == b) { /* the bin is now empty: f and b are the head */
		if (sz < PM_SMALL_LIMIT)
			a->smallmap &= ~(1ULL << pm__small_index(sz));
		else
			a->largemap &= ~(1ULL << pm__large_index(sz));
	}
	a->free_bytes -= sz;
	PM_ASSERT(bin_bit_ok(a, pm__bin_of(sz)));
}

int pm__bin_shrink_front(struct pm_arena *a, struct pm_chunk *old,
			 size_t oldsz, struct pm_chunk *c, size_t sz)
{
	struct pm_chunk *f = old->fd, *b = old->bk;
	if (unlikely(!link_ok(a, (uintptr_t)f) || !link_ok(a, (uintptr_t)b) ||
		     f->bk != old || b->fd != old))
		pm__fatal("corrupted free list", pm__chunk_mem(old));
	/* in place when it keeps the bin's order: the same large bin, old
	 * leads its size alone, and the size below is below sz */
	unsigned i = pm__large_index(oldsz);
	struct pm_chunk *h = bin_at(a, PM_NSMALL + i);
	if (sz < PM_SMALL_LIMIT || pm__large_index(sz) != i ||
	    !old->fd_size || (f != h && pm__chunk_size(f) == oldsz)) {
		pm__bin_remove(a, old, oldsz);
		return 0;
	}
	ring_check(a, old);
	struct pm_chunk *fs = old->fd_size, *bs = old->bk_size;
	if (old != h->fd && pm__chunk_size(bs) >= sz) {
		pm__bin_remove(a, old, oldsz);
		return 0;
	}
	/* old's links are all read: c's may overlap them */
	c->fd = f;
	c->bk = b;
	f->bk = c;
	b->fd = c;
	if (fs == old) {
		c->fd_size = c->bk_size = c;
	} else {
		c->fd_size = fs;
		c->bk_size = bs;
		fs->bk_size = c;
		bs->fd_size = c;
	}
	a->free_bytes -= oldsz - sz;
	return 1;
}

/* ---- top ---------------------------------------------------------------- */

#define GROW_STEP ((size_t)4 << 20) /* commit in 4 MiB steps */

/* Make top at least `need` bytes by committing more of the arena. */
int pm__grow_top(struct pm_arena *a, size_t need)
{
	struct pm_chunk *t = pm__chunk_at(a->top);
	if (unlikely(pm__misaligned(a->top) || a->top < pm__arena_first(a) ||
		     a->top >= a->top_end || a->top_end > a->hi))
		pm__fatal("malloc(): corrupted top chunk", t);
	size_t have = pm__chunk_size(t);
	if (unlikely(a->top + have != a->top_end))
		pm__fatal("malloc(): corrupted top chunk", t);
	if (have >= need)
		return 0;
	size_t more = (need - have + GROW_STEP - 1) & ~(GROW_STEP - 1);
	if (more > a->hi - a->top_end) {
		more = (need - have + PM_PAGE - 1) & ~(PM_PAGE - 1);
		if (more > a->hi - a->top_end)
			return -ENOMEM;
	}
	if (pm__os_commit((void *)a->top_end, more))
		return -ENOMEM;
	a->top_end += more;
	t->head = (have + more) | (t->head & PM_CHUNK_PINUSE);
	PM_ASSERT(a->top + pm__chunk_size(t) == a->top_end);
	return 0;
}

/* ---- init --------------------------------------------------------------- */

uintptr_t pm__arena_first(struct pm_arena *a)
{
	return pm__chunk_first(a->lo); /* the caller put the header at lo */
}

void pm__arena_init(struct pm_arena *a, uintptr_t lo, uintptr_t hi)
{
	/* the caller has committed [region start, lo) for headers */
	memset(a, 0, sizeof *a);
	a->lo = lo;
	a->hi = hi;
	for (unsigned b = 0; b < PM_NSMALL + PM_NLARGE; b++) {
		struct pm_chunk *h = bin_at(a, b);
		h->fd = h->bk = h;
	}
	uintptr_t first = pm__arena_first(a);
	uintptr_t end = (first + PM_PAGE - 1) & ~(PM_PAGE - 1);
	a->top = first;
	a->top_end = end;
	a->zero_from = first;
	a->trim_threshold = (size_t)16 << 20;
	pm__chunk_at(first)->head = (end - first) | PM_CHUNK_PINUSE;
}
