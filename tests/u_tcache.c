/*
 * u_tcache - the thread caches through their internal interface, not
 * through malloc: the class functions, pop / push on an empty, full and
 * stopped cache, refill and overflow (small classes to the arena's fast
 * lists, medium ones freed at once), drain, the double-free and
 * use-after-free checks that must abort, and quiesce / resume while other
 * threads run their fast paths.  pm_heap_check after every step.  The
 * core is linked in (no interposition) and built with PM_DEBUG=2, so the
 * caches' asserts and the walk at every quiesce run too (tests/extra.mk).
 */
#include "testlib.h"
#include "alloc.h"
#include <pthread.h>
#include <sched.h>

static void heap_ok(const char *where)
{
	int rc = pm_heap_check();
	CHECK_MSG(rc == 0, "%s: %s", where, pm_errmsg());
}

static void classes(void)
{
	int bad = 0;
	for (size_t n = 0; n <= TC_MAXREQ && bad < 5; n++) {
		unsigned c = pm__tc_class_of_request(n);
		size_t need = pm__request2size(n);
		/* the smallest class that holds n */
		if (c >= TC_NCLASS || pm__tc_class_size(c) < need ||
		    pm__tc_class_size(c - 1) >= need) {
			bad++;
			CHECK_MSG(0, "request %zu: class %u (size %zu)", n, c,
				  c < TC_NCLASS ? pm__tc_class_size(c) : 0);
		}
	}
	/* malloc's fast path's table by the request itself agrees */
	for (size_t n = 0; n < TC_SMALLREQ && bad < 5; n++)
		if (pm__tls.small_list[n] != 2 * pm__tc_class_of_request(n)) {
			bad++;
			CHECK_MSG(0, "request %zu: small table %u, class %u", n,
				  pm__tls.small_list[n],
				  pm__tc_class_of_request(n));
		}
	for (unsigned c = 3; c < TC_NCLASS; c++)
		CHECK(pm__tc_class_size(c) > pm__tc_class_size(c - 1));
	for (size_t sz = PM_CHUNK_MIN; sz < TC_CHUNK_LIMIT && bad < 10;
	     sz += 16) {
		/* the largest class the chunk can serve */
		unsigned c = pm__tc_class_of_chunk(sz);
		if (c >= TC_NCLASS || pm__tc_class_size(c) > sz ||
		    (c + 1 < TC_NCLASS && pm__tc_class_size(c + 1) <= sz)) {
			bad++;
			CHECK_MSG(0, "chunk %zu: class %u", sz, c);
		}
	}
	for (unsigned c = 2; c < TC_NCLASS; c++) {
		CHECK(pm__tc_class_of_chunk(pm__tc_class_size(c)) == c);
		CHECK(pm__tc_cap[c] == pm__tc_cap_of(c) && pm__tc_cap[c] >= 2);
	}
}

/* Empty the class by pops; returns how many came out (into out[]). */
static unsigned pop_all(struct pm_tcache *tc, unsigned cls, void **out,
			unsigned max)
{
	unsigned n = 0;
	void *b;
	while (n < max && (b = pm__tc_pop(tc, cls))) {
		CHECK_EQ(tc->lists[cls].busy, 0); /* the pop's flag dropped */
		CHECK(pm__block_key_get(b) != TC_KEY);
		CHECK(pm__head_inuse(pm__block_head(b)));
		CHECK(pm__block_chunksize(b) == pm__tc_class_size(cls));
		out[n++] = b;
	}
	return n;
}

