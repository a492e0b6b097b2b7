/*
 * tcache.c - slow paths of the per-thread caches and the quiesce protocol
 * (see tcache.h for the design).
 *
 * Owns: pm__tls (this thread's cache), pm__tc_stop, the caps per class.
 * Invariant: a cached block is an in-use chunk of the persistent arena of
 * exactly its class's size; its 2nd word holds TC_KEY while cached.
 */
#include "tcache.h"
#include "vg.h"
#include "os_sync.h"
#include <pthread.h>
#include <sched.h>
#include <string.h>

struct pm_tcache pm__tc_none PM_STATE;
static __thread int tc_dead; /* this thread has exited its cache */
volatile int pm__tc_stop PM_STATE;
uint16_t pm__tc_cap[TC_NCLASS] PM_STATE;

/* The class of each request size, by (n + 7) >> 4 (tcache.h).  Entry i
 * is for a chunk of 16 * i + 16 bytes (32 for i = 0): small below 1024
 * (class size / 16), 1024 class 64, then the medium class that holds x =
 * size - 1, k = log2 of x rounded down: eight per doubling. */
#define RQ_SIZE(i) ((i) == 0 ? 32 : 16 * (i) + 16)
#define RQ_LOG(x) ((x) >= 8192 ? 13 : (x) >= 4096 ? 12 : (x) >= 2048 ? 11 : 10)
#define RQ_MED(x) \
	(TC_NSMALL + (RQ_LOG(x) - 10) * 8 + (((x) >> (RQ_LOG(x) - 3)) & 7) + 1)
#define RQ_CLASS(sz) \
	((sz) < 1024 ? (sz) >> 4 : (sz) == 1024 ? TC_NSMALL : RQ_MED((sz) - 1))
#define RQ1(i) (uint8_t)RQ_CLASS(RQ_SIZE(i)),
#define RQ4(i) RQ1(i) RQ1((i) + 1) RQ1((i) + 2) RQ1((i) + 3)
#define RQ16(i) RQ4(i) RQ4((i) + 4) RQ4((i) + 8) RQ4((i) + 12)
#define RQ64(i) RQ16(i) RQ16((i) + 16) RQ16((i) + 32) RQ16((i) + 48)
#define RQ256(i) RQ64(i) RQ64((i) + 64) RQ64((i) + 128) RQ64((i) + 192)
const uint8_t pm__tc_req_class[(TC_MAXREQ + 7) / 16 + 1] = {
	RQ256(0) RQ256(256) RQ256(512) RQ256(768)
};
_Static_assert(sizeof pm__tc_req_class == 1024, "one entry per 16 bytes");
/* The same by the request itself, below TC_SMALLREQ (the fast path's
 * common case: no addition and shift), in each thread's pm__tls: twice
 * the class, the index of its list in 8-byte words. */
#undef RQ1
#define RQ_NSIZE(n) ((n) < 9 ? 32 : ((n) + 23) / 16 * 16)
#define RQ1(n) (uint8_t)(2 * RQ_CLASS(RQ_NSIZE(n))),
__thread struct pm_tls pm__tls = {
	.tc = &pm__tc_none,
	.mtc = &pm__tc_none,
	.small_list = { RQ256(0) RQ256(256) RQ256(512) RQ256(768) },
};
_Static_assert(sizeof pm__tls.small_list == TC_SMALLREQ, "one per size");
_Static_assert(2 * (TC_NCLASS - 1) <= UINT8_MAX, "an index in a byte");
static pthread_key_t tc_key PM_STATE;
#define REFILL_BYTES 8192 /* a refill brings about this many bytes */

static void tc_thread_exit(void *arg);

/* PM_DEBUG >= 1: class cls's room is within its cap; >= 2: its list
 * holds exactly cap - room blocks, each keyed, of the class's size, in
 * the persistent arena.  Persistent lock held. */
