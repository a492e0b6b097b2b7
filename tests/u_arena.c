/*
 * u_arena - one arena (src/heap*.c) in isolation: no thread caches, no
 * locks, no interposition.  The test reserves a region of its own, puts a
 * region header at its start and an arena after it, and drives the arena
 * through its internal interface: seeded random alloc / free / resize /
 * memalign / batch / fast-list take and splice / consolidate / trim with a
 * shadow model of every block's bytes, the image walker (check.c) after
 * every few steps, then best fit, coalescing, the fast lists, realloc
 * growing into a free successor (its rest kept in place in its bin), the large
 * blocks' grid (the pages a large-block churn makes resident, counted
 * with mincore, and malloc_trim's release of them), and the always-on checks and PM_ASSERTs that must abort (in a child).
 * Built with PM_DEBUG=2 (tests/extra.mk).
 */
#include "testlib.h"
#include "heap.h"
#include <errno.h>
#include <sys/mman.h>

struct pm_region *pm__region;     /* os.c and heap_walk.c name them */
struct pm_arena *pm__transient;

/* init.c's, which knows the region's file mappings: none here. */
void pm__os_release(void *p, size_t n)
{
	pm__os_discard(p, n, 0);
}

#define RSIZE PM_MIN_SIZE
static uintptr_t base;
static struct pm_arena *A;

static void setup(void)
{
	void *m = mmap(NULL, RSIZE + PM_PAGE, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	CHECK(m != MAP_FAILED);
	base = ((uintptr_t)m + PM_PAGE - 1) & ~(PM_PAGE - 1);
	size_t hdr = (sizeof(struct pm_region) + PM_CHUNK_MIN + PM_PAGE - 1) &
		     ~(PM_PAGE - 1);
	CHECK(pm__os_commit((void *)base, hdr) == 0);
	struct pm_region *r = (struct pm_region *)base;
	r->magic = PM_REGION_MAGIC;
	r->version = PM_REGION_VERSION;
	r->header_size = sizeof *r;
	r->base = base;
	r->size = RSIZE;
	r->tbase = base + RSIZE - ((size_t)8 << 20);
	pm__arena_init(&r->p, base + sizeof *r, r->tbase);
	A = &r->p;
}

/* The full invariant walk over the arena as an image. */
static int heap_ok(void)
{
	int rc = pm__heap_check_image((const unsigned char *)base, base,
				      A->top_end - base);
	CHECK_MSG(rc == 0, "heap check: %s", pm_errmsg());
	return rc == 0;
}

/* ---- the shadow model --------------------------------------------------- */

#define NSLOT 600
static struct slot {
	unsigned char *p;
	size_t n;
	unsigned char fill;
} slots[NSLOT];

static void fill(struct slot *s)
{
	memset(s->p, s->fill, s->n);
}

static int intact(const struct slot *s)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->p[i] != s->fill) {
			fprintf(stderr,
				"block %p (%zu bytes) byte %zu is %02x, "
				"want %02x\n",
				(void *)s->p, s->n, i, s->p[i], s->fill);
			return 0;
		}
	return 1;
}

static size_t rand_size(uint64_t *rng)
{
	uint64_t r = test_rand(rng);
	switch (r % 8) {
	case 0: return r >> 8 & 15;
	case 1: case 2: case 3: return r >> 8 & 1023;
	case 4: case 5: return r >> 8 & 16383;
	case 6: return r >> 8 & 131071;
	default: return (r >> 8 & 1048575) + 200000;
	}
}

static void drop(struct slot *s)
{
	CHECK(intact(s));
	pm__check_block(A, s->p, "free");
	pm__arena_free(A, s->p);
	s->p = NULL;
}

static void op_alloc(struct slot *s, uint64_t *rng)
{
	s->n = rand_size(rng);
	s->p = pm__arena_alloc(A, s->n);
	CHECK(s->p != NULL);
	if (!s->p)
		return;
	CHECK(((uintptr_t)s->p & 15) == 0);
	CHECK(pm__block_usable(s->p) >= s->n);
	s->fill = (unsigned char)test_rand(rng);
	fill(s);
}

static void op_resize(struct slot *s, uint64_t *rng)
{
	size_t n = rand_size(rng);
	CHECK(intact(s));
	if (pm__arena_resize(A, s->p, n)) {
		CHECK(pm__block_usable(s->p) >= n);
		if (n > s->n)
			memset(s->p + s->n, s->fill, n - s->n);
		s->n = n;
	}
	CHECK(intact(s));
}