static void one_class(struct pm_tcache *tc, unsigned cls)
{
	static void *blocks[512];
	unsigned cap = pm__tc_cap[cls];
	struct pm_arena *a = &pm__region->p;
	CHECK(tc->lists[cls].room == cap && tc->lists[cls].head == NULL);
	CHECK(pm__tc_pop(tc, cls) == NULL); /* empty */
	CHECK_EQ(tc->lists[cls].busy, 0);

	void *b = pm__tc_refill(tc, cls);
	CHECK(b && pm__block_chunksize(b) == pm__tc_class_size(cls));
	unsigned cached = cap - tc->lists[cls].room;
	CHECK_MSG(cached >= 1 || cap <= 2, "class %u: refill cached %u", cls,
		  cached);
	heap_ok("after refill");

	unsigned n = pop_all(tc, cls, blocks, 512);
	CHECK_MSG(n == cached, "class %u: popped %u, cached %u", cls, n,
		  cached);
	CHECK(tc->lists[cls].room == cap);
	blocks[n++] = b;
	while (n < cap + 1) { /* one more than fits */
		b = pm__tc_refill(tc, cls);
		CHECK(b != NULL);
		blocks[n++] = b;
		n += pop_all(tc, cls, blocks + n, 512 - n);
	}
	CHECK(tc->lists[cls].room == cap && n <= 512);
	/* the cache takes cap blocks, then says no */
	for (unsigned i = 0; i < cap; i++)
		CHECK(pm__tc_push(tc, cls, blocks[i]));
	CHECK(tc->lists[cls].room == 0);
	CHECK(pm__tc_is_cached(blocks[0]) && !pm__tc_is_cached(blocks[cap]));
	CHECK(!pm__tc_push(tc, cls, blocks[cap]));
	size_t fast = a->fast_bytes;
	uintptr_t x0 = cls < TC_NSMALL ? pm__region->xfer[cls] & TC_XFER_PTR : 0;
	pm__tc_overflow(tc, cls, blocks[cap]);
	CHECK_MSG(tc->lists[cls].room == cap / 2 + 0 || tc->lists[cls].room == cap / 2,
		  "class %u: room %u after overflow, cap %u", cls,
		  tc->lists[cls].room, cap);
	uintptr_t x1 = cls < TC_NSMALL ? pm__region->xfer[cls] & TC_XFER_PTR : 0;
	if (cls < TC_NSMALL && x1 != x0) {
		/* small: a chain, p first, on the class's transfer stack */
		CHECK_PTR_EQ((void *)x1, blocks[cap]);
		CHECK_EQ((*pm__tc_chain_word((void *)x1) >> 48) & 255,
			 cap / 2 + 1);
		CHECK_EQ(*pm__tc_chain_word((void *)x1) & TC_XFER_PTR, x0);
		CHECK_EQ(a->fast_bytes, fast);
	} else if (cls < TC_NSMALL) { /* the stack is full: the fast list */
		CHECK(a->fast_bytes == fast + (cap / 2 + 1) *
						      pm__tc_class_size(cls));
	}
	heap_ok("after overflow");
	if (cls < TC_NSMALL && x1 != x0) {
		/* an empty class takes the chain back, without the lock */
		static void *mine[512];
		unsigned had = cap - tc->lists[cls].room;
		unsigned k = pop_all(tc, cls, mine, 512);
		CHECK_EQ(k, had);
		CHECK_EQ(tc->lists[cls].room, cap);
		void *t = pm__tc_xfer_take(tc, cls);
		CHECK_PTR_EQ(t, blocks[cap]);
		CHECK_EQ(pm__region->xfer[cls] & TC_XFER_PTR, x0);
		CHECK_EQ(tc->lists[cls].room, cap - cap / 2);
		CHECK(t && pm__block_key_get(t) != TC_KEY);
		heap_ok("after a transfer");
		for (unsigned i = 0; i < k; i++)
			pm__free_slow(mine[i]);
		pm__free_slow(t);
	}
	for (unsigned i = cap + 1; i < n; i++) /* the spares, to the arena */
		pm__free_slow(blocks[i]);

	/* stopped: neither pop nor push */
	pm__tc_stop_all();
	CHECK(pm__tc_pop(tc, cls) == NULL);
	CHECK_EQ(tc->lists[cls].busy, 0);
	pm__tc_start_all();
	b = pm__tc_pop(tc, cls);
	CHECK(b != NULL);
	pm__tc_stop_all();
	CHECK(!pm__tc_push(tc, cls, b));
	pm__tc_start_all();
	CHECK(pm__tc_push(tc, cls, b));

	pm__lock_persistent();
	pm__tc_drain(tc);
	pm__unlock_persistent();
	for (unsigned i = 0; i < TC_NCLASS; i++)
		CHECK(tc->lists[i].head == NULL && tc->lists[i].room == pm__tc_cap[i]);
	heap_ok("after drain");
}