static void tc_assert_class(struct pm_tcache *tc, unsigned cls)
{
	PM_ASSERT(tc->lists[cls].room <= pm__tc_cap[cls]);
	if (PM_DEBUG < 2)
		return;
	unsigned n = 0;
	for (void *b = tc->lists[cls].head; b; b = *pm__block_link(b), n++) {
		pm__tc_block_check(tc, cls, b);
		PM_ASSERT(pm__head_inuse(pm__block_head(b)));
		PM_ASSERT(pm__tc_class_of_chunk(pm__block_chunksize(b)) == cls);
		PM_ASSERT(n < pm__tc_cap[cls]);
	}
	PM_ASSERT(n == (unsigned)(pm__tc_cap[cls] - tc->lists[cls].room));
}

void pm__tc_corrupt(struct pm_tcache *tc, unsigned cls, const void *b)
{
	(void)tc;
	(void)cls;
	if (!pm__in_pheap((uintptr_t)b) || pm__misaligned((uintptr_t)b))
		pm__fatal("malloc(): corrupted thread cache: next pointer "
			  "outside the heap or misaligned (use after free?)",
			  b);
	pm__fatal("malloc(): thread-cached block modified after free", b);
}

void *pm__tc_corrupt_pop(const void *b)
{
	pm__tc_corrupt(pm__tls.tc, 0, b);
}

void *pm__tc_pop_far(struct pm_tcache *tc, size_t at, void *b)
{
	uintptr_t u = (uintptr_t)b;
	if (!pm__in_pheap(u) || pm__misaligned(u))
		pm__tc_corrupt(tc, (unsigned)(at / 2), b);
	pm__tc_span_raise(tc);
	/* the rest of the pop (pm__tc_pop_at), as it would have gone on:
	 * the key cleared, the head taken, busy dropped with the room's
	 * increment.  A quiesce that stopped the cache meanwhile waits for
	 * the busy byte, as for any pop under way. */
	uint32_t *key = (uint32_t *)pm__block_key(b);
	uint32_t k = *key ^ (uint32_t)TC_KEY;
	*key = k;
	if (k != 0)
		pm__tc_corrupt(tc, (unsigned)(at / 2), b);
	pm__tc_list_at(tc, at)->head = *pm__block_link(b);
	PM_BARRIER();
	pm__tc_list_at(tc, at)->busy_room += TC_POP_DONE;
	return b;
}

/* A cache struct from the region's list (after a restore or a fork it
 * comes from memory this process did not write): an in-use chunk of the
 * persistent arena big enough for the struct. */
static void tc_struct_check(uintptr_t t)
{
	uintptr_t off = t - pm__pbase;
	if (unlikely(off >= pm__plen ||
		     !pm__chunk_addr_ok(t - PM_CHUNK_MEM,
					pm__arena_first(&pm__region->p),
					pm__region->p.top)))
		pm__fatal("corrupted list of thread caches", (void *)t);
	size_t head = pm__block_head((void *)t), sz = pm__head_size(head);
	if (unlikely(!pm__head_inuse(head) ||
		     sz < sizeof(struct pm_tcache) + PM_CHUNK_OVERHEAD ||
		     sz > pm__region->p.top - (t - PM_CHUNK_MEM)))
		pm__fatal("corrupted list of thread caches", (void *)t);
}

void pm__tc_process_init(void)
{
	for (unsigned i = 0; i < TC_NCLASS; i++)
		pm__tc_cap[i] = (uint16_t)pm__tc_cap_of(i);
	pthread_key_create(&tc_key, tc_thread_exit);
	pm__os_barrier_init();
}

int pm__tc_is_key(unsigned k)
{
	return (unsigned)tc_key == k;
}

