/*
 * tcache.h - per-thread caches of small blocks (the lock-free fast path).
 *
 * A thread cache is itself a chunk of the persistent arena, linked from
 * pm__region->tcaches, so the heap bytes alone describe every block: a
 * cached block is, to the arena, an in-use chunk.  A block freed by one
 * thread goes to that thread's cache whatever thread allocated it (there
 * is one heap), so cross-thread frees cost nothing special; a full small
 * class hands half of itself to its class's transfer stack, where a
 * thread whose class is empty takes it (pm_region.xfer), and aligned
 * requests are carved from per-alignment reserves (ares).
 *
 * Quiescing (checkpoint, fork): the fast path brackets its work with
 * busy = 1 ... busy = 0 and checks tc->span16 in between (its range
 * check: 0 while stopped).  free and the slow paths use tc->busy; the
 * pop uses its list's own flag (struct pm_tc_list.busy), which the add
 * that counts the popped block clears.  The quiescer sets pm__tc_stop
 * and every cache's span16 to 0, issues membarrier() (which makes every
 * running thread execute a full barrier, so either it sees the zero or
 * its busy store is visible), then waits for every busy flag to drop.
 * The fast path pays plain stores (the pop one, free two), no atomic
 * read-modify-write.
 */
#ifndef PM_TCACHE_H
#define PM_TCACHE_H
#include "internal.h"

/* Classes: 0..63 small, chunk size 16*i (exact, as the arena's small
 * bins); 64..96 medium, chunk sizes 1024..16384, eight per doubling
 * (1024, 1152, ..., 1920, 2048, 2304, ...).  A medium request is rounded
 * up to its class (at most 12.5% more); a freed chunk goes to the largest
 * class it can serve. */
#define TC_NSMALL PM_NSMALL
#define TC_NMED 33
#define TC_NCLASS (TC_NSMALL + TC_NMED)
#define TC_MAXREQ (16384 - 8)        /* largest request a cache serves */
#define TC_CHUNK_LIMIT 18432         /* chunks below this are cacheable */
#define TC_KEY PM_FREE_KEY           /* marks a cached block */

/* Class of a request n <= TC_MAXREQ: the smallest that holds it.  The
 * chunk size of a request is a function of (n + 7) >> 4 (16 * that + 16,
 * at least 32), so one byte table of 1024 entries (tcache.c) holds every
 * answer: a load in place of the arithmetic and the minimum's test. */
extern const uint8_t pm__tc_req_class[(TC_MAXREQ + 7) / 16 + 1]
	__attribute__((visibility("hidden")));
static inline unsigned pm__tc_class_of_request(size_t n)
{
	return pm__tc_req_class[(n + 7) >> 4];
}
/* Requests below TC_SMALLREQ also have a table by n itself (1024 bytes,
 * pm__tls.small_list): malloc's fast path then needs no addition and
 * shift. */
#define TC_SMALLREQ 1024

/* Class of a chunk of size 32 <= sz < TC_CHUNK_LIMIT: the largest it can
 * serve. */
static inline unsigned pm__tc_class_of_chunk(size_t sz)
{
	if (sz < 1024)
		return (unsigned)(sz >> 4);
	unsigned k = 63u - (unsigned)__builtin_clzl(sz); /* 10..14 */
	return TC_NSMALL + (k - 10) * 8 + (unsigned)((sz >> (k - 3)) & 7);
}

/* Chunk size of class c. */
static inline size_t pm__tc_class_size(unsigned c)
{
	if (c < TC_NSMALL)
		return (size_t)c << 4;
	unsigned j = c - TC_NSMALL;
	return ((size_t)8 + (j & 7)) << (7 + j / 8);
}

/* How many blocks class c holds at most (pm__tc_cap[c] is this, set at
 * start-up; check.c uses this one where no cache code is linked). */
static inline unsigned pm__tc_cap_of(unsigned c)
{
	if (c < 2)
		return 0; /* no such chunk sizes */
	size_t cap = 32768 / pm__tc_class_size(c);
	if (c < TC_NSMALL)
		return (unsigned)(cap > 256 ? 256 : cap < 8 ? 8 : cap);
	/* medium: at most 32 KiB of a class (32 of 1 KiB ... 2 of 16 KiB) */
	return (unsigned)(cap < 2 ? 2 : cap);
}

#define TC_NALIGN 8 /* aligned reserves: alignments 32 .. 4096 */
/* A cache's first TC_YOUNG refills bring at most 8, 16, 32, 64 blocks: a
 * process or thread that allocates a few blocks touches one page of the
 * heap, not the three of a full refill (a first touch costs a fault). */