/* ---- what must abort ----------------------------------------------------- */

static unsigned victim_cls = 6;

static void *cached_block(struct pm_tcache **tcp)
{
	struct pm_tcache *tc = pm__tls.tc;
	void *b = pm__tc_refill(tc, victim_cls);
	CHECK(pm__tc_push(tc, victim_cls, b));
	*tcp = tc;
	return b;
}

static void key_overwritten(void *arg)
{
	(void)arg;
	struct pm_tcache *tc;
	char *b = cached_block(&tc);
	memset(b, 0, 16); /* write after free: link and key */
	memset(b, 0x41, 16);
	test_use(pm__tc_pop(tc, victim_cls));
}

static void link_overwritten(void *arg)
{
	(void)arg;
	struct pm_tcache *tc;
	char *b = cached_block(&tc);
	*(uintptr_t *)b = 0x1238; /* misaligned, outside */
	test_use(pm__tc_pop(tc, victim_cls));
	test_use(pm__tc_pop(tc, victim_cls));
}

static void double_free(void *arg)
{
	(void)arg;
	struct pm_tcache *tc;
	char *b = cached_block(&tc);
	pm__tc_overflow(tc, victim_cls, b); /* pushed again */
}

/* A free that finds its class full hands the block, with half the list,
 * to the class's transfer stack (pm__tc_xfer_give); freeing it again from
 * the same thread must be found there (it still carries the key). */
static void double_free_on_xfer(void *arg)
{
	(void)arg;
	struct pm_tcache *tc = pm__tls.tc;
	const unsigned cls = victim_cls;
	struct pm_arena *a = &pm__region->p;
	size_t n = pm__tc_class_size(cls) - PM_CHUNK_OVERHEAD;
	pm__lock_persistent();
	void *p = pm__arena_alloc(a, n);
	pm__unlock_persistent();
	while (tc->lists[cls].room) {
		pm__lock_persistent();
		void *b = pm__arena_alloc(a, n);
		pm__unlock_persistent();
		if (!b || !pm__tc_push(tc, cls, b))
			_exit(5);
	}
	if (!p || pm__tc_xfer_has(cls, p))
		_exit(6);
	pm__free(p); /* full: onto the transfer stack */
	if (!pm__tc_xfer_has(cls, p) || pm__tc_xfer_has(cls, tc))
		_exit(7);
	pm__free(p); /* the double free */
	_exit(8);
}

/* The fast lists' run words (heap.h, fast_run_set): a refill takes whole
 * runs that fit, walks into one that does not and leaves the rest of it
 * described.  Arena calls under the lock, as the caches make them. */
static void fast_runs(void)
{
	struct pm_arena *a = &pm__region->p;
	size_t sz = 336; /* a class no other step here uses */
	void *c[6], *s[3], *first, *last;
	pm__lock_persistent();
	pm__arena_consolidate(a);
	for (int i = 0; i < 6; i++)
		c[i] = pm__arena_alloc(a, sz - PM_CHUNK_OVERHEAD);
	for (int i = 0; i < 3; i++)
		s[i] = pm__arena_alloc(a, sz - PM_CHUNK_OVERHEAD);
	for (int i = 0; i < 6; i++) {
		*pm__block_link(c[i]) = i < 5 ? c[i + 1] : NULL;
		*pm__block_key(c[i]) = PM_FREE_KEY;
	}
	pm__arena_fast_splice(a, sz, c[0], c[5], 6); /* an overflow's */
	for (int i = 0; i < 3; i++)
		pm__arena_free(a, s[i]); /* runs of one */
	pm__unlock_persistent();
	heap_ok("after a splice and frees onto a fast list");
	pm__lock_persistent();
	/* s2, s1, s0 whole; c0's run of 6 does not fit in 4 */
	size_t n = pm__arena_fast_take(a, sz, 4, &first, &last);
	CHECK_EQ(n, 3);
	CHECK_PTR_EQ(first, s[2]);
	CHECK_PTR_EQ(last, s[0]);
	CHECK_PTR_EQ((void *)a->fast[pm__small_index(sz)], c[0]);
	pm__arena_fast_splice(a, sz, first, last, n); /* back: one run */
	pm__unlock_persistent();
	heap_ok("after a take of whole runs");
	pm__lock_persistent();
	n = pm__arena_fast_take(a, sz, 3, &first, &last);
	CHECK_EQ(n, 3);
	CHECK_PTR_EQ(last, s[0]);
	/* a run longer than the take: walked, the rest keeps a run word */
	size_t n2 = pm__arena_fast_take(a, sz, 4, &first, &last);
	CHECK_EQ(n2, 4);
	CHECK_PTR_EQ(first, c[0]);
	CHECK_PTR_EQ(last, c[3]);
	pm__unlock_persistent();
	heap_ok("after a take that cut a run");
	pm__lock_persistent();
	void *f2, *l2;
	size_t n3 = pm__arena_fast_take(a, sz, 100, &f2, &l2);
	CHECK(n3 >= 2);
	CHECK_PTR_EQ(f2, c[4]);
	/* the rest of the cut run and whatever was below, back */
	pm__arena_fast_splice(a, sz, f2, l2, n3);
	pm__arena_fast_splice(a, sz, first, last, n2);
	pm__arena_fast_splice(a, sz, s[2], s[0], 3);
	pm__arena_consolidate(a);
	pm__unlock_persistent();
	heap_ok("after the runs went back");
}