struct pm_tcache *pm__tc_create(void)
{
	if (tc_dead || !pm__region || !pm__vg_caches_ok())
		return NULL;
	pm__lock_persistent();
	struct pm_tcache *tc =
		pm__arena_alloc(&pm__region->p, sizeof(struct pm_tcache));
	if (tc) {
		memset(tc, 0, sizeof *tc);
		for (unsigned i = 0; i < TC_NCLASS; i++)
			tc->lists[i].room = pm__tc_cap[i];
		tc->lo = pm__tc_lo();
		tc->span16 = pm__tc_span16();
		tc->next = pm__region->tcaches;
		pm__region->tcaches = (uintptr_t)tc;
	}
	pm__unlock_persistent();
	if (tc) {
		pm__tls.tc = tc;
		if (pm__malloc_direct)
			pm__tls.mtc = tc;
		pthread_setspecific(tc_key, tc);
	}
	return tc;
}

/* Give every cached block back to the arena.  Persistent lock held; the
 * cache's thread is not in a fast path (it is us, or stopped, or gone). */
void pm__tc_drain(struct pm_tcache *tc)
{
	struct pm_arena *a = &pm__region->p;
	for (unsigned i = 0; i < TC_NCLASS; i++) {
		void *b = tc->lists[i].head;
		while (b) {
			pm__tc_block_check(tc, i, b);
			void *n = *pm__block_link(b);
			*pm__block_key(b) = 0;
			/* a live block of the arena, as the fast path pushed
			 * it (after a restore or a fork: as a file or
			 * another thread left it) */
			pm__check_block(a, b, "free");
			pm__arena_free(a, b);
			b = n;
		}
		tc->lists[i].head = NULL;
		tc->lists[i].room = pm__tc_cap[i];
	}
	pm__tc_ares_sync(tc);
	for (unsigned k = 0; k < TC_NALIGN; k++) {
		if (!tc->ares[k])
			continue;
		pm__check_block(a, tc->ares[k], "free");
		pm__arena_free(a, tc->ares[k]);
		tc->ares[k] = NULL;
	}
	PM_ASSERT(a->live_bytes + a->free_bytes + a->fast_bytes ==
		  a->top - pm__arena_first(a));
}

static void unlink_tc(struct pm_tcache *tc)
{
	uintptr_t *pp = &pm__region->tcaches;
	while (*pp && *pp != (uintptr_t)tc)
		pp = &((struct pm_tcache *)*pp)->next;
	if (*pp)
		*pp = tc->next;
}

void pm__tc_forget_self(void)
{
	if (pm__tc_mine())
		pthread_setspecific(tc_key, NULL);
	pm__tls.tc = &pm__tc_none;
	pm__tls.mtc = &pm__tc_none;
}

static void tc_thread_exit(void *arg)
{
	struct pm_tcache *tc = arg;
	tc_dead = 1;
	if (tc != pm__tc_mine()) /* a cache a restore already released */
		tc = NULL;
	pm__tls.tc = &pm__tc_none;
	pm__tls.mtc = &pm__tc_none;
	if (!tc || !pm__region)
		return;
	pm__vg_mute();
	pm__lock_persistent();
	pm__tc_drain(tc);
	unlink_tc(tc);
	pm__arena_free(&pm__region->p, tc);
	pm__unlock_persistent();
	pm__vg_unmute();
}

/* This thread stops using a cache, as if it had exited (pm_exiting): its
 * requests go to the arena from now on.  The cache stays listed and is
 * drained at the next quiesce or given back in a fork child. */
void pm__tc_abandon(void)
{
	tc_dead = 1;
	pm__tls.tc = &pm__tc_none;
	pm__tls.mtc = &pm__tc_none;
}

/* Refill class cls and return one block.  The blocks go from the arena
 * into the cache inside one hold of the arena lock: a quiesce (which takes
 * the lock first) never sees them in between, owned by nobody. */