static void op_memalign(struct slot *s, uint64_t *rng)
{
	size_t align = (size_t)32 << (test_rand(rng) % 8);
	s->n = rand_size(rng) % 5000;
	s->p = pm__arena_memalign(A, align, s->n);
	CHECK(s->p && ((uintptr_t)s->p & (align - 1)) == 0);
	if (!s->p)
		return;
	s->fill = (unsigned char)test_rand(rng);
	fill(s);
}

/* A batch of equal small blocks into free slots (a thread cache's refill
 * without the cache). */
static void op_batch(uint64_t *rng)
{
	size_t sz = 32 + 16 * (test_rand(rng) % 40);
	void *out[8];
	int k = pm__arena_alloc_batch(A, sz, out, 8);
	CHECK(k >= 1 && k <= 8);
	for (int i = 0; i < k; i++) {
		CHECK(pm__block_chunksize(out[i]) >= sz);
		struct slot *s = NULL;
		for (int j = 0; j < NSLOT && !s; j++)
			if (!slots[j].p)
				s = &slots[j];
		if (!s) {
			pm__arena_free(A, out[i]);
			continue;
		}
		s->p = out[i];
		s->n = sz - PM_CHUNK_OVERHEAD;
		s->fill = (unsigned char)(i + 1);
		fill(s);
	}
}

/* A refill's chain (pm__arena_alloc_chain): linked, keyed, every block
 * but perhaps the first of exactly sz, in use and counted live; spliced
 * onto the fast list as an overflow does (the first freed on its own:
 * it may be larger). */
static void op_chain(uint64_t *rng)
{
	size_t sz = 32 + 16 * (test_rand(rng) % 62);
	int max = 1 + (int)(test_rand(rng) % 40);
	void *first = NULL, *last = NULL;
	size_t live = A->live_bytes;
	int k = pm__arena_alloc_chain(A, sz, max, &first, &last);
	CHECK_MSG(k >= 1 && k <= max, "chain of %d blocks, max %d", k, max);
	if (k < 1)
		return;
	size_t got = 0, n = 0;
	void *b = first, *prev = NULL;
	for (; b && n < (size_t)k + 1; prev = b, b = *pm__block_link(b), n++) {
		size_t csz = pm__block_chunksize(b);
		CHECK_MSG(b == first ? csz >= sz : csz == sz,
			  "block %zu of a chain of %zu-byte blocks: %zu", n,
			  sz, csz);
		CHECK(pm__head_inuse(pm__block_head(b)));
		CHECK(pm__block_key_get(b) == PM_FREE_KEY);
		got += csz;
	}
	CHECK_MSG(n == (size_t)k && prev == last, "walked %zu of %d blocks",
		  n, k);
	CHECK_MSG(A->live_bytes >= live + got,
		  "live %zu, was %zu, chain %zu bytes", A->live_bytes, live,
		  got);
	void *second = *pm__block_link(first);
	*pm__block_key(first) = 0;
	pm__arena_free(A, first);
	if (second)
		pm__arena_fast_splice(A, sz, second, last, (size_t)k - 1);
}

/* Take a chain off a fast list and put it back, as the caches do. */
static void op_fast_cycle(uint64_t *rng)
{
	size_t sz = 32 + 16 * (test_rand(rng) % 40);
	void *first, *last;
	size_t fast = A->fast_bytes, live = A->live_bytes;
	size_t n = pm__arena_fast_take(A, sz, 5, &first, &last);
	CHECK(n <= 5);
	CHECK(A->fast_bytes == fast - n * sz && A->live_bytes == live + n * sz);
	if (n) {
		CHECK(pm__block_key_get(first) == PM_FREE_KEY);
		CHECK(pm__block_chunksize(last) == sz);
		pm__arena_fast_splice(A, sz, first, last, n);
		CHECK(pm__arena_fast_has(A, first) &&
		      pm__arena_fast_has(A, last));
	}
	CHECK(A->fast_bytes == fast && A->live_bytes == live);
}