/* A write after free into a fast list head's run word: the refill that
 * would trust it aborts. */
static void run_word_overwritten(void *arg)
{
	(void)arg;
	struct pm_arena *a = &pm__region->p;
	void *first, *last;
	pm__lock_persistent();
	char *p = pm__arena_alloc(a, 200);
	pm__arena_free(a, p);
	/* a plausible-looking tail: 16 past the block (misaligned chunk) */
	*(uint64_t *)(p + 16) = ((uint64_t)(uintptr_t)p + 8) |
				(uint64_t)3 << 48;
	test_use((void *)(uintptr_t)pm__arena_fast_take(a, 208, 10, &first,
							 &last));
}

static void must_abort(void (*fn)(void *), const char *what)
{
	int st = test_in_child(fn, NULL, 0);
	CHECK_MSG(TEST_ABORTED(st), "%s: status 0x%x, want SIGABRT", what, st);
}

/* ---- quiesce while others run ------------------------------------------- */

static volatile int stop_workers, worker_null;

static void *worker(void *arg)
{
	uint64_t rng = (uintptr_t)arg;
	void *slots[256] = { 0 };
	while (!stop_workers) {
		int k = (int)(test_rand(&rng) % 256);
		if (slots[k]) {
			pm__free(slots[k]);
			slots[k] = NULL;
		} else {
			slots[k] = pm__malloc(test_rand(&rng) % 3000, 0);
			if (!slots[k])
				worker_null = 1; /* CHECK is not thread-safe */
		}
	}
	for (int k = 0; k < 256; k++)
		pm__free(slots[k]);
	return NULL;
}

static void quiesce_under_load(void)
{
	pthread_t t[3];
	for (int i = 0; i < 3; i++)
		pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)(i + 5));
	for (int round = 0; round < 100; round++) {
		pm__heap_quiesce(); /* PM_DEBUG=2: walks the heap */
		uintptr_t n = 0;
		for (uintptr_t c = pm__region->tcaches; c;
		     c = ((struct pm_tcache *)c)->next) {
			struct pm_tcache *tc = (struct pm_tcache *)c;
			for (unsigned i = 0; i < TC_NCLASS; i++)
				n += tc->lists[i].head != NULL;
		}
		CHECK_MSG(n == 0, "round %d: %lu cache lists not drained",
			  round, (unsigned long)n);
		CHECK(pm__region->p.fast_bytes == 0);
		pm__heap_resume();
		sched_yield();
	}
	stop_workers = 1;
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	CHECK(!worker_null);
	heap_ok("after the workers");
}

/* Aligned blocks from the reserves: aligned, of a size that is a multiple
 * of the alignment, carved downward from aend; the heap checks clean (the
 * stop writes the reserve's true size), a freed one is taken again when
 * it heads its class, and the drain gives the reserves back. */