#define TC_YOUNG 4

/* One class of a cache: its list and its room, 16 bytes, so that one
 * index register addresses both.  The free fast path indexes the four
 * 16-bit words by the freed chunk's head word shifted right by one: for
 * a small chunk (size 16 * cls, bit 3 clear) that is 8 * cls + (CINUSE |
 * EARLY << 1), PINUSE shifted out, so an in-use chunk's is its class's
 * room and a free or PM_CHUNK_EARLY chunk's one of the three other words,
 * which are 0 whenever the thread is not in its pop (the push fails as
 * with a full class: the slow path decides, and the push puts the 0
 * back).
 *
 * busy is the pop's own busy flag (the quiesce protocol, tcache.h's
 * head): its first byte set to 1 before the pop reads span16, and
 * cleared by the same instruction that counts the popped block, an add
 * of 0xffff to busy_room (busy 1 -> 0, room + 1).  Only the cache's
 * thread writes it; the quiescer waits for it as for tc->busy. */
struct pm_tc_list {
	union {
		struct {
			uint16_t busy; /* (and the word of a free chunk) */
			uint16_t room; /* how many more blocks the class
					  takes: pm__tc_cap[cls] - cached */
		};
		uint32_t busy_room; /* (little-endian) */
	};
	uint16_t zero_early[2]; /* (EARLY set) */
	void *head;         /* singly linked through the block's 1st word */
};
#define TC_POP_DONE 0xffffu /* busy_room += it: busy 1 -> 0, room + 1 */
_Static_assert(sizeof(struct pm_tc_list) == 16 &&
		       offsetof(struct pm_tc_list, busy) ==
			       sizeof(uint16_t) * 0 &&
		       offsetof(struct pm_tc_list, room) ==
			       sizeof(uint16_t) * (PM_CHUNK_CINUSE >> 1) &&
		       offsetof(struct pm_tc_list, zero_early) ==
			       sizeof(uint16_t) * (PM_CHUNK_EARLY >> 1) &&
		       offsetof(struct pm_tc_list, head) ==
			       sizeof(uint16_t) * 4,
	       "the free fast path's addressing (pm__free_via)");

struct pm_tcache {
	/* first: the fast paths address a list from the cache's own
	 * address and an index (gcc kept the array's address in a register
	 * otherwise, an instruction) */
	struct pm_tc_list lists[TC_NCLASS];
	uintptr_t next;        /* list of all caches, in the region */
	volatile int busy;     /* inside a fast-path operation */
	int refills; /* refills so far, up to TC_YOUNG (a young cache's are
			small) */
	/* pm__tc_lo() and pm__tc_span16(), at hand for the pop's and the
	 * free's range check: the committed part of the persistent arena,
	 * not its whole reservation, so that the free of an address above
	 * it reads no head there (PROT_NONE); span16 is 0 while the caches
	 * are stopped (quiesce, fork), which makes both checks fail: the
	 * fast paths' stop test.  The arena grows without telling the
	 * caches: a free or a pop beyond span16 raises it (pm__free_more,
	 * pm__tc_pop_far), by a compare-exchange from a nonzero value. */
	uintptr_t lo, span16;
	/* Aligned requests (pm__tc_memalign): for each alignment 32 << k
	 * (k < TC_NALIGN), the mem address of an in-use chunk of the
	 * persistent arena (the reserve), or NULL, and where its carved part
	 * begins: blocks of sizes that are multiples of the alignment are
	 * carved from its back, down from aend (aend + 16 is aligned, and
	 * stays so).  The reserve's own head is written only under the
	 * lock (pm__tc_ares_sync): a thread freeing the chunk before it
	 * changes its PINUSE bit, under the lock, at any time.  Drained with
	 * the lists. */
	void *ares[TC_NALIGN];
	uintptr_t aend[TC_NALIGN];
};
#define TC_ALIGN_MAX ((size_t)4096)
#define TC_ARES_BYTES ((size_t)16 << 10) /* a reserve, at least */
/* An aligned request's chunk size: a multiple of the alignment al (so
 * that carving keeps a reserve's front aligned, and every block a freed
 * aligned block is reused for is aligned as it was). */
static inline size_t pm__tc_align_size(size_t al, size_t n)
{
	return (pm__request2size(n) + al - 1) & ~(al - 1);
}

/* The pop's and the free fast path's range check rotates an offset by
 * log2 of the chunk alignment. */
_Static_assert(PM_CHUNK_ALIGN == 16, "the rotation by 4 in pm__tc_pop");

