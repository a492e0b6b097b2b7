/*
 * heap.c - one arena: boundary-tagged chunks, exact small bins, sorted
 * large bins, a top chunk, best fit, immediate coalescing (dlmalloc's
 * design, written here from the algorithm).
 *
 * Every byte of an arena's state is inside the arena's own memory (struct
 * pm_arena lives in the region), and every link is an absolute address:
 * the region never moves, so a byte copy of it is a working heap.
 *
 * Chunk layout (addresses are 16-aligned; "mem" is what malloc returns):
 *
 *     chunk -> +-----------------------------------------------+
 *              | prev_foot: size of the previous chunk, valid   |
 *              |            only while the previous one is free |
 *              +-----------------------------------------------+
 *              | head: size | CINUSE | PINUSE                   |
 *       mem -> +-----------------------------------------------+
 *              | payload (in use)     | fd, bk (free)           |
 *              | ...                                            |
 *    next  ->  +-----------------------------------------------+
 *              | next's prev_foot: last 8 bytes of the payload  |
 *              | while this chunk is in use; our size if free   |
 *              +-----------------------------------------------+
 *
 * So an in-use chunk of size S holds S - 8 usable bytes.  CINUSE is this
 * chunk's state, PINUSE the previous chunk's (so a free chunk can find its
 * predecessor's footer only when that one is free).
 *
 * Invariants (checked by check.c):
 *   - chunks tile [first, top_end) exactly; the last one is top;
 *   - no two adjacent free chunks (coalescing is immediate); top is free;
 *   - a free non-top chunk is in exactly the bin its size maps to, and its
 *     successor has PINUSE clear and prev_foot == its size;
 *   - small bins hold one size each; large bins are sorted by size, and
 *     the first chunk of each size in a large bin (its "leader") is on a
 *     circular list of the bin's leaders, in size order, through
 *     fd_size/bk_size (NULL in the others): insert and best-fit search
 *     step over sizes, not chunks (glibc's skip links, dlmalloc's tries);
 *   - bitmap bit i set <=> bin i non-empty.
 * Always on (release builds too), as musl's mallocng does: every link and
 * size is checked before it is followed -- fast-list blocks (inside the
 * arena below top, of their class, still keyed), chunks leaving a bin
 * (free, of the bin's size, with a matching footer; fd/bk a chunk or a bin
 * head, fd->bk == bk->fd == the chunk), top (inside, its size reaching
 * top_end), the free predecessor (prev_foot).  A bad one is a write after
 * free, an overrun or a bad file: one line, abort.
 * The caller holds the arena's lock for every function here.
 */
#include "internal.h"
#include <errno.h>
#include <string.h>

#define PINUSE ((size_t)1)
#define CINUSE ((size_t)2)
#define FLAGS (PINUSE | CINUSE)
#define MINCHUNK ((size_t)32)
#define SMALL_LIMIT ((size_t)PM_NSMALL << 4) /* 1024: first large size */

struct chunk {
	size_t prev_foot;
	size_t head;
	struct chunk *fd, *bk;
	/* large free chunks only (sizes >= 1024): the ring of leaders */
	struct chunk *fd_size, *bk_size;
};
_Static_assert(sizeof(struct chunk) == PM_FREE_HDR, "free chunk header");

#define C(a) ((struct chunk *)(a))
#define MEM(c) ((void *)((char *)(c) + 16))
#define CHUNK_OF(m) ((struct chunk *)((char *)(m)-16))
#define SIZE(c) ((c)->head & ~(size_t)15) /* bits 2-3: PM_CHUNK_EARLY */
#define NEXT(c) C((char *)(c) + SIZE(c))
#define PREV(c) C((char *)(c) - (c)->prev_foot)

static inline void set_foot(struct chunk *c, size_t sz)
{
	C((char *)c + sz)->prev_foot = sz;
}

/* ---- bins --------------------------------------------------------------- */

static inline unsigned small_index(size_t sz) { return (unsigned)(sz >> 4); }