static void random_ops(uint64_t seed, int nops)
{
	uint64_t rng = seed;
	for (int i = 0; i < nops; i++) {
		struct slot *s = &slots[test_rand(&rng) % NSLOT];
		unsigned what = (unsigned)(test_rand(&rng) % 100);
		if (s->p && what < 45)
			drop(s);
		else if (s->p && what < 60)
			op_resize(s, &rng);
		else if (!s->p && what < 90)
			op_alloc(s, &rng);
		else if (!s->p && what < 95)
			op_memalign(s, &rng);
		else if (what < 96)
			op_batch(&rng);
		else if (what < 97)
			op_chain(&rng);
		else if (what < 99)
			op_fast_cycle(&rng);
		else if (test_rand(&rng) & 1)
			pm__arena_consolidate(A);
		else
			pm__arena_trim(A, (size_t)64 << 10);
		if (i % 97 == 0 && !heap_ok()) {
			fprintf(stderr, "seed %llu, step %d\n",
				(unsigned long long)seed, i);
			return;
		}
	}
}

/* Everything freed and consolidated: one chunk, top, at the start. */
static void all_free(void)
{
	for (int j = 0; j < NSLOT; j++)
		if (slots[j].p)
			drop(&slots[j]);
	pm__arena_consolidate(A);
	CHECK(heap_ok());
	CHECK_MSG(A->live_bytes == 0 && A->free_bytes == 0 &&
			  A->fast_bytes == 0,
		  "live %zu free %zu fast %zu", A->live_bytes, A->free_bytes,
		  A->fast_bytes);
	CHECK_MSG(A->top == pm__arena_first(A), "top 0x%lx first 0x%lx",
		  (unsigned long)A->top, (unsigned long)pm__arena_first(A));
}

/* ---- the algorithm's promises ------------------------------------------- */

static int count_free(void *ctx, uintptr_t c, size_t sz, int inuse)
{
	(void)c;
	(void)sz;
	if (inuse == 0)
		++*(int *)ctx;
	return 0;
}

static void best_fit_and_coalescing(void)
{
	char *p1 = pm__arena_alloc(A, 5000), *g1 = pm__arena_alloc(A, 100);
	char *p2 = pm__arena_alloc(A, 3000), *g2 = pm__arena_alloc(A, 100);
	char *p3 = pm__arena_alloc(A, 4000), *g3 = pm__arena_alloc(A, 100);
	pm__arena_free(A, p1);
	pm__arena_free(A, p2);
	pm__arena_free(A, p3);
	CHECK(heap_ok());
	char *q = pm__arena_alloc(A, 2900); /* the 3000 one fits best */
	CHECK_MSG(q == p2, "best fit gave %p, want %p", (void *)q, (void *)p2);
	pm__arena_free(A, q);

	/* small sizes: the fast list is LIFO and exact */
	char *s1 = pm__arena_alloc(A, 40);
	pm__arena_free(A, s1);
	CHECK(pm__arena_fast_has(A, s1));
	CHECK(pm__arena_alloc(A, 40) == s1);
	pm__arena_free(A, s1);

	/* freeing the guards joins everything with its neighbours: the free
	 * chunks are then only top */
	pm__arena_free(A, g1);
	pm__arena_free(A, g2);
	pm__arena_free(A, g3);
	pm__arena_consolidate(A);
	int nfree = 0;
	pm__arena_walk(A, count_free, &nfree);
	CHECK_MSG(nfree == 1, "%d free chunks, want only top", nfree);
	CHECK(heap_ok());

	/* a free non-top chunk between two in-use ones, found by the walk */
	char *a = pm__arena_alloc(A, 2000), *b = pm__arena_alloc(A, 2000);
	char *c = pm__arena_alloc(A, 2000), *d = pm__arena_alloc(A, 100);
	pm__arena_free(A, a);
	pm__arena_free(A, c);
	nfree = 0;
	pm__arena_walk(A, count_free, &nfree);
	CHECK_MSG(nfree == 3, "%d free chunks, want 3", nfree);
	pm__arena_free(A, b); /* a, b, c become one */
	nfree = 0;
	pm__arena_walk(A, count_free, &nfree);
	CHECK_MSG(nfree == 2, "%d free chunks, want 2", nfree);
	CHECK(A->free_bytes == pm__request2size(2000) * 3);
	pm__arena_free(A, d);
	CHECK(heap_ok());
	all_free();
}

/* realloc growing into its free successor: the rest of the successor
 * keeps its place in its large bin when the order allows
 * (pm__bin_shrink_front), else is binned again; either way the bin stays
 * sorted (heap_ok) and best fit finds the rest. */