static void aligned(struct pm_tcache *tc)
{
	static void *v[64];
	unsigned behind = 0;
	for (unsigned k = 0; k < TC_NALIGN; k++) {
		size_t al = (size_t)32 << k, n = 100 + 37 * k;
		size_t sz = pm__tc_align_size(al, n);
		CHECK_EQ(sz % al, 0);
		CHECK(sz >= pm__request2size(n));
		for (int i = 0; i < 8; i++) {
			v[i] = pm__tc_memalign(tc, al, n);
			CHECK(v[i] && ((uintptr_t)v[i] & (al - 1)) == 0);
			CHECK(v[i] && pm__block_usable(v[i]) >= n);
			if (v[i])
				memset(v[i], 0x6b, n);
			if (i > 0 && v[i] && v[i - 1] && (char *)v[i] < (char *)v[i - 1])
				/* carved from the back: each below the last,
				 * its chunk just before the last one's */
				CHECK((uintptr_t)pm__chunk_of(v[i]) + sz ==
					      (uintptr_t)pm__chunk_of(v[i - 1]) ||
				      tc->aend[k] == (uintptr_t)pm__chunk_of(v[i]));
		}
		CHECK(tc->ares[k] != NULL);
		CHECK_EQ(tc->aend[k] & (al - 1), (uintptr_t)(al - PM_CHUNK_MEM) & (al - 1));
		heap_ok("with reserves");
		/* the last one freed heads its class: taken again */
		pm__free_more(v[7]);
		CHECK_PTR_EQ(pm__tc_memalign(tc, al, n), v[7]);
		/* and behind a block of the class that is not aligned
		 * enough (made for another alignment): found all the same */
		void *m = NULL, *tried[16];
		int nt = 0;
		pm__lock_persistent();
		while (nt < 15 && !m) {
			void *b = pm__arena_alloc(&pm__region->p,
						  sz - PM_CHUNK_OVERHEAD);
			if (!b)
				break;
			if (((uintptr_t)b & (al - 1)) &&
			    pm__block_chunksize(b) == sz) {
				m = b;
				break;
			}
			tried[nt++] = b;
			/* a 48-byte chunk moves the next carve off the
			 * alignment */
			void *spacer = pm__arena_alloc(&pm__region->p, 40);
			if (spacer)
				tried[nt++] = spacer;
		}
		while (nt > 0)
			pm__arena_free(&pm__region->p, tried[--nt]);
		pm__unlock_persistent();
		/* (the arena may carve this size on an aligned grid: then
		 * there is no such block to make) */
		if (m) {
			behind++;
			pm__free_more(v[7]);
			pm__free_more(m);
			unsigned cls = pm__tc_class_of_request(sz - PM_CHUNK_OVERHEAD);
			CHECK_PTR_EQ(tc->lists[cls].head, m);
			CHECK_PTR_EQ(pm__tc_memalign(tc, al, n), v[7]);
			CHECK_PTR_EQ(tc->lists[cls].head, m);
			pm__free_slow(pm__tc_pop(tc, cls));
		}
		for (int i = 0; i < 8; i++)
			pm__free_slow(v[i]);
	}
	CHECK_MSG(behind >= 3, "an aligned block behind another, %u times", behind);
	pm__lock_persistent();
	pm__tc_drain(tc);
	pm__unlock_persistent();
	for (unsigned k = 0; k < TC_NALIGN; k++)
		CHECK(tc->ares[k] == NULL);
	heap_ok("after the reserves' drain");
}

/* free's fast path finds the room by the chunk's head >> 1 (struct
 * pm_tc_list): an in-use block goes to its class's list; a
 * PM_CHUNK_EARLY one (made before main()) meets a word that is 0, goes to
 * the arena, and the word is 0 again. */
static void free_indexing(struct pm_tcache *tc)
{
	unsigned cls = 4;
	void *b = pm__tc_refill(tc, cls);
	CHECK(b && pm__block_chunksize(b) == pm__tc_class_size(cls));
	if (!b)
		return;
	unsigned room = tc->lists[cls].room;
	pm__free(b);
	CHECK_PTR_EQ(tc->lists[cls].head, b);
	CHECK_EQ(tc->lists[cls].room, room - 1);
	CHECK_PTR_EQ(pm__tc_pop(tc, cls), b);
	CHECK_EQ(tc->lists[cls].room, room);
	pm__chunk_of(b)->head |= PM_CHUNK_EARLY;
	void *h = tc->lists[cls].head;
	pm__free(b); /* to the arena */
	CHECK_PTR_EQ(tc->lists[cls].head, h);
	CHECK_EQ(tc->lists[cls].room, room);
	for (unsigned i = 0; i < TC_NCLASS; i++)
		CHECK(tc->lists[i].busy == 0 && tc->lists[i].zero_early[0] == 0 &&
		      tc->lists[i].zero_early[1] == 0);
	heap_ok("after free's indexing");
}