static inline unsigned large_index(size_t sz)
{
	unsigned k = 63u - (unsigned)__builtin_clzl(sz); /* floor(log2) */
	unsigned i = (k - 10) * 4 + (unsigned)((sz >> (k - 2)) & 3);
	return i < PM_NLARGE ? i : PM_NLARGE - 1;
}

/* Bin b (0..127: small then large) head: a fake chunk whose fd/bk alias
 * bins[2b], bins[2b+1]. */
static inline struct chunk *bin_at(struct pm_arena *a, unsigned b)
{
	return C((char *)&a->bins[2 * b] - offsetof(struct chunk, fd));
}

/* ---- always-on checks of the links the allocator follows --------------
 * A use-after-free write, a buffer overrun or a bad checkpoint file can put
 * any value in a link or a size; each is checked before it is followed,
 * and a bad one aborts with one line (like other misuse) instead of
 * handing out or writing to memory outside the arena. */

/* c is 16-aligned and in [first chunk, top). */
static inline int chunk_ok(const struct pm_arena *a, uintptr_t c)
{
	uintptr_t first = pm__arena_first((struct pm_arena *)a);
	return !(c & 15) && c - first < a->top - first;
}

/* A bin link: a chunk, or one of the bins' fake heads. */
static inline int link_ok(struct pm_arena *a, uintptr_t x)
{
	uintptr_t h0 = (uintptr_t)bin_at(a, 0);
	return chunk_ok(a, x) || (!((x - h0) & 15) &&
				  x - h0 < (uintptr_t)16 * (PM_NSMALL + PM_NLARGE));
}

/* A block (mem address) from a fast list: an in-use chunk of class sz
 * that still carries the key its free wrote.  Anything else means the
 * block was written to after it was freed. */
static inline void fast_block_check(struct pm_arena *a, uintptr_t b,
				    size_t sz, const char *what)
{
	if (unlikely(!chunk_ok(a, b - 16)))
		pm__fatal(what, (void *)b);
	/* head: size sz, CINUSE (mask off PINUSE and bits 2-3) */
	if (unlikely(((uint64_t *)b)[1] != PM_FREE_KEY ||
		     (C(b - 16)->head & ~(size_t)13) != (sz | CINUSE)))
		pm__fatal("malloc(): freed block modified (use after free)",
			  (void *)b);
}

/* A chunk about to leave a bin: free, of the bin's size, its successor
 * inside the arena and marking it free (prev_foot, PINUSE clear). */
static void bin_chunk_check(struct pm_arena *a, struct chunk *c, size_t sz)
{
	uintptr_t u = (uintptr_t)c;
	if (unlikely(!chunk_ok(a, u) || (c->head & CINUSE) || SIZE(c) != sz ||
		     sz > a->top - u ||
		     (u + sz != a->top && sz + MINCHUNK > a->top - u) ||
		     NEXT(c)->prev_foot != sz || (NEXT(c)->head & PINUSE)))
		pm__fatal("malloc(): corrupted free chunk", MEM(c));
}

/* Link c into the list after `after`. */
static inline void link_after(struct chunk *after, struct chunk *c)
{
	c->fd = after->fd;
	c->bk = after;
	after->fd->bk = c;
	after->fd = c;
}

/* Put leader c on the ring just before leader `before` (NULL: c alone). */
static inline void ring_before(struct chunk *before, struct chunk *c)
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
static void large_insert(struct chunk *h, struct chunk *c, size_t sz)
{
	struct chunk *first = h->fd;
	if (first == h) { /* empty bin */
		link_after(h, c);
		ring_before(NULL, c);
		return;
	}
	struct chunk *l = first;
	for (;;) {
		size_t lsz = SIZE(l);
		if (lsz == sz) { /* same size: behind its leader */
			link_after(l, c);
			c->fd_size = c->bk_size = NULL;
			return;
		}
		if (lsz > sz) { /* a new size, before l's group */
			link_after(l->bk, c);
			ring_before(l, c);
			return;
		}
		if (l->fd_size == first) { /* larger than every size */
			link_after(h->bk, c);
			ring_before(first, c);
			return;
		}
		l = l->fd_size;
	}
}