void *pm__tc_refill(struct pm_tcache *tc, unsigned cls)
{
	size_t sz = pm__tc_class_size(cls);
	struct pm_arena *a = &pm__region->p;
	int want = (int)(REFILL_BYTES / sz);
	if (want > tc->lists[cls].room / 2 + 1)
		want = tc->lists[cls].room / 2 + 1;
	if (want > 256)
		want = 256;
	if (tc->refills < TC_YOUNG) {
		if (want > 8 << tc->refills)
			want = 8 << tc->refills;
		tc->refills++;
	}
	if (want < 1)
		want = 1;
	void *ret = NULL, *first, *last;
	pm__lock_persistent();
	/* under the lock nobody quiesces, so the cache may be touched
	 * without the busy flag; only small classes have fast lists */
	/* from the fast list, as many as half the room and one (whole runs:
	 * an overflow gives that many; the limits on `want` are for fresh
	 * memory, whose first touch costs a fault) */
	size_t n = cls < TC_NSMALL
			   ? pm__arena_fast_take(a, sz,
						 (size_t)tc->lists[cls].room / 2 + 1,
						 &first, &last)
			   : 0;
	/* else a chain made linked and keyed, as a fast list's */
	if (!n)
		n = (size_t)pm__arena_alloc_chain(a, sz, want, &first, &last);
	if (!n && pm__tc_xfer_reclaim())
		n = (size_t)pm__arena_alloc_chain(a, sz, want, &first, &last);
	if (n) {
		/* adopt the chain as it is (n - 1 <= room / 2): its blocks
		 * are linked and marked already; the first is the caller's */
		ret = first;
		*pm__block_link(last) = tc->lists[cls].head;
		tc->lists[cls].head = *pm__block_link(first);
		tc->lists[cls].room = (uint16_t)(tc->lists[cls].room - (n - 1));
		*pm__block_key(ret) = 0;
	}
	tc_assert_class(tc, cls);
	pm__unlock_persistent();
	return ret;
}

/* A medium class is full: half of it, and p, go back to the arena (no
 * fast lists there: freed and coalesced at once), in one hold of the
 * lock. */
static void overflow_medium(struct pm_tcache *tc, unsigned cls, void *p)
{
	struct pm_arena *a = &pm__region->p;
	pm__lock_persistent();
	unsigned take = (unsigned)(pm__tc_cap[cls] - tc->lists[cls].room) / 2;
	for (unsigned i = 0; i < take && tc->lists[cls].head; i++) {
		void *b = tc->lists[cls].head;
		pm__tc_block_check(tc, cls, b);
		tc->lists[cls].head = *pm__block_link(b);
		tc->lists[cls].room++;
		*pm__block_key(b) = 0;
		pm__arena_free(a, b);
	}
	*pm__block_key(p) = 0;
	pm__arena_free(a, p);
	tc_assert_class(tc, cls);
	pm__unlock_persistent();
}

/* The cache is full: send half of it, and p, to the arena's fast list.
 * Cut and splice in one hold of the arena lock (see refill). */
void pm__tc_overflow(struct pm_tcache *tc, unsigned cls, void *p)
{
	if (pm__block_key_get(p) == TC_KEY) {
		pm__tc_double_free_check(tc, cls, p);
		if (pm__tc_push(tc, cls, p)) /* a false alarm: user data */
			return;
	}
	if (cls >= TC_NSMALL) {
		overflow_medium(tc, cls, p);
		return;
	}
	if (pm__tc_xfer_give(tc, cls, p))
		return;
	size_t n = 1;
	void *last = p;
	/* Find the cut before taking the lock (the walk touches blocks that
	 * may be cold: not while others wait), inside the busy bracket so
	 * that no quiesce drains the list meanwhile; cut it under the lock,
	 * so that the blocks are never owned by nobody.  Only this thread
	 * changes the list but for a drain, which empties it: the same head
	 * under the lock means the same list. */
	void *first = NULL, *b = NULL;
	unsigned walked = 0;
	tc->busy = 1;
	PM_BARRIER();
	if (likely(!pm__tc_stop)) {
		unsigned take = (unsigned)(pm__tc_cap[cls] - tc->lists[cls].room) / 2;
		first = b = tc->lists[cls].head;
		if (take && first) {
			pm__tc_block_check(tc, cls, b);
			walked = 1;
			for (; walked < take && *pm__block_link(b); walked++) {
				b = *pm__block_link(b);
				pm__tc_block_check(tc, cls, b);
			}
		}
	}
	PM_BARRIER();
	tc->busy = 0;
	pm__lock_persistent();
	if (walked && tc->lists[cls].head == first) {
		n += walked;
		tc->lists[cls].head = *pm__block_link(b);
		tc->lists[cls].room = (uint16_t)(tc->lists[cls].room + walked);
		last = b;
		*pm__block_link(p) = first;
	}
	*pm__block_key(p) = PM_FREE_KEY;
	pm__arena_fast_splice(&pm__region->p, pm__tc_class_size(cls), p, last,
			      n);
	tc_assert_class(tc, cls);
	pm__unlock_persistent();
}

