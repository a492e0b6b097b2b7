/*
 * heap.c - the arena's allocation paths: malloc (fast list, exact small
 * bin, best fit among large bins, top), a batch of equal blocks for a
 * thread cache's refill, aligned allocation, and resizing in place.
 *
 * Invariant kept: a chunk handed out is in use (CINUSE, its successor's
 * PINUSE set), at least the request's chunk size, and accounted in
 * live_bytes (peak, zero_from follow).  Bins and top are heap_bins.c's,
 * frees heap_free.c's.  The caller holds the arena's lock.
 */
#include "heap.h"

/* Large chunks end on a grid.  A split writes the header of the free rest
 * at the end of the chunk it hands out; with exact sizes those headers land
 * at a new address each time and, over a churning heap, first-touch every
 * page of it (w_large faulted in all of a 54 MiB extent to keep 32 blocks
 * whose program touched one byte each: 13.5k faults, where mimalloc takes
 * 1.3k).  So a chunk of PM_GRID_MIN bytes or more is made to end (and its
 * successor to start) on a multiple of the grid, PM_GRID (PM_GRID / 2
 * below 2 * PM_GRID_MIN, which halves the slack of the smallest ones),
 * when that fits in the `avail` bytes it is carved from; when it does
 * not, it gets the whole of avail if the rest would be below the grid,
 * else its exact size.  Every split point a large block makes is then one
 * of few addresses, as mimalloc's 64 KiB slices are.  The slack (below
 * the grid, past the request) is the block's: malloc_usable_size counts
 * it, realloc grows into it; the program never wrote it, so it costs
 * resident memory only where an earlier block had written those pages
 * (w_overhead: +1.6% peak RSS; 3.2% with a 64 KiB grid throughout).
 * A shrink in place and an aligned block's tail split on the grid too;
 * growth in place takes the size asked (realloc asks for a quarter more:
 * the grid on top of it cost w_realloc 8% and 160 more faults). */
static inline size_t grid_size(uintptr_t u, size_t sz, size_t avail)
{
	if (sz < PM_GRID_MIN)
		return sz;
	size_t grid = sz >= 2 * PM_GRID_MIN ? PM_GRID : PM_GRID / 2;
	size_t g = ((u + sz + grid - 1) & ~(grid - 1)) - u;
	if (g <= avail)
		return g;
	return avail - sz < grid ? avail : sz;
}

/* Carve an in-use chunk of size sz from the front of top. */
static struct pm_chunk *from_top(struct pm_arena *a, size_t sz)
{
	size_t g = grid_size(a->top, sz, (size_t)-1);
	if (g != sz && pm__grow_top(a, g + PM_CHUNK_MIN) == 0)
		sz = g; /* else the exact size, if the arena's end allows it */
	else if (pm__grow_top(a, sz + PM_CHUNK_MIN))
		return NULL;
	struct pm_chunk *t = pm__chunk_at(a->top);
	size_t tsz = pm__chunk_size(t);
	struct pm_chunk *n = chunk_plus(t, sz);
	n->head = (tsz - sz) | PM_CHUNK_PINUSE;
	t->head = sz | PM_CHUNK_CINUSE | (t->head & PM_CHUNK_PINUSE);
	a->top = (uintptr_t)n;
	return t;
}

/* Split chunk c (already out of any bin, size csz) so that its front of
 * size sz is in use; the rest becomes a free chunk (or merges with top). */
static void split_inuse(struct pm_arena *a, struct pm_chunk *c, size_t csz,
			size_t sz)
{
	size_t rest = csz - sz;
	if (rest < PM_CHUNK_MIN) {
		c->head = csz | PM_CHUNK_CINUSE | (c->head & PM_CHUNK_PINUSE);
		pm__chunk_next(c)->head |= PM_CHUNK_PINUSE;
		return;
	}
	c->head = sz | PM_CHUNK_CINUSE | (c->head & PM_CHUNK_PINUSE);
	struct pm_chunk *r = chunk_plus(c, sz);
	r->head = rest | PM_CHUNK_PINUSE;
	set_foot(r, rest);
	pm__chunk_next(r)->head &= ~PM_CHUNK_PINUSE;
	pm__bin_insert(a, r, rest);
}