/* What the fast paths read of the thread itself, in one thread-local
 * block: its address is one load from the GOT (initial-exec TLS), and
 * each field one %fs-relative access from it, the class table's by the
 * request as index.  (Per-process state, not the region's: a thread's
 * caches are in the region; a restore or a fork child sets these again.)
 *
 * tc: this thread's cache; until it has one, pm__tc_none, whose range
 * checks always fail (span16 0): its pop and free fall to the slow paths,
 * which make the thread's own.  The fast paths need no NULL test.
 * mtc: the exported malloc's view of it (interpose.c): the same cache
 * when libc's and ld.so's own calls have their own entry point
 * (pm__malloc_direct, route.c), else pm__tc_none: malloc's fast path then
 * always fails and its slow path routes by the caller's address.
 * small_list: for each request below TC_SMALLREQ, its class times 2: the
 * index of the class's list in 8-byte words (pm__tc_pop_at).  Constant;
 * a copy in each thread's block, where malloc's fast path reads it
 * without the instruction that makes a table's address. */
struct pm_tls {
	struct pm_tcache *tc, *mtc;
	uint8_t small_list[TC_SMALLREQ];
};
extern __thread struct pm_tls pm__tls;
extern struct pm_tcache pm__tc_none;
extern int pm__malloc_direct;
/* This thread's cache, or NULL if it has none. */
static inline struct pm_tcache *pm__tc_mine(void)
{
	struct pm_tcache *tc = pm__tls.tc;
	return tc == &pm__tc_none ? NULL : tc;
}
extern volatile int pm__tc_stop;

/* Process-level copies of the persistent arena's range (alloc.c). */
extern uintptr_t pm__pbase, pm__plen;

/* Where a block of the persistent arena can be: from the lowest payload
 * address (its head, 8 bytes below, is still in the region) up to the
 * end of the committed part.  That end only grows while blocks of it are
 * in use (a restore rewinds it with the caches stopped), so a block
 * handed over by another thread is below the end this thread reads.
 * Every check that reads a head or a key of an address it was given, or
 * that a list or a chain gave, first checks this range: the rest of the
 * reservation is PROT_NONE. */
static inline uintptr_t pm__tc_lo(void)
{
	return pm__pbase + PM_CHUNK_MEM;
}

static inline uintptr_t pm__pheap_end(void)
{
	return __atomic_load_n(&pm__region->p.top_end, __ATOMIC_RELAXED);
}

/* 1 if b lies where a block of the persistent arena can be (its
 * alignment is the caller's to test). */
static inline int pm__in_pheap(uintptr_t b)
{
	uintptr_t lo = pm__tc_lo();
	return b - lo < pm__pheap_end() - lo;
}

/* 1 if a chain's first block can be at c: its chain word, 16 bytes in
 * (pm__tc_chain_word), is read too. */
static inline int pm__chain_in_pheap(uintptr_t c)
{
	return pm__in_pheap(c) && pm__in_pheap(c + 16);
}

/* A running cache's span16 for the committed part as it is now. */
static inline uintptr_t pm__tc_span16(void)
{
	return (pm__pheap_end() - pm__tc_lo()) >> 4;
}

/* tc's span16 raised to the committed part as it is now, by its own
 * thread, unless the cache is stopped (0): the exchange fails when a
 * quiesce stores 0 in between, so a stopped cache stays stopped. */
static inline void pm__tc_span_raise(struct pm_tcache *tc)
{
	uintptr_t old = __atomic_load_n(&tc->span16, __ATOMIC_RELAXED);
	uintptr_t now = pm__tc_span16();
	if (old != 0 && old < now)
		__atomic_compare_exchange_n(&tc->span16, &old, now, 0,
					    __ATOMIC_RELAXED,
					    __ATOMIC_RELAXED);
}

/* Slow paths (tcache.c). */
/* A cached block's link or key was overwritten: one line, abort. */
PM_NORETURN void pm__tc_corrupt(struct pm_tcache *tc, unsigned cls,
				const void *b) __attribute__((cold, noinline));
/* The same for the pop: it does not return either, but is not declared
 * so, which lets the compiler jump to it (malloc's fast path needs no
 * stack frame). */
void *pm__tc_corrupt_pop(const void *b)
	__attribute__((cold, noinline, returns_nonnull));
/* The pop's head b is beyond tc's span16 (not 0 when the pop looked): a
 * block of the part of the arena committed since span16 was set, or a
 * corrupt link (one line, abort).  The pop is finished here and span16
 * raised: never NULL, so that the pop jumps to it as to
 * pm__tc_corrupt_pop.  The list's busy byte is set, as the pop left it. */