/* ---- aligned blocks from the reserves ---------------------------------- */

/* Carve a block of chunk size sz (a multiple of the reserve's alignment)
 * from the back of reserve k, down from aend, touching nothing outside the
 * carved part: not the reserve's head (see struct pm_tcache), and not the
 * chunk after the block, whose PINUSE is set already (the block before it
 * was the reserve).  At least a minimal chunk stays the reserve.  NULL if
 * the reserve is too small.  The caller is inside the busy bracket or
 * holds the arena lock. */
static void *ares_carve(struct pm_tcache *tc, unsigned k, size_t sz)
{
	if (!tc->ares[k])
		return NULL;
	uintptr_t rc = (uintptr_t)pm__chunk_of(tc->ares[k]), end = tc->aend[k];
	if (end - rc < sz + PM_CHUNK_MIN)
		return NULL;
	struct pm_chunk *c = pm__chunk_at(end - sz);
	c->head = sz | PM_CHUNK_CINUSE | PM_CHUNK_PINUSE;
	tc->aend[k] = (uintptr_t)c;
	void *b = pm__chunk_mem(c);
	PM_ASSERT(!((uintptr_t)b & ((size_t)31 << k)));
	return b;
}

void pm__tc_ares_sync(struct pm_tcache *tc)
{
	for (unsigned k = 0; k < TC_NALIGN; k++) {
		if (!tc->ares[k])
			continue;
		struct pm_chunk *rc = pm__chunk_of(tc->ares[k]);
		rc->head = (tc->aend[k] - (uintptr_t)rc) | PM_CHUNK_CINUSE |
			   (rc->head & PM_CHUNK_PINUSE);
	}
}

/* A new reserve k for a block of chunk size sz, what is left of the old
 * one freed into the arena.  Persistent lock held. */
static void ares_renew(struct pm_tcache *tc, unsigned k, size_t sz)
{
	struct pm_arena *a = &pm__region->p;
	size_t al = (size_t)32 << k;
	if (tc->ares[k]) {
		pm__tc_ares_sync(tc);
		pm__arena_free(a, tc->ares[k]);
	}
	tc->ares[k] = NULL;
	size_t want = 4 * sz > TC_ARES_BYTES ? 4 * sz : TC_ARES_BYTES;
	size_t min = sz + al + 2 * PM_CHUNK_MIN;
	char *m = pm__arena_alloc_range(a, min, want + al);
	if (!m && pm__tc_xfer_reclaim())
		m = pm__arena_alloc_range(a, min, want + al);
	if (!m)
		return;
	/* the carving point: the end of a chunk whose successor's mem is
	 * aligned; past it, a tail of at least a minimal chunk, freed */
	struct pm_chunk *c = pm__chunk_of(m);
	uintptr_t end = (uintptr_t)c + pm__chunk_size(c);
	uintptr_t q = ((end + PM_CHUNK_MEM) & ~(uintptr_t)(al - 1)) -
		      PM_CHUNK_MEM;
	if (q != end && end - q < PM_CHUNK_MIN)
		q -= al;
	if (q != end) {
		struct pm_chunk *t = pm__chunk_at(q);
		t->head = (end - q) | PM_CHUNK_CINUSE | PM_CHUNK_PINUSE;
		c->head = (q - (uintptr_t)c) | PM_CHUNK_CINUSE |
			  (c->head & PM_CHUNK_PINUSE);
		pm__arena_free(a, pm__chunk_mem(t));
	}
	tc->ares[k] = m;
	tc->aend[k] = q;
	*pm__block_key(m) = 0; /* no stale mark in a live block */
}