/* Pop a chunk of exactly class sz from its fast list. */
static inline struct pm_chunk *take_fast(struct pm_arena *a, size_t sz)
{
	unsigned i = pm__small_index(sz);
	uintptr_t b = a->fast[i];
	if (!b)
		return NULL;
	uintptr_t lo = pm__chunk_first(a->lo), tail = 0;
	fast_block_check_in(lo, a->top, b, sz,
			    "malloc(): corrupted fast list");
	size_t run = fast_run_get(lo, a->top, b, sz, &tail);
	uintptr_t nx = fast_next(b);
	a->fast[i] = nx;
	/* the next head's run word: the rest of b's run (if b's was the
	 * whole run, nx heads the next one, whose word is as it was) */
	if (nx && run != 1)
		fast_run_set(nx, run ? run - 1 : 0, run ? tail : 0);
	*pm__block_key((void *)b) = 0;
	a->fast_bytes -= sz;
	return pm__chunk_of((void *)b);
}

/* Worth merging the fast lists before taking fresh memory from top? */
static inline int should_consolidate(struct pm_arena *a, size_t sz)
{
	/* at least 64 KiB and an eighth of the arena's extent: each merge
	 * (a walk of every waiting block under the lock) is paid for by
	 * that much allocation, when threads that free (their caches
	 * overflowing into the fast lists) are not the ones that allocate
	 * (refills finding their own class's list empty) */
	size_t min = (a->top - pm__arena_first(a)) / 8;
	if (min < ((size_t)64 << 10))
		min = (size_t)64 << 10;
	return a->fast_bytes > (sz > min ? sz : min);
}

static struct pm_chunk *take_small(struct pm_arena *a, size_t sz)
{
	unsigned i = pm__small_index(sz);
	uint64_t m = a->smallmap >> i << i;
	if (m) {
		unsigned b = (unsigned)__builtin_ctzll(m);
		struct pm_chunk *h = bin_at(a, b), *c = h->bk;
		size_t csz = pm__small_size(b);
		pm__bin_chunk_check(a, c, csz);
		pm__bin_remove(a, c, csz);
		split_inuse(a, c, csz, sz);
		return c;
	}
	return NULL;
}

/* A leader's next (up = 1) or previous leader on its bin's size ring,
 * checked to point back. */
static inline struct pm_chunk *ring_step(struct pm_arena *a,
					 struct pm_chunk *l, int up)
{
	struct pm_chunk *nx = up ? l->fd_size : l->bk_size;
	if (unlikely(!chunk_ok(a, (uintptr_t)nx) ||
		     (up ? nx->bk_size : nx->fd_size) != l))
		pm__fatal("malloc(): corrupted large bin (size links)", l);
	return nx;
}

static struct pm_chunk *take_large(struct pm_arena *a, size_t sz, int grid)
{
	unsigned i = sz < PM_SMALL_LIMIT ? 0 : pm__large_index(sz);
	uint64_t m = a->largemap >> i << i;
	while (m) {
		unsigned b = (unsigned)__builtin_ctzll(m);
		struct pm_chunk *h = bin_at(a, PM_NSMALL + b), *first = h->fd;
		struct pm_chunk *l = first;
		m &= m - 1;
		if (unlikely(!chunk_ok(a, (uintptr_t)l)))
			pm__fatal("malloc(): corrupted large bin", l);
		size_t fsz = pm__chunk_size(l);
		if (fsz < sz) {
			/* leaders in size order: the first that fits is the
			 * best fit; from the end nearer to sz */
			struct pm_chunk *last = ring_step(a, first, 0);
			size_t lsz = pm__chunk_size(last);
			if (lsz < sz)
				continue; /* nothing here fits */
			if (lsz - sz < sz - fsz) {
				l = last;
				for (;;) {
					struct pm_chunk *p = ring_step(a, l, 0);
					if (p == last ||
					    pm__chunk_size(p) < sz)
						break;
					l = p;
				}
			} else {
				do
					l = ring_step(a, l, 1);
				while (pm__chunk_size(l) < sz);
			}
		}
		size_t csz = pm__chunk_size(l);
		/* take a follower if there is one: the ring stays as it is */
		struct pm_chunk *c = l->fd;
		if (c == h || !chunk_ok(a, (uintptr_t)c) ||
		    pm__chunk_size(c) != csz)
			c = l;
		pm__bin_chunk_check(a, c, csz);
		pm__bin_remove(a, c, csz);
		split_inuse(a, c, csz,
			    grid ? grid_size((uintptr_t)c, sz, csz) : sz);
		return c;
	}
	return NULL;
}