/* The pop's busy flag is its list's: a quiesce waits for it as for
 * tc->busy.  (Set here as a pop sets it; while it is, the quiescing
 * thread must not get past pm__tc_stop_all, whatever the timing.) */
static volatile int quiesced;

static void *quiescer(void *arg)
{
	(void)arg;
	pm__heap_quiesce(); /* PM_DEBUG=2: the walk wants every flag 0 */
	quiesced = 1;
	pm__heap_resume();
	return NULL;
}

static void quiesce_waits_for_pop(struct pm_tcache *tc)
{
	unsigned cls = 5;
	pthread_t t;
	quiesced = 0;
	*(volatile uint8_t *)&tc->lists[cls].busy = 1;
	CHECK(pthread_create(&t, NULL, quiescer, NULL) == 0);
	for (int i = 0; i < 2000; i++)
		sched_yield();
	int early = quiesced;
	CHECK_MSG(!early, "a quiesce did not wait for class %u's pop", cls);
	*(volatile uint16_t *)&tc->lists[cls].busy = 0;
	pthread_join(t, NULL);
	CHECK(quiesced);
	heap_ok("after a quiesce that waited for a pop");
}

/* A pop interrupted by a signal whose handler pops from the same list
 * (malloc in a handler): the handler's pop ends, clearing busy, then the
 * interrupted one takes the next block and adds TC_POP_DONE to a busy of
 * 0.  Replayed step by step (tests/attack_alloc_signal.sh makes it with
 * real signals).  A later quiesce hung for good, waiting for busy 0xffff;
 * it must pass and leave the list as the heap check wants it: busy 0,
 * room its cap less its blocks (the quiesce may drain).  In a child: a hang ends at the alarm. */
static void nested_pop_child(void *arg)
{
	struct pm_tcache *tc = arg;
	unsigned cls = 9;
	struct pm_tc_list *l = &tc->lists[cls];
	void *x[3];
	for (int i = 0; i < 3; i++)
		x[i] = pm__malloc(pm__tc_class_size(cls) - 8, 0);
	for (int i = 0; i < 3; i++)
		pm__free(x[i]);
	unsigned room = l->room;
	alarm(20);
	*(volatile uint8_t *)&l->busy = 1; /* the interrupted pop's start */
	void *a = pm__tc_pop(tc, cls);     /* the handler's */
	void *b = l->head;                 /* the interrupted pop goes on */
	*(uint32_t *)pm__block_key(b) ^= (uint32_t)TC_KEY;
	l->head = *pm__block_link(b);
	l->busy_room += TC_POP_DONE;
	if (!a || !b || l->busy != 0xffff || l->room != room + 1) {
		fprintf(stderr, "replay: a %p b %p busy 0x%x room %u (had %u)\n",
			a, b, l->busy, l->room, room);
		_exit(2);
	}
	pm__heap_quiesce(); /* hung here */
	pm__heap_resume();
	unsigned n = 0;
	for (void *c = l->head; c; c = *pm__block_link(c))
		n++;
	if (l->busy != 0 || l->room != pm__tc_cap[cls] - n) {
		fprintf(stderr, "after the quiesce: busy 0x%x room %u, want 0 "
			"and %u\n", l->busy, l->room, pm__tc_cap[cls] - n);
		_exit(3);
	}
	if (pm_heap_check() != 0) {
		fprintf(stderr, "heap check: %s\n", pm_errmsg());
		_exit(4);
	}
	_exit(0);
}

static void nested_pop(struct pm_tcache *tc)
{
	int st = test_in_child(nested_pop_child, tc, 1);
	CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		  "a quiesce after a pop nested in a pop: status 0x%x "
		  "(0x%x: SIGALRM, the quiesce hung)", st, SIGALRM);
}