/* How many blocks of its class an aligned request looks at for one that
 * is aligned enough. */
#define ALIGN_LOOK 8

void *pm__tc_memalign(struct pm_tcache *tc, size_t al, size_t n)
{
	PM_ASSERT(n <= TC_MAXREQ && al >= 32 && al <= TC_ALIGN_MAX &&
		  !(al & (al - 1)));
	size_t sz = pm__tc_align_size(al, n);
	unsigned k = (unsigned)__builtin_ctzl(al) - 5;
	/* the class a freed block of this size went to, if sz is a class
	 * size; in any case every block there holds sz bytes */
	unsigned cls = pm__tc_class_of_request(sz - PM_CHUNK_OVERHEAD);
	void *ret = NULL;
	tc->busy = 1;
	PM_BARRIER();
	if (likely(!pm__tc_stop)) {
		/* a freed block of the class that is aligned (one made for
		 * this alignment or a larger one, most often), among the
		 * first few: blocks made for other alignments share the
		 * class, and a request that finds none carves fresh memory */
		void **at = &tc->lists[cls].head;
		for (unsigned i = 0; *at && i < ALIGN_LOOK; i++) {
			void *h = *at;
			pm__tc_block_check(tc, cls, h);
			if (!((uintptr_t)h & (al - 1))) {
				*at = *pm__block_link(h);
				*pm__block_key(h) = 0;
				tc->lists[cls].room++;
				ret = h;
				break;
			}
			at = pm__block_link(h);
		}
		if (!ret)
			ret = ares_carve(tc, k, sz);
	}
	PM_BARRIER();
	tc->busy = 0;
	if (ret)
		return ret;
	/* in one hold of the lock: a quiesce never sees the new reserve
	 * owned by nobody */
	pm__lock_persistent();
	ret = ares_carve(tc, k, sz);
	if (!ret) {
		ares_renew(tc, k, sz);
		ret = ares_carve(tc, k, sz);
	}
	PM_ASSERT(pm__region->p.live_bytes + pm__region->p.free_bytes +
			  pm__region->p.fast_bytes ==
		  pm__region->p.top - pm__arena_first(&pm__region->p));
	pm__unlock_persistent();
	return ret;
}

/* Is p in this thread's cache?  Walked under the arena lock, so a quiesce
 * cannot drain the lists under our feet. */
static int in_own_cache(struct pm_tcache *tc, unsigned cls, const void *p)
{
	for (void *b = tc->lists[cls].head; b; b = *pm__block_link(b)) {
		pm__tc_block_check(tc, cls, b);
		if (b == p)
			return 1;
	}
	return 0;
}

int pm__tc_is_cached(const void *p)
{
	struct pm_tcache *tc = pm__tc_mine();
	/* only persistent blocks are cached: nothing read outside them */
	if (!tc || !pm__in_pheap((uintptr_t)p) || pm__misaligned((uintptr_t)p) ||
	    pm__block_key_get(p) != TC_KEY)
		return 0;
	size_t sz = pm__block_chunksize(p);
	if (sz < PM_CHUNK_MIN || sz >= TC_CHUNK_LIMIT)
		return 0;
	pm__lock_persistent();
	int r = in_own_cache(tc, pm__tc_class_of_chunk(sz), p);
	pm__unlock_persistent();
	return r;
}