static void grow_into_free(void)
{
	/* free chunks of 33, 34 and 35 KiB (one large bin), each after a
	 * block that can grow into it, each followed by a guard */
	char *blk[3], *free_[3], *guard[3];
	for (int i = 0; i < 3; i++) {
		blk[i] = pm__arena_alloc(A, 1000);
		free_[i] = pm__arena_alloc(A, ((size_t)33 + i) << 10);
		guard[i] = pm__arena_alloc(A, 100);
	}
	for (int i = 0; i < 3; i++)
		pm__arena_free(A, free_[i]);
	CHECK(heap_ok());
	size_t s34 = pm__request2size((size_t)34 << 10);
	/* 34 KiB less 512 bytes is still above 33 KiB: in place */
	CHECK(pm__arena_resize(A, blk[1], 1000 + 512));
	CHECK(heap_ok());
	char *q = pm__arena_alloc(A, s34 - 512 - PM_CHUNK_OVERHEAD);
	CHECK_MSG(q == blk[1] + pm__block_chunksize(blk[1]),
		  "best fit for the rest gave %p, want %p", (void *)q,
		  (void *)(blk[1] + pm__block_chunksize(blk[1])));
	pm__arena_free(A, q);
	/* 35 KiB less 2.5 KiB is below 34 KiB: binned again */
	CHECK(pm__arena_resize(A, blk[2], 1000 + 2560));
	CHECK(heap_ok());
	for (int i = 0; i < 3; i++) {
		pm__arena_free(A, blk[i]);
		pm__arena_free(A, guard[i]);
	}
	all_free();
}

/* ---- large blocks' grid ------------------------------------------------- */

/* Resident pages of [lo, hi) (mincore). */
static size_t resident(uintptr_t lo, uintptr_t hi)
{
	static unsigned char vec[RSIZE / PM_PAGE];
	lo &= ~(PM_PAGE - 1);
	hi = (hi + PM_PAGE - 1) & ~(PM_PAGE - 1);
	if (mincore((void *)lo, hi - lo, vec) != 0) {
		CHECK_MSG(0, "mincore: %s", strerror(errno));
		return 0;
	}
	size_t n = 0;
	for (size_t i = 0; i < (hi - lo) / PM_PAGE; i++)
		n += vec[i] & 1;
	return n;
}

/* w_large's pattern: a live set of large blocks of random sizes, one
 * replaced at a time, the program writing one byte of each.  The arena's
 * own writes (the headers of the chunks it splits) fall on the grid, so
 * the pages the churn makes resident are about one per grid step of the
 * extent, not every page of it (2235 of 5120 pages without the grid, 382
 * with it).  Then everything freed and malloc_trim(0): nothing stays. */
static void large_grid(void)
{
	enum { NLIVE = 24, NREPL = 4000 };
	char *live[NLIVE];
	uint64_t rng = 77;
	uintptr_t first = pm__arena_first(A);
	CHECK(A->top == first);
	pm__arena_trim_all(A, 0); /* what the random ops touched goes back */
	size_t before = resident(first, A->hi);

	/* from top: the chunk ends on the grid */
	char *p = pm__arena_alloc(A, (size_t)1 << 20);
	uintptr_t end = (uintptr_t)pm__chunk_of(p) + pm__block_chunksize(p);
	CHECK_MSG(end % PM_GRID == 0, "a 1 MiB block's chunk ends at 0x%lx",
		  (unsigned long)end);
	/* shrunk, and an aligned block: the same (growth in place takes the
	 * size asked: realloc asks for a quarter more) */
	CHECK(pm__arena_resize(A, p, 500000));
	end = (uintptr_t)pm__chunk_of(p) + pm__block_chunksize(p);
	CHECK_MSG(end % PM_GRID == 0, "shrunk to 500000: chunk ends at 0x%lx",
		  (unsigned long)end);
	char *q = pm__arena_memalign(A, 4096, 300000);
	end = (uintptr_t)pm__chunk_of(q) + pm__block_chunksize(q);
	CHECK_MSG(((uintptr_t)q & 4095) == 0 && end % PM_GRID == 0,
		  "memalign(4096, 300000) = %p, its chunk ends at 0x%lx",
		  (void *)q, (unsigned long)end);
	CHECK(heap_ok());
	pm__arena_free(A, q);
	pm__arena_free(A, p);

	for (int i = 0; i < NLIVE + NREPL; i++) {
		int k = i < NLIVE ? i : (int)(test_rand(&rng) % NLIVE);
		if (i >= NLIVE)
			pm__arena_free(A, live[k]);
		unsigned e = 16 + (unsigned)(test_rand(&rng) % 4);
		size_t n = ((size_t)1 << e) + test_rand(&rng) % ((size_t)1 << e);
		live[k] = pm__arena_alloc(A, n);
		CHECK(live[k] != NULL);
		if (!live[k])
			return;
		live[k][0] = (char)i;
	}
	CHECK(heap_ok());
	size_t pages = (A->top_end - first) / PM_PAGE;
	size_t res = resident(first, A->hi) - before;
	size_t bound = (A->top_end - first) / (PM_GRID / 2) + 2 * NLIVE + 16;
	CHECK_MSG(res <= bound,
		  "a large-block churn made %zu of %zu pages resident, want at "
		  "most %zu",
		  res, pages, bound);
	for (int k = 0; k < NLIVE; k++)
		pm__arena_free(A, live[k]);
	pm__arena_trim_all(A, 0);
	res = resident(first, A->hi);
	CHECK_MSG(res <= before + 1,
		  "%zu pages resident after malloc_trim(0), %zu before", res,
		  before);
	all_free();
}