/* A cache's span16 covers the committed part as it was when the cache
 * last looked (pm__tc_span16); the arena growing behind it is met lazily:
 * a pop of a block beyond it raises it and returns the block (not a
 * corruption), a free of one goes to the slow path, which raises it. */
static void span_follows_growth(struct pm_tcache *tc)
{
	const unsigned cls = 5;
	struct pm_arena *a = &pm__region->p;
	uintptr_t span = tc->span16;
	CHECK_EQ(span, pm__tc_span16());
	/* the arena grows by 16 MiB: the cache is not told */
	pm__lock_persistent();
	void *big = pm__arena_alloc(a, 16u << 20);
	pm__unlock_persistent();
	CHECK(big != NULL);
	CHECK_EQ(tc->span16, span);
	CHECK(pm__tc_span16() > span);

	/* a block carved beyond the span, cached, then popped */
	void *b = pm__tc_refill(tc, cls);
	CHECK(b != NULL);
	CHECK((((uintptr_t)b - tc->lo) >> 4) >= span);
	void *got[512];
	unsigned n = pop_all(tc, cls, got, 512);
	CHECK(pm__tc_push(tc, cls, b));
	void *again = pm__tc_pop(tc, cls);
	CHECK(again == b);
	CHECK_EQ(tc->span16, pm__tc_span16());
	CHECK_EQ(tc->lists[cls].busy, 0);
	CHECK_EQ(tc->lists[cls].room, pm__tc_cap[cls]);
	heap_ok("after a pop beyond the span");

	/* grown again: a free beyond the span takes the slow path, which
	 * raises the span and caches the block */
	span = tc->span16;
	pm__lock_persistent();
	void *big2 = pm__arena_alloc(a, 16u << 20);
	void *c = pm__arena_alloc(a, pm__tc_class_size(cls) - PM_CHUNK_OVERHEAD);
	pm__unlock_persistent();
	CHECK(big2 != NULL && c != NULL);
	CHECK((((uintptr_t)c - tc->lo) >> 4) >= span);
	pm__free(c);
	CHECK_EQ(tc->span16, pm__tc_span16());
	CHECK(tc->lists[cls].head == c);
	CHECK(pm__tc_pop(tc, cls) == c);

	/* a stopped cache stays stopped: the raise needs a running one */
	pm__lock_persistent();
	pm__tc_stop_all();
	pm__tc_span_raise(tc);
	CHECK_EQ(tc->span16, 0);
	pm__tc_start_all();
	pm__unlock_persistent();
	CHECK_EQ(tc->span16, pm__tc_span16());

	for (unsigned i = 0; i < n; i++)
		pm__free(got[i]);
	pm__free(b);
	pm__free(c);
	pm__lock_persistent();
	pm__arena_free(a, big);
	pm__arena_free(a, big2);
	pm__unlock_persistent();
	heap_ok("after the span test");
}

int main(void)
{
	CHECK(pm__ensure_init() == 0);
	pm__begin_persistent();
	classes();
	struct pm_tcache *tc = pm__tc_create();
	CHECK(tc != NULL && pm__tls.tc == tc);
	if (!tc)
		return test_end();
	CHECK(tc->lo == pm__tc_lo() && tc->span16 == pm__tc_span16());
	unsigned list[] = { 2, 3, 7, 40, 63, TC_NSMALL, TC_NSMALL + 9,
			    TC_NCLASS - 1 };
	for (unsigned i = 0; i < sizeof list / sizeof *list; i++)
		one_class(tc, list[i]);
	aligned(tc);
	free_indexing(tc);
	quiesce_waits_for_pop(tc);
	nested_pop(tc);
	span_follows_growth(tc);

	must_abort(key_overwritten, "a cached block's key overwritten");
	must_abort(link_overwritten, "a cached block's link overwritten");
	must_abort(double_free, "a cached block freed again");
	must_abort(double_free_on_xfer,
		   "a block on a transfer stack freed again by its thread");
	must_abort(run_word_overwritten,
		   "a fast list head's run word overwritten");
	fast_runs();
	heap_ok("after the children");

	quiesce_under_load();
	return test_end();
}