void *pm__tc_pop_far(struct pm_tcache *tc, size_t at, void *b)
	__attribute__((cold, noinline, returns_nonnull));
void *pm__tc_refill(struct pm_tcache *tc, unsigned cls);
/* The push failed: double-free check, then hand half the class (and p)
 * to the arena. */
void pm__tc_overflow(struct pm_tcache *tc, unsigned cls, void *p);
struct pm_tcache *pm__tc_create(void);
void pm__tc_abandon(void);
void pm__tc_double_free_check(struct pm_tcache *tc, unsigned cls, void *p);
/* This thread's cache is gone (freed by a restore): forget it, also in
 * the thread-exit key. */
void pm__tc_forget_self(void);
/* A block of n <= TC_MAXREQ bytes aligned to al (a power of two, 32 ..
 * TC_ALIGN_MAX): a cached block that happens to be aligned, else one
 * carved from the cache's reserve without the lock, else (the reserve is
 * used up) under the lock; NULL only when the arena is exhausted. */
void *pm__tc_memalign(struct pm_tcache *tc, size_t al, size_t n);
/* Transfer stacks (pm_region.xfer): chains of up to 255 cached blocks of
 * a small class, linked as a cache's list (NULL-terminated), the first
 * block's 3rd word holding the next chain (low 48 bits), the chain's
 * length (bits 48-55) and its depth in the stack (bits 56-63). */
#define TC_XFER_PTR (((uint64_t)1 << 48) - 1)
#define TC_XFER_DEPTH 4 /* chains per class at most (more: the arena) */
static inline uint64_t *pm__tc_chain_word(void *first)
{
	return (uint64_t *)first + 2;
}
/* A block taken from a cache list or a chain (slow paths): in the
 * persistent arena, 16-aligned, still keyed.  See pm__tc_pop. */
static inline void pm__tc_block_check(struct pm_tcache *tc, unsigned cls,
				      void *b)
{
	if (unlikely(!pm__in_pheap((uintptr_t)b) ||
		     pm__misaligned((uintptr_t)b) ||
		     pm__block_key_get(b) != TC_KEY))
		pm__tc_corrupt(tc, cls, b);
}
/* The cache's class cls is full: hand half of it and p to the class's
 * transfer stack as one chain, without the lock.  0 if the stack is deep
 * enough already (or the cache stopped): the caller takes the lock. */
int pm__tc_xfer_give(struct pm_tcache *tc, unsigned cls, void *p);
/* 1 if p is on a chain of class cls's transfer stack (the double-free
 * check of a keyed block: a free that overflowed handed it there). */
int pm__tc_xfer_has(unsigned cls, const void *p);
/* Take a chain of class cls (< TC_NSMALL) from its transfer stack into
 * the cache (whose list of the class is empty), without the lock; one of
 * its blocks, or NULL. */
void *pm__tc_xfer_take(struct pm_tcache *tc, unsigned cls);
/* Give every chain of the transfer stacks to the arena.  Persistent lock
 * held, caches stopped (or one thread). */
void pm__tc_xfer_drain(void);
/* Out of memory: take every chain off the transfer stacks (as takers do,
 * so other threads may go on giving and taking) and free its blocks into
 * the arena; whether there was any.  Persistent lock held. */
int pm__tc_xfer_reclaim(void);
/* Is p in this thread's cache (a freed block)?  Slow; for misuse checks. */
int pm__tc_is_cached(const void *p);
/* Quiesce helpers (persistent lock held). */
void pm__tc_stop_all(void);
void pm__tc_start_all(void);
void pm__tc_drain(struct pm_tcache *tc);
void pm__tc_drain_all(void);
/* Free every cache struct but `keep` (in a forked child or after a
 * restore: their threads do not exist).  Persistent lock held. */
void pm__tc_release_others(struct pm_tcache *keep);
/* Write the true size of tc's reserves into their heads (carving from the
 * back leaves it stale).  Persistent lock held, tc not carving (stopped,
 * or the caller's own). */
void pm__tc_ares_sync(struct pm_tcache *tc);
/* Once per process (init): key for the thread-exit destructor, membarrier
 * registration. */
void pm__tc_process_init(void);
extern uint16_t pm__tc_cap[TC_NCLASS];

#define PM_BARRIER() __asm__ volatile("" ::: "memory")
/* The list at index `at` in 8-byte words (2 * its class). */
static inline struct pm_tc_list *pm__tc_list_at(struct pm_tcache *tc,
						size_t at)
{
	return (struct pm_tc_list *)((uint64_t *)(void *)tc->lists + at);
}
/* The value of x is unknown to the compiler from here on (no code): an
 * address computed from it before is not reused after, and one computed
 * after is not hoisted.  The fast paths use it where gcc would keep an
 * address in a register (an instruction to make it) that the addressing
 * modes of each access give for free. */