/* ---- what must abort ---------------------------------------------------- */

static void double_free(void *arg)
{
	(void)arg;
	char *p = pm__arena_alloc(A, 5000);
	pm__arena_free(A, p);
	pm__check_block(A, p, "free");
}

static void fast_double_free(void *arg)
{
	(void)arg;
	char *p = pm__arena_alloc(A, 48);
	pm__arena_free(A, p);
	/* still "in use", but keyed and on the fast list */
	pm__check_block(A, p, "free");
}

static void bin_link_overwritten(void *arg)
{
	(void)arg;
	char *p = pm__arena_alloc(A, 5000), *g = pm__arena_alloc(A, 10);
	test_use(g);
	pm__arena_free(A, p);
	((uintptr_t *)p)[0] = 0x1234560; /* fd, as a write after free */
	test_use(pm__arena_alloc(A, 4000));
}

static void fast_key_overwritten(void *arg)
{
	(void)arg;
	char *p = pm__arena_alloc(A, 64);
	pm__arena_free(A, p);
	memset(p, 0x41, 16);
	test_use(pm__arena_alloc(A, 64));
}

static void top_overwritten(void *arg)
{
	(void)arg;
	char *p = pm__arena_alloc(A, 100);
	/* an overrun into top's head */
	memset(p, 0x41, pm__block_usable(p) + 16);
	test_use(pm__arena_alloc(A, 1 << 20));
}

static void books_wrong(void *arg) /* a PM_ASSERT, PM_DEBUG >= 1 */
{
	(void)arg;
	char *p = pm__arena_alloc(A, 100);
	A->free_bytes += 16;
	pm__arena_free(A, p);
}

static void must_abort(void (*fn)(void *), const char *what)
{
	int st = test_in_child(fn, NULL, 0);
	CHECK_MSG(TEST_ABORTED(st), "%s: status 0x%x, want SIGABRT", what, st);
}

int main(void)
{
	/* the process's free-list mark (init.c sets it; check.c defines it
	 * 0 without an allocator) */
	pm__free_key = 0x5ec0ffee12345679ULL;
	setup();
	CHECK(heap_ok());
	CHECK(A->top == pm__arena_first(A) && A->top_end > A->top);

	for (uint64_t seed = 1; seed <= 6; seed++) {
		random_ops(seed * 0x9e3779b97f4a7c15ULL, 20000);
		CHECK(heap_ok());
		all_free();
	}
	best_fit_and_coalescing();
	grow_into_free();
	large_grid();

	must_abort(double_free, "double free of a binned chunk");
	must_abort(fast_double_free, "double free of a fast-list block");
	must_abort(bin_link_overwritten, "a binned chunk's fd overwritten");
	must_abort(fast_key_overwritten, "a fast-list block overwritten");
	must_abort(top_overwritten, "top's head overwritten");
	must_abort(books_wrong, "free_bytes off by 16 (PM_ASSERT)");
	CHECK(heap_ok()); /* the children's damage stayed in them */
	return test_end();
}