/* Account a chunk that just became (or grew as) an in-use chunk by
 * `grown` bytes: live total, peak, and the never-used watermark. */
static void account(struct pm_arena *a, struct pm_chunk *c, size_t grown)
{
	a->live_bytes += grown;
	if (a->live_bytes > a->peak)
		a->peak = a->live_bytes;
	uintptr_t end = (uintptr_t)c + pm__chunk_size(c) + 8;
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

static void *finish(struct pm_arena *a, struct pm_chunk *c)
{
	account(a, c, pm__chunk_size(c));
	PM_ASSERT(pm__head_inuse(c->head) &&
		  pm__head_pinuse(pm__chunk_next(c)->head));
	PM_ASSERT_BOOKS(a);
	return pm__chunk_mem(c);
}

void *pm__arena_alloc(struct pm_arena *a, size_t n)
{
	if (unlikely(n > PM_MAX_REQUEST))
		return NULL;
	size_t sz = pm__request2size(n);
	struct pm_chunk *c = NULL;
	if (sz < PM_SMALL_LIMIT && (c = take_fast(a, sz)))
		return finish(a, c);
	for (int again = 0;; again = 1) {
		if (sz < PM_SMALL_LIMIT)
			c = take_small(a, sz);
		if (!c)
			c = take_large(a, sz, 1);
		if (c || again || !should_consolidate(a, sz))
			break;
		pm__arena_consolidate(a);
	}
	if (!c)
		c = from_top(a, sz);
	if (!c && a->fast_bytes) { /* last resort: merge what waits */
		pm__arena_consolidate(a);
		if (sz < PM_SMALL_LIMIT)
			c = take_small(a, sz);
		if (!c)
			c = take_large(a, sz, 1);
		if (!c)
			c = from_top(a, sz);
	}
	return c ? finish(a, c) : NULL;
}

#define TC_RESERVE_MERGE ((size_t)64 << 10)
void *pm__arena_alloc_range(struct pm_arena *a, size_t min, size_t want)
{
	min = pm__request2size(min);
	want = pm__request2size(want);
	if (want < min)
		want = min;
	struct pm_chunk *c = NULL;
	for (int again = 0;; again = 1) {
		for (size_t r = want; r >= min && !c && a->free_bytes >= min;
		     r = r / 2 & ~(PM_CHUNK_ALIGN - 1)) {
			if (r < min)
				r = min;
			if (r < PM_SMALL_LIMIT)
				c = take_small(a, r);
			if (!c)
				c = take_large(a, r, 0);
			if (r == min)
				break;
		}
		/* deferred blocks between the fragments keep them apart: merge
		 * them (the old 64 KiB rule; a reserve is that big) */
		if (c || again || a->fast_bytes < TC_RESERVE_MERGE)
			break;
		pm__arena_consolidate(a);
	}
	if (c)
		return finish(a, c);
	return pm__arena_alloc(a, want - PM_CHUNK_OVERHEAD);
}

/* Where a batch goes: an array (out[k]), or a chain for a thread cache
 * (chain != 0: each block linked to the next through its first word and
 * keyed in its second as it is made, the same pass that writes its head;
 * every block exactly of the class's size). */
struct batch {
	void **out;
	int k, max, chain;
	void *first, *last;
	uint64_t key;
};

static inline __attribute__((always_inline)) void emit(struct batch *o,
						       void *b)
{
	if (o->chain) {
		*pm__block_key(b) = o->key;
		if (o->k)
			*pm__block_link(o->last) = b;
		else
			o->first = b;
		o->last = b;
		o->k++;
	} else {
		o->out[o->k++] = b;
	}
}

/* Cut the in-use chunk c (size csz, already accounted) into blocks of
 * size sz.  For an array, a tail shorter than sz stays with the last
 * block (whose class is then larger: the caller copes); for a chain,
 * every block is of size sz and the tail is freed (see below). */
static inline __attribute__((always_inline)) void
carve(struct pm_arena *a, struct pm_chunk *c, size_t csz, size_t sz,
      struct batch *o)
{
	size_t pin = c->head & PM_CHUNK_PINUSE;
	uintptr_t q = (uintptr_t)c, end = q + csz;
	if (o->chain) {
		size_t n = (end - q) / sz;
		if (n > (size_t)(o->max - o->k))
			n = (size_t)(o->max - o->k);
		size_t rest = end - q - n * sz;
		/* a rest too small for a chunk (16 bytes) goes with the last
		 * block, which leaves the chain unless it is its first (the
		 * caller's to hand out: larger is fine there) */
		int odd = rest && rest < PM_CHUNK_MIN;
		if (n > (size_t)odd) {
			/* the first through emit, the others in one tight
			 * pass: head, key, and a link to the next block (the
			 * last one's is written by the next emit or the
			 * caller) */
			pm__chunk_at(q)->head = sz | PM_CHUNK_CINUSE | pin;
			pin = PM_CHUNK_PINUSE;
			emit(o, pm__chunk_mem(pm__chunk_at(q)));
			uintptr_t b = (uintptr_t)pm__chunk_mem(pm__chunk_at(q));
			uint64_t key = o->key;
			size_t head = sz | PM_CHUNK_CINUSE | PM_CHUNK_PINUSE;
			size_t more = n - (size_t)odd - 1;
			for (size_t i = 0; i < more; i++, b += sz) {
				*pm__block_link((void *)b) = (void *)(b + sz);
				pm__chunk_of((void *)(b + sz))->head = head;
				*pm__block_key((void *)(b + sz)) = key;
			}
			o->last = (void *)b;
			o->k += (int)more;
			q = b + sz - PM_CHUNK_MEM;
		}
		if (q == end)
			return;
		pm__chunk_at(q)->head = (end - q) | PM_CHUNK_CINUSE | pin;
		if (odd && o->k == 0) {
			emit(o, pm__chunk_mem(pm__chunk_at(q)));
			return;
		}
		pm__arena_free(a, pm__chunk_mem(pm__chunk_at(q)));
		if (odd) /* stop: taking it back would not make progress */
			o->max = o->k;
		return;
	}
	while (o->k < o->max && end - q >= sz) {
		size_t this = end - q < 2 * sz ? end - q : sz;
		if (o->k + 1 == o->max)
			this = end - q;
		pm__chunk_at(q)->head = this | PM_CHUNK_CINUSE | pin;
		pin = PM_CHUNK_PINUSE;
		emit(o, pm__chunk_mem(pm__chunk_at(q)));
		q += this;
	}
}

static inline __attribute__((always_inline)) void
alloc_batch(struct pm_arena *a, size_t sz, struct batch *o)
{
	struct pm_chunk *c;
	/* small sizes: the fast list first (no splitting, no coalescing),
	 * then the exact-size bin */
	if (sz < PM_SMALL_LIMIT) {
		while (o->k < o->max && (c = take_fast(a, sz)))
			emit(o, finish(a, c));
		struct pm_chunk *h = bin_at(a, pm__small_index(sz));
		while (o->k < o->max && h->bk != h) {
			c = h->bk;
			pm__bin_chunk_check(a, c, sz);
			pm__bin_remove(a, c, sz);
			c->head |= PM_CHUNK_CINUSE;
			pm__chunk_next(c)->head |= PM_CHUNK_PINUSE;
			emit(o, finish(a, c));
		}
	}
	/* then runs carved from free chunks (best fit for the whole run,
	 * else for half of it, ...), and only then from top; before top
	 * grows, the fast lists are merged if they hold enough (merging
	 * first, whenever this class's list is empty, cost a walk of every
	 * deferred block of every class under the lock each time while
	 * free chunks were at hand) */
	int merged = 0;
	while (o->k < o->max) {
		size_t run = sz * (size_t)(o->max - o->k);
		c = NULL;
		if (a->free_bytes >= sz) {
			for (size_t r = run; r >= sz && !c;
			     r = r / 2 / sz * sz) {
				if (r < PM_SMALL_LIMIT)
					c = take_small(a, r);
				if (!c)
					c = take_large(a, r, 0);
			}
		}
		if (c) {
			account(a, c, pm__chunk_size(c));
			carve(a, c, pm__chunk_size(c), sz, o);
			continue;
		}
		if (!merged && o->k == 0 && should_consolidate(a, sz)) {
			merged = 1;
			pm__arena_consolidate(a);
			continue;
		}
		if (pm__grow_top(a, run + PM_CHUNK_MIN) == 0) {
			struct pm_chunk *t = pm__chunk_at(a->top);
			size_t tsz = pm__chunk_size(t);
			t->head = run | PM_CHUNK_CINUSE |
				  (t->head & PM_CHUNK_PINUSE);
			struct pm_chunk *nt = chunk_plus(t, run);
			nt->head = (tsz - run) | PM_CHUNK_PINUSE;
			a->top = (uintptr_t)nt;
			account(a, t, run);
			carve(a, t, run, sz, o);
			return;
		}
		if (!(c = from_top(a, sz)) && a->fast_bytes) {
			pm__arena_consolidate(a);
			continue;
		}
		if (!c)
			break;
		emit(o, finish(a, c));
	}
}

int pm__arena_alloc_chain(struct pm_arena *a, size_t sz, int max,
			  void **first, void **last)
{
	struct batch o = { .max = max, .chain = 1, .key = PM_FREE_KEY };
	alloc_batch(a, sz, &o);
	if (o.k) {
		*pm__block_link(o.last) = NULL;
		*first = o.first;
		*last = o.last;
	}
	PM_ASSERT(o.k >= 0 && o.k <= max);
	PM_ASSERT_BOOKS(a);
	return o.k;
}

int pm__arena_alloc_batch(struct pm_arena *a, size_t sz, void **out, int max)
{
	struct batch o = { .out = out, .max = max };
	alloc_batch(a, sz, &o);
	PM_ASSERT(o.k >= 0 && o.k <= max);
	PM_ASSERT_BOOKS(a);
	return o.k;
}

void *pm__arena_memalign(struct pm_arena *a, size_t align, size_t n)
{
	if (align <= PM_CHUNK_ALIGN)
		return pm__arena_alloc(a, n);
	if (n > PM_MAX_REQUEST || align > PM_MAX_REQUEST)
		return NULL;
	size_t sz = pm__request2size(n);
	char *m = pm__arena_alloc(a, sz + align + PM_CHUNK_MIN);
	if (!m)
		return NULL;
	/* Splitting off a part and freeing it keeps the books right: free
	 * subtracts exactly what leaves the block. */
	struct pm_chunk *c = pm__chunk_of(m);
	uintptr_t am = ((uintptr_t)m + align - 1) & ~(uintptr_t)(align - 1);
	if (am != (uintptr_t)m) {
		/* give the leading part back as a free chunk */
		if (am - (uintptr_t)m < PM_CHUNK_MIN)
			am += align; /* leave room for a minimal chunk */
		struct pm_chunk *nc = pm__chunk_of((void *)am);
		size_t lead = (uintptr_t)nc - (uintptr_t)c;
		size_t total = pm__chunk_size(c);
		nc->head = (total - lead) | PM_CHUNK_CINUSE | PM_CHUNK_PINUSE;
		c->head = lead | PM_CHUNK_CINUSE | (c->head & PM_CHUNK_PINUSE);
		pm__arena_free(a, pm__chunk_mem(c));
		c = nc;
	}
	/* trim the tail (at the large blocks' grid) */
	size_t csz = pm__chunk_size(c);
	sz = grid_size((uintptr_t)c, sz, csz);
	if (csz >= sz + PM_CHUNK_MIN) {
		c->head = sz | PM_CHUNK_CINUSE | (c->head & PM_CHUNK_PINUSE);
		struct pm_chunk *r = chunk_plus(c, sz);
		r->head = (csz - sz) | PM_CHUNK_CINUSE | PM_CHUNK_PINUSE;
		pm__arena_free(a, pm__chunk_mem(r));
	}
	return pm__chunk_mem(c);
}

/* ---- resize in place ---------------------------------------------------- */

int pm__arena_resize(struct pm_arena *a, void *p, size_t n)
{
	if (n > PM_MAX_REQUEST)
		return 0;
	struct pm_chunk *c = pm__chunk_of(p);
	size_t sz = pm__chunk_size(c), want = pm__request2size(n);
	if (want <= sz) { /* shrink: split off the tail if worth it */
		want = grid_size((uintptr_t)c, want, sz);
		if (sz - want >= PM_CHUNK_MIN) {
			c->head = want | PM_CHUNK_CINUSE |
				  (c->head & PM_CHUNK_PINUSE);
			struct pm_chunk *r = chunk_plus(c, want);
			r->head =
				(sz - want) | PM_CHUNK_CINUSE | PM_CHUNK_PINUSE;
			pm__arena_free(
				a, pm__chunk_mem(r)); /* subtracts sz - want */
		}
		return 1;
	}
	struct pm_chunk *n2 = pm__chunk_next(c);
	if ((uintptr_t)n2 == a->top) {
		if (pm__grow_top(a, want - sz + PM_CHUNK_MIN))
			return 0;
		size_t tsz = pm__chunk_size(n2);
		struct pm_chunk *t = chunk_plus(c, want);
		t->head = (tsz - (want - sz)) | PM_CHUNK_PINUSE;
		a->top = (uintptr_t)t;
		c->head = want | PM_CHUNK_CINUSE | (c->head & PM_CHUNK_PINUSE);
		account(a, c, want - sz);
		return 1;
	}
	if (!(n2->head & PM_CHUNK_CINUSE)) {
		size_t nsz = pm__chunk_size(n2);
		if (sz + nsz >= want + PM_CHUNK_MIN) {
			/* the rest of n2 stays free, in n2's place in its
			 * bin when the order allows (no walk of the bin) */
			pm__bin_chunk_check(a, n2, nsz);
			size_t rest = sz + nsz - want;
			struct pm_chunk *r = chunk_plus(c, want);
			int kept = pm__bin_shrink_front(a, n2, nsz, r, rest);
			r->head = rest | PM_CHUNK_PINUSE;
			set_foot(r, rest);
			if (!kept)
				pm__bin_insert(a, r, rest);
			c->head = want | PM_CHUNK_CINUSE |
				  (c->head & PM_CHUNK_PINUSE);
			account(a, c, want - sz);
			return 1;
		}
		if (sz + nsz >= want) { /* less than a chunk left: all of n2 */
			pm__bin_chunk_check(a, n2, nsz);
			pm__bin_remove(a, n2, nsz);
			c->head = (sz + nsz) | PM_CHUNK_CINUSE |
				  (c->head & PM_CHUNK_PINUSE);
			pm__chunk_next(c)->head |= PM_CHUNK_PINUSE;
			account(a, c, nsz);
			return 1;
		}
	}
	return 0;
}