#define PM_OPAQUE(x) __asm__("" : "+r"(x))
/* x is in the return register here (x86-64: rax): the pop's block, which
 * gcc otherwise loaded elsewhere and moved at the end. */
#if defined(__x86_64__)
#define PM_IN_RET(x) __asm__("" : "+a"(x))
#else
#define PM_IN_RET(x) ((void)0)
#endif

/* Pop a cached block of class cls, or NULL.  Inline: the malloc fast path.
 *
 * The head came from a link a freed block held, which a write after free
 * may have changed: it must be a 16-aligned address of the persistent
 * arena, and the block must still carry the key.  Both checks are folded
 * into work the pop does anyway, so that they cost about four
 * instructions: the offset from the arena's start, rotated right by 4 (a
 * misaligned one becomes huge, and so does NULL's), is compared once with
 * the arena's length / 16 in place of the NULL test; and the key's low
 * half is cleared by XOR with itself's expected value, whose result says
 * whether it was there (the high half stays: not the key, so a free of
 * the block is not taken for a double free).  The same comparison is the
 * stop test: a stopped cache's span16 is 0 (read after the busy store,
 * as pm__tc_stop was).
 *
 * The list is given by its index in 8-byte words, 2 * cls (malloc's
 * table holds that, and the addressing scales it for free).
 *
 * The busy bracket is the list's own (struct pm_tc_list): one byte
 * store at the start, and at the end the room's increment clears it. */
static inline void *pm__tc_pop_at(struct pm_tcache *tc, size_t at)
{
	uint32_t want = (uint32_t)TC_KEY; /* read once: set at start-up */
	*(uint8_t *)&pm__tc_list_at(tc, at)->busy = 1;
	PM_BARRIER();
	PM_OPAQUE(at);
	void *b = pm__tc_list_at(tc, at)->head;
	PM_IN_RET(b);
	uintptr_t off = (uintptr_t)b - tc->lo;
	if (likely(((off >> 4) | (off << 60)) < tc->span16)) {
		/* the key word's low half (little-endian) */
		uint32_t *key = (uint32_t *)pm__block_key(b);
		uint32_t k = *key ^ want;
		*key = k;
		if (unlikely(k != 0))
			return pm__tc_corrupt_pop(b);
		/* head and room addressed from the index each time (see
		 * PM_OPAQUE) */
		PM_OPAQUE(at);
		pm__tc_list_at(tc, at)->head = *pm__block_link(b);
		PM_BARRIER(); /* the list is written before busy drops */
		PM_OPAQUE(at);
		pm__tc_list_at(tc, at)->busy_room += TC_POP_DONE;
		PM_ASSERT(pm__tc_list_at(tc, at)->room <= pm__tc_cap[at / 2]);
		return b;
	}
	/* span16 read again (volatile): kept from the test above, it cost
	 * the fast path a load into a register */
	if (unlikely(b != NULL) && *(volatile uintptr_t *)&tc->span16 != 0)
		return pm__tc_pop_far(tc, at, b);
	/* empty, or stopped */
	PM_BARRIER();
	PM_OPAQUE(tc);
	pm__tc_list_at(tc, at)->busy = 0;
	return NULL;
}

static inline void *pm__tc_pop(struct pm_tcache *tc, unsigned cls)
{
	return pm__tc_pop_at(tc, (size_t)cls * 2);
}

/* Push a block of class cls; returns 0 if the cache is full or stopped
 * (or p looks already cached: the caller's slow path decides). */
static inline int pm__tc_push(struct pm_tcache *tc, unsigned cls, void *p)
{
	int ok = 0;
	uint64_t mark = TC_KEY; /* read once: set at start-up */
	if (likely(pm__block_key_get(p) != mark)) {
		tc->busy = 1;
		PM_BARRIER();
		unsigned room = tc->lists[cls].room;
		if (likely(tc->span16 != 0) && likely(room != 0)) {
			PM_ASSERT(pm__tc_class_of_chunk(pm__chunk_size(
					  pm__chunk_of(p))) == cls);
			*pm__block_link(p) = tc->lists[cls].head;
			*pm__block_key(p) = mark;
			tc->lists[cls].head = p;
			tc->lists[cls].room = (uint16_t)(room - 1);
			ok = 1;
		}
		PM_BARRIER();
		tc->busy = 0;
	}
	return ok;
}
#endif