void pm__tc_double_free_check(struct pm_tcache *tc, unsigned cls, void *p)
{
	pm__lock_persistent();
	int dup = in_own_cache(tc, cls, p) ||
		  (cls < TC_NSMALL && pm__tc_xfer_has(cls, p)) ||
		  pm__arena_fast_has(&pm__region->p, p);
	pm__unlock_persistent();
	if (dup)
		pm__fatal("free(): double free detected", p);
}

/* Wait for the pop of list i of tc to end: while its busy byte is 1 (the
 * byte the pop sets; its add leaves 0 there, or 0xff, below).  A pop
 * interrupted by a signal whose handler pops from the same list (malloc
 * in a handler: undefined, but done) ends with the handler's pop having
 * cleared busy already, so that its own add of TC_POP_DONE borrows: busy
 * 0xffff or 0xff00 for good and room one short.  Waiting for the word to
 * be 0 then hung every later checkpoint and fork, and such a busy word is
 * one the free fast path could take for a room (struct pm_tc_list): put
 * the list right, busy 0 and room from its length (the thread cannot pop
 * while stopped). */
static void list_settle(struct pm_tcache *tc, unsigned i)
{
	struct pm_tc_list *l = &tc->lists[i];
	while (*(volatile uint8_t *)&l->busy == 1)
		sched_yield();
	if (likely(*(volatile uint16_t *)&l->busy == 0))
		return;
	unsigned n = 0;
	for (void *b = l->head; b; b = *pm__block_link(b), n++) {
		pm__tc_block_check(tc, i, b);
		if (n >= pm__tc_cap[i])
			pm__tc_corrupt(tc, i, b);
	}
	l->busy = 0;
	l->room = (uint16_t)(pm__tc_cap[i] - n);
}

void pm__tc_stop_all(void)
{
	pm__tc_stop = 1;
	for (uintptr_t t = pm__region->tcaches; t;
	     t = ((struct pm_tcache *)t)->next)
		((struct pm_tcache *)t)->span16 = 0;
	pm__os_barrier_all();
	for (uintptr_t t = pm__region->tcaches; t;
	     t = ((struct pm_tcache *)t)->next) {
		struct pm_tcache *tc = (struct pm_tcache *)t;
		while (tc->busy)
			sched_yield();
		/* and each list's own, the pop's (struct pm_tc_list) */
		for (unsigned i = 0; i < TC_NCLASS; i++)
			list_settle(tc, i);
		/* the heap walks see the reserves as they are */
		pm__tc_ares_sync(tc);
	}
}

void pm__tc_start_all(void)
{
	PM_BARRIER();
	for (uintptr_t t = pm__region->tcaches; t;
	     t = ((struct pm_tcache *)t)->next) {
		((struct pm_tcache *)t)->lo = pm__tc_lo();
		((struct pm_tcache *)t)->span16 = pm__tc_span16();
	}
	pm__tc_stop = 0;
}

void pm__tc_drain_all(void)
{
	pm__tc_xfer_drain();
	for (uintptr_t t = pm__region->tcaches; t;
	     t = ((struct pm_tcache *)t)->next)
		pm__tc_drain((struct pm_tcache *)t);
}

void pm__tc_release_others(struct pm_tcache *keep)
{
	uintptr_t t = pm__region->tcaches;
	pm__region->tcaches = 0;
	while (t) {
		tc_struct_check(t);
		struct pm_tcache *tc = (struct pm_tcache *)t;
		t = tc->next;
		if (tc == keep) {
			tc->next = pm__region->tcaches;
			pm__region->tcaches = (uintptr_t)tc;
			continue;
		}
		tc->busy = 0;
		for (unsigned i = 0; i < TC_NCLASS; i++)
			tc->lists[i].busy = 0;
		pm__tc_drain(tc);
		pm__arena_free(&pm__region->p, tc);
	}
}