static void large_remove(struct chunk *h, struct chunk *c)
{
	if (!c->fd_size)
		return; /* not a leader: only the list link (caller) */
	struct chunk *n = c->fd;
	if (n != h && SIZE(n) == SIZE(c)) { /* n leads its size now */
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

static void bin_insert(struct pm_arena *a, struct chunk *c, size_t sz)
{
	if (sz < SMALL_LIMIT) {
		unsigned i = small_index(sz);
		a->smallmap |= 1ULL << i;
		link_after(bin_at(a, i), c); /* LIFO at the front */
	} else {
		unsigned i = large_index(sz);
		a->largemap |= 1ULL << i;
		large_insert(bin_at(a, PM_NSMALL + i), c, sz);
	}
	a->free_bytes += sz;
}

static void bin_remove(struct pm_arena *a, struct chunk *c, size_t sz)
{
	struct chunk *f = c->fd, *b = c->bk;
	if (unlikely(!link_ok(a, (uintptr_t)f) || !link_ok(a, (uintptr_t)b) ||
		     f->bk != c || b->fd != c))
		pm__fatal("corrupted free list", MEM(c));
	if (sz >= SMALL_LIMIT)
		large_remove(bin_at(a, PM_NSMALL + large_index(sz)), c);
	f->bk = b;
	b->fd = f;
	if (f == b) { /* the bin is now empty: f and b are the head */
		if (sz < SMALL_LIMIT)
			a->smallmap &= ~(1ULL << small_index(sz));
		else
			a->largemap &= ~(1ULL << large_index(sz));
	}
	a->free_bytes -= sz;
}

/* ---- release of free pages -------------------------------------------- */

/* Give back the whole pages strictly inside a free chunk's payload (past
 * its header and links). */
static void release_interior(struct pm_arena *a, struct chunk *c, size_t sz)
{
	uintptr_t lo = ((uintptr_t)c + PM_FREE_HDR + PM_PAGE - 1) &
		       ~(PM_PAGE - 1);
	uintptr_t hi = ((uintptr_t)c + sz) & ~(PM_PAGE - 1);
	if (hi > lo) {
		pm__os_release((void *)lo, hi - lo);
		a->released += hi - lo;
	}
}

/* ---- top ----------------------------------------------------------------- */

#define GROW_STEP ((size_t)4 << 20) /* commit in 4 MiB steps */

/* Make top at least `need` bytes by committing more of the arena. */
static int grow_top(struct pm_arena *a, size_t need)
{
	struct chunk *t = C(a->top);
	if (unlikely((a->top & 15) || a->top < pm__arena_first(a) ||
		     a->top >= a->top_end || a->top_end > a->hi))
		pm__fatal("malloc(): corrupted top chunk", t);
	size_t have = SIZE(t);
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
	t->head = (have + more) | (t->head & PINUSE);
	return 0;
}

/* Carve an in-use chunk of size sz from the front of top. */
static struct chunk *from_top(struct pm_arena *a, size_t sz)
{
	if (grow_top(a, sz + MINCHUNK))
		return NULL;
	struct chunk *t = C(a->top);
	size_t tsz = SIZE(t);
	struct chunk *n = C((char *)t + sz);
	n->head = (tsz - sz) | PINUSE;
	t->head = sz | CINUSE | (t->head & PINUSE);
	a->top = (uintptr_t)n;
	return t;
}

/* ---- init ------------------------------------------------------------------ */

uintptr_t pm__arena_first(struct pm_arena *a)
{
	/* the first chunk starts 16 bytes before a 16-aligned mem, right
	 * after the arena header (which the caller placed at a->lo) */
	return ((a->lo + 15) & ~(uintptr_t)15);
}

void pm__arena_init(struct pm_arena *a, uintptr_t lo, uintptr_t hi)
{
	/* the caller has committed [region start, lo) for headers */
	memset(a, 0, sizeof *a);
	a->lo = lo;
	a->hi = hi;
	for (unsigned b = 0; b < PM_NSMALL + PM_NLARGE; b++) {
		struct chunk *h = bin_at(a, b);
		h->fd = h->bk = h;
	}
	uintptr_t first = pm__arena_first(a);
	uintptr_t end = (first + PM_PAGE - 1) & ~(PM_PAGE - 1);
	a->top = first;
	a->top_end = end;
	a->zero_from = first;
	a->trim_threshold = (size_t)16 << 20;
	C(first)->head = (end - first) | PINUSE;
}

/* ---- allocate ---------------------------------------------------------- */

/* Split chunk c (already out of any bin, size csz) so that its front of
 * size sz is in use; the rest becomes a free chunk (or merges with top). */
static void split_inuse(struct pm_arena *a, struct chunk *c, size_t csz,
			size_t sz)
{
	size_t rest = csz - sz;
	if (rest < MINCHUNK) {
		c->head = csz | CINUSE | (c->head & PINUSE);
		NEXT(c)->head |= PINUSE;
		return;
	}
	c->head = sz | CINUSE | (c->head & PINUSE);
	struct chunk *r = C((char *)c + sz);
	r->head = rest | PINUSE;
	set_foot(r, rest);
	NEXT(r)->head &= ~PINUSE;
	bin_insert(a, r, rest);
}

/* Pop a chunk of exactly class sz from its fast list. */
static inline struct chunk *take_fast(struct pm_arena *a, size_t sz)
{
	unsigned i = small_index(sz);
	uintptr_t b = a->fast[i];
	if (!b)
		return NULL;
	fast_block_check(a, b, sz, "malloc(): corrupted fast list");
	a->fast[i] = *(uintptr_t *)b;
	((uint64_t *)b)[1] = 0;
	a->fast_bytes -= sz;
	return CHUNK_OF(b);
}

/* Worth merging the fast lists before taking fresh memory from top? */
static inline int should_consolidate(struct pm_arena *a, size_t sz)
{
	return a->fast_bytes > (sz > ((size_t)64 << 10) ? sz : (size_t)64 << 10);
}

static struct chunk *take_small(struct pm_arena *a, size_t sz)
{
	unsigned i = small_index(sz);
	uint64_t m = a->smallmap >> i << i;
	if (m) {
		unsigned b = (unsigned)__builtin_ctzll(m);
		struct chunk *h = bin_at(a, b), *c = h->bk;
		size_t csz = (size_t)b << 4;
		bin_chunk_check(a, c, csz);
		bin_remove(a, c, csz);
		split_inuse(a, c, csz, sz);
		return c;
	}
	return NULL;
}

static struct chunk *take_large(struct pm_arena *a, size_t sz)
{
	unsigned i = sz < SMALL_LIMIT ? 0 : large_index(sz);
	uint64_t m = a->largemap >> i << i;
	while (m) {
		unsigned b = (unsigned)__builtin_ctzll(m);
		struct chunk *h = bin_at(a, PM_NSMALL + b), *first = h->fd;
		struct chunk *l = first;
		do { /* leaders in size order: the first fit is the best */
			if (unlikely(!chunk_ok(a, (uintptr_t)l)))
				pm__fatal("malloc(): corrupted large bin", l);
			size_t csz = SIZE(l);
			if (csz >= sz) {
				/* take a follower if there is one: the ring
				 * stays as it is */
				struct chunk *c = l->fd;
				if (c == h || !chunk_ok(a, (uintptr_t)c) ||
				    SIZE(c) != csz)
					c = l;
				bin_chunk_check(a, c, csz);
				bin_remove(a, c, csz);
				split_inuse(a, c, csz, sz);
				return c;
			}
			l = l->fd_size;
		} while (l != first);
		m &= m - 1;
	}
	return NULL;
}

/* Account a chunk that just became (or grew as) an in-use chunk by
 * `grown` bytes: live total, peak, and the never-used watermark. */
static void account(struct pm_arena *a, struct chunk *c, size_t grown)
{
	a->live_bytes += grown;
	if (a->live_bytes > a->peak)
		a->peak = a->live_bytes;
	uintptr_t end = (uintptr_t)c + SIZE(c) + 8;
	if (end > a->zero_from) {
		a->zero_from = end > a->top_end ? a->top_end : end;
		/* Touching again what a trim gave back: the program cycles
		 * through this much memory, and each page fault costs far
		 * more than keeping the page.  Trim less eagerly (as glibc
		 * raises its thresholds). */
		if (a->trim_mark && end > a->trim_mark) {
			if (a->trim_threshold < ((size_t)1 << 30))
				a->trim_threshold *= 2;
			a->trim_mark = 0;
		}
	}
}

static void *finish(struct pm_arena *a, struct chunk *c)
{
	account(a, c, SIZE(c));
	return MEM(c);
}

void *pm__arena_alloc(struct pm_arena *a, size_t n)
{
	if (unlikely(n > PM_MAX_REQUEST))
		return NULL;
	size_t sz = pm__request2size(n);
	struct chunk *c = NULL;
	if (sz < SMALL_LIMIT && (c = take_fast(a, sz)))
		return finish(a, c);
	for (int again = 0;; again = 1) {
		if (sz < SMALL_LIMIT)
			c = take_small(a, sz);
		if (!c)
			c = take_large(a, sz);
		if (c || again || !should_consolidate(a, sz))
			break;
		pm__arena_consolidate(a);
	}
	if (!c)
		c = from_top(a, sz);
	if (!c && a->fast_bytes) { /* last resort: merge what waits */
		pm__arena_consolidate(a);
		if (sz < SMALL_LIMIT)
			c = take_small(a, sz);
		if (!c)
			c = take_large(a, sz);
		if (!c)
			c = from_top(a, sz);
	}
	return c ? finish(a, c) : NULL;
}

/* Cut the in-use chunk c (size csz, already accounted) into blocks of
 * size sz for out[k..max); a tail shorter than sz stays with the last
 * block (whose class is then larger: the caller copes). */
static int carve(struct chunk *c, size_t csz, size_t sz, void **out, int k,
		 int max)
{
	size_t pin = c->head & PINUSE;
	char *q = (char *)c, *end = q + csz;
	while (k < max && (size_t)(end - q) >= sz) {
		size_t this = (size_t)(end - q) < 2 * sz ? (size_t)(end - q) : sz;
		if (k + 1 == max)
			this = (size_t)(end - q);
		C(q)->head = this | CINUSE | pin;
		pin = PINUSE;
		out[k++] = MEM(q);
		q += this;
	}
	return k;
}

int pm__arena_alloc_batch(struct pm_arena *a, size_t sz, void **out, int max)
{
	int k = 0;
	struct chunk *c;
	/* small sizes: the fast list first (no splitting, no coalescing),
	 * then the exact-size bin */
	if (sz < SMALL_LIMIT) {
		while (k < max && (c = take_fast(a, sz)))
			out[k++] = finish(a, c);
		struct chunk *h = bin_at(a, small_index(sz));
		while (k < max && h->bk != h) {
			c = h->bk;
			bin_chunk_check(a, c, sz);
			bin_remove(a, c, sz);
			c->head |= CINUSE;
			NEXT(c)->head |= PINUSE;
			out[k++] = finish(a, c);
		}
	}
	if (k == max)
		return k;
	if (k == 0 && should_consolidate(a, sz))
		pm__arena_consolidate(a);
	/* then runs carved from free chunks (best fit for the whole run,
	 * else for half of it, ...), and only then from top */
	while (k < max) {
		size_t run = sz * (size_t)(max - k);
		c = NULL;
		if (a->free_bytes >= sz) {
			for (size_t r = run; r >= sz && !c;
			     r = r / 2 / sz * sz) {
				if (r < SMALL_LIMIT)
					c = take_small(a, r);
				if (!c)
					c = take_large(a, r);
			}
		}
		if (c) {
			account(a, c, SIZE(c));
			k = carve(c, SIZE(c), sz, out, k, max);
			continue;
		}
		if (grow_top(a, run + MINCHUNK) == 0) {
			struct chunk *t = C(a->top);
			size_t tsz = SIZE(t);
			t->head = run | CINUSE | (t->head & PINUSE);
			struct chunk *nt = C((char *)t + run);
			nt->head = (tsz - run) | PINUSE;
			a->top = (uintptr_t)nt;
			account(a, t, run);
			return carve(t, run, sz, out, k, max);
		}
		if (!(c = from_top(a, sz)) && a->fast_bytes) {
			pm__arena_consolidate(a);
			continue;
		}
		if (!c)
			break;
		out[k++] = finish(a, c);
	}
	return k;
}

void *pm__arena_memalign(struct pm_arena *a, size_t align, size_t n)
{
	if (align <= 16)
		return pm__arena_alloc(a, n);
	if (n > PM_MAX_REQUEST || align > PM_MAX_REQUEST)
		return NULL;
	size_t sz = pm__request2size(n);
	char *m = pm__arena_alloc(a, sz + align + MINCHUNK);
	if (!m)
		return NULL;
	/* Splitting off a part and freeing it keeps the books right: free
	 * subtracts exactly what leaves the block. */
	struct chunk *c = CHUNK_OF(m);
	uintptr_t am = ((uintptr_t)m + align - 1) & ~(uintptr_t)(align - 1);
	if (am != (uintptr_t)m) {
		/* give the leading part back as a free chunk */
		if (am - (uintptr_t)m < MINCHUNK)
			am += align; /* leave room for a minimal chunk */
		struct chunk *nc = CHUNK_OF(am);
		size_t lead = (uintptr_t)nc - (uintptr_t)c;
		size_t total = SIZE(c);
		nc->head = (total - lead) | CINUSE | PINUSE;
		c->head = lead | CINUSE | (c->head & PINUSE);
		pm__arena_free(a, MEM(c));
		c = nc;
	}
	/* trim the tail */
	size_t csz = SIZE(c);
	if (csz >= sz + MINCHUNK) {
		c->head = sz | CINUSE | (c->head & PINUSE);
		struct chunk *r = C((char *)c + sz);
		r->head = (csz - sz) | CINUSE | PINUSE;
		pm__arena_free(a, MEM(r));
	}
	return MEM(c);
}

/* ---- free ---------------------------------------------------------------- */

void pm__check_block(struct pm_arena *a, const void *p, const char *call)
{
	struct chunk *c = CHUNK_OF(p);
	uintptr_t u = (uintptr_t)c;
	char msg[64];
	if (unlikely(((uintptr_t)p & 15) || u < pm__arena_first(a) ||
		     u >= a->top)) {
		pm__fmt(msg, sizeof msg, "%s(): invalid pointer", call);
		pm__fatal(msg, p);
	}
	size_t sz = SIZE(c);
	if (unlikely(!(c->head & CINUSE) ||
		     (((const uint64_t *)p)[1] == PM_FREE_KEY &&
		      pm__arena_fast_has(a, (void *)p)))) {
		pm__fmt(msg, sizeof msg, "%s(): double free or not a live block",
			call);
		pm__fatal(msg, p);
	}
	if (unlikely(sz < MINCHUNK || (sz & 15) || u + sz > a->top ||
		     !(NEXT(c)->head & PINUSE))) {
		pm__fmt(msg, sizeof msg, "%s(): invalid pointer (bad size)",
			call);
		pm__fatal(msg, p);
	}
}

/* Free chunk c for real: coalesce, bin, maybe release pages.  The caller
 * has already taken its bytes off live_bytes or fast_bytes. */
static void free_chunk(struct pm_arena *a, struct chunk *c)
{
	size_t sz = SIZE(c), biggest = sz;
	struct chunk *own = c; /* the chunk being freed, before merging */
	size_t own_sz = sz;
	c->head &= ~CINUSE; /* so a second free of p is caught */
	if (!(c->head & PINUSE)) { /* merge with the free predecessor */
		size_t psz = c->prev_foot;
		if (psz > biggest)
			biggest = psz;
		struct chunk *pc = PREV(c);
		if (unlikely(psz < MINCHUNK ||
			     (uintptr_t)c - pm__arena_first(a) < psz ||
			     SIZE(pc) != psz || (pc->head & CINUSE)))
			pm__fatal("free(): corrupted size of the previous chunk",
				  MEM(own));
		bin_remove(a, pc, psz);
		sz += psz;
		c = pc;
	}
	struct chunk *n = C((char *)c + sz);
	if ((uintptr_t)n == a->top) { /* merge into top */
		sz += SIZE(n);
		c->head = sz | PINUSE;
		a->top = (uintptr_t)c;
		if (sz > a->trim_threshold)
			pm__arena_trim(a, a->trim_threshold / 2);
		return;
	}
	if (!(n->head & CINUSE)) { /* merge with the free successor */
		size_t nsz = SIZE(n);
		bin_chunk_check(a, n, nsz);
		bin_remove(a, n, nsz);
		sz += nsz;
		if (nsz > biggest)
			biggest = nsz;
	}
	c->head = sz | PINUSE;
	set_foot(c, sz);
	NEXT(c)->head &= ~PINUSE;
	bin_insert(a, c, sz);
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
	struct chunk *c = CHUNK_OF(p);
	size_t sz = SIZE(c);
	c->head &= ~PM_CHUNK_EARLY; /* whoever gets it next is not early */
	a->live_bytes -= sz;
	if (sz < SMALL_LIMIT) { /* defer: onto the fast list */
		unsigned i = small_index(sz);
		((uintptr_t *)p)[0] = a->fast[i];
		((uint64_t *)p)[1] = PM_FREE_KEY;
		a->fast[i] = (uintptr_t)p;
		a->fast_bytes += sz;
		return;
	}
	free_chunk(a, c);
}

void pm__arena_fast_splice(struct pm_arena *a, size_t sz, void *first,
			   void *last, size_t n)
{
	unsigned i = small_index(sz);
	((uintptr_t *)last)[0] = a->fast[i];
	a->fast[i] = (uintptr_t)first;
	a->live_bytes -= sz * n;
	a->fast_bytes += sz * n;
}

size_t pm__arena_fast_take(struct pm_arena *a, size_t sz, size_t max,
			   void **first, void **last)
{
	unsigned i = small_index(sz);
	uintptr_t h = a->fast[i], b = h;
	if (!h || !max)
		return 0;
	size_t n = 1;
	fast_block_check(a, b, sz, "malloc(): corrupted fast list");
	while (n < max && *(uintptr_t *)b) {
		b = *(uintptr_t *)b, n++;
		fast_block_check(a, b, sz, "malloc(): corrupted fast list");
	}
	a->fast[i] = *(uintptr_t *)b;
	a->fast_bytes -= n * sz;
	a->live_bytes += n * sz;
	if (a->live_bytes > a->peak)
		a->peak = a->live_bytes;
	*first = (void *)h;
	*last = (void *)b;
	return n;
}

int pm__arena_fast_has(struct pm_arena *a, void *p)
{
	size_t sz = SIZE(CHUNK_OF(p));
	if (sz >= SMALL_LIMIT)
		return 0;
	for (uintptr_t b = a->fast[small_index(sz)]; b; b = *(uintptr_t *)b) {
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
			fast_block_check(a, b, (size_t)i << 4,
					 "malloc(): corrupted fast list");
			uintptr_t n = *(uintptr_t *)b;
			((uint64_t *)b)[1] = 0;
			free_chunk(a, CHUNK_OF(b));
			b = n;
		}
	}
	a->fast_bytes = 0;
}

int pm__arena_trim(struct pm_arena *a, size_t pad)
{
	struct chunk *t = C(a->top);
	if (pad > a->top_end - a->top)
		return 0;
	uintptr_t lo = ((uintptr_t)t + 32 + pad + PM_PAGE - 1) & ~(PM_PAGE - 1);
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

/* Give back every free page of the arena (malloc_trim). */
int pm__arena_trim_all(struct pm_arena *a, size_t pad);
int pm__arena_trim_all(struct pm_arena *a, size_t pad)
{
	pm__arena_consolidate(a);
	int did = pm__arena_trim(a, pad);
	for (unsigned b = 0; b < PM_NSMALL + PM_NLARGE; b++) {
		struct chunk *h = bin_at(a, b);
		for (struct chunk *c = h->fd; c != h; c = c->fd) {
			if (unlikely(!chunk_ok(a, (uintptr_t)c)))
				pm__fatal("malloc_trim(): corrupted free list",
					  c);
			if (SIZE(c) >= 2 * PM_PAGE + PM_FREE_HDR) {
				release_interior(a, c, SIZE(c));
				did = 1;
			}
		}
	}
	return did;
}

/* ---- resize in place ---------------------------------------------------- */

int pm__arena_resize(struct pm_arena *a, void *p, size_t n)
{
	if (n > PM_MAX_REQUEST)
		return 0;
	struct chunk *c = CHUNK_OF(p);
	size_t sz = SIZE(c), want = pm__request2size(n);
	if (want <= sz) { /* shrink: split off the tail if worth it */
		if (sz - want >= MINCHUNK) {
			c->head = want | CINUSE | (c->head & PINUSE);
			struct chunk *r = C((char *)c + want);
			r->head = (sz - want) | CINUSE | PINUSE;
			pm__arena_free(a, MEM(r)); /* subtracts sz - want */
		}
		return 1;
	}
	struct chunk *n2 = NEXT(c);
	if ((uintptr_t)n2 == a->top) {
		if (grow_top(a, want - sz + MINCHUNK))
			return 0;
		size_t tsz = SIZE(n2);
		struct chunk *t = C((char *)c + want);
		t->head = (tsz - (want - sz)) | PINUSE;
		a->top = (uintptr_t)t;
		c->head = want | CINUSE | (c->head & PINUSE);
		account(a, c, want - sz);
		return 1;
	}
	if (!(n2->head & CINUSE)) {
		size_t nsz = SIZE(n2);
		if (sz + nsz >= want) {
			bin_chunk_check(a, n2, nsz);
			bin_remove(a, n2, nsz);
			c->head = (sz + nsz) | CINUSE | (c->head & PINUSE);
			NEXT(c)->head |= PINUSE;
			account(a, c, nsz);
			if (sz + nsz - want >= MINCHUNK) {
				c->head = want | CINUSE | (c->head & PINUSE);
				struct chunk *r = C((char *)c + want);
				r->head = (sz + nsz - want) | CINUSE | PINUSE;
				pm__arena_free(a, MEM(r));
			}
			return 1;
		}
	}
	return 0;
}

/* ---- inspection ---------------------------------------------------------- */

size_t pm__block_chunksize(const void *p) { return SIZE(CHUNK_OF(p)); }
size_t pm__block_usable(const void *p) { return SIZE(CHUNK_OF(p)) - 8; }

int pm__arena_walk(struct pm_arena *a,
		   int (*fn)(void *, uintptr_t, size_t, int), void *ctx)
{
	uintptr_t c = pm__arena_first(a);
	while (c < a->top) {
		size_t sz = SIZE(C(c));
		if (sz < MINCHUNK || c + sz > a->top)
			return fn(ctx, c, sz, -1); /* corrupt: let fn say */
		int r = fn(ctx, c, sz, (C(c)->head & CINUSE) != 0);
		if (r)
			return r;
		c += sz;
	}
	return fn(ctx, a->top, SIZE(C(a->top)), 0);
}
