/*
 * tcache.h - per-thread caches of small blocks (the lock-free fast path).
 *
 * A thread cache is itself a chunk of the persistent arena, linked from
 * pm__region->tcaches, so the heap bytes alone describe every block: a
 * cached block is, to the arena, an in-use chunk.  A block freed by one
 * thread goes to that thread's cache whatever thread allocated it (there
 * is one heap), so cross-thread frees cost nothing special.
 *
 * Quiescing (checkpoint, fork): the fast path brackets its work with
 * tc->busy = 1 ... tc->busy = 0 and checks pm__tc_stop in between.  The
 * quiescer sets pm__tc_stop, issues membarrier() (which makes every running
 * thread execute a full barrier, so either it sees the flag or its busy
 * store is visible), then waits for every busy to drop.  The fast path
 * pays two plain stores and a load, no atomic read-modify-write.
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

/* Class of a request n <= TC_MAXREQ: the smallest that holds it. */
static inline unsigned pm__tc_class_of_request(size_t n)
{
	/* the common case in few instructions: chunk sizes up to 1024 are
	 * classes size / 16 (1024 is the first medium class, 64) */
	if (likely(n <= 1024 - 23)) {
		size_t m = n < 9 ? 9 : n; /* the 32-byte minimum */
		return (unsigned)((m + 23) >> 4);
	}
	size_t sz = pm__request2size(n);
	if (sz < 1024)
		return (unsigned)(sz >> 4);
	if (sz == 1024)
		return TC_NSMALL;
	size_t x = sz - 1;
	unsigned k = 63u - (unsigned)__builtin_clzl(x); /* 10..13 */
	return TC_NSMALL + (k - 10) * 8 + (unsigned)((x >> (k - 3)) & 7) + 1;
}

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

struct pm_tcache {
	uintptr_t next;        /* list of all caches, in the region */
	volatile int busy;     /* inside a fast-path operation */
	int pad;
	/* pm__pbase and pm__plen / 16, at hand for the pop's check */
	uintptr_t lo, span16;
	uint16_t room[TC_NCLASS]; /* how many more blocks the class takes:
				     pm__tc_cap[cls] - blocks cached */
	void *head[TC_NCLASS]; /* singly linked through the block's 1st word */
};

/* The pop's and the free fast path's range check rotates an offset by
 * log2 of the chunk alignment. */
_Static_assert(PM_CHUNK_ALIGN == 16, "the rotation by 4 in pm__tc_pop");

extern __thread struct pm_tcache *pm__tls_tc;
extern volatile int pm__tc_stop;

/* Process-level copies of the persistent arena's range (alloc.c). */
extern uintptr_t pm__pbase, pm__plen;

/* Slow paths (tcache.c). */
/* A cached block's link or key was overwritten: one line, abort. */
PM_NORETURN void pm__tc_corrupt(struct pm_tcache *tc, unsigned cls,
				const void *b) __attribute__((cold, noinline));
void *pm__tc_refill(struct pm_tcache *tc, unsigned cls);
/* The push failed: double-free check, then hand half the class (and p)
 * to the arena. */
void pm__tc_overflow(struct pm_tcache *tc, unsigned cls, void *p);
struct pm_tcache *pm__tc_create(void);
void pm__tc_double_free_check(struct pm_tcache *tc, unsigned cls, void *p);
/* This thread's cache is gone (freed by a restore): forget it, also in
 * the thread-exit key. */
void pm__tc_forget_self(void);
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
/* Once per process (init): key for the thread-exit destructor, membarrier
 * registration. */
void pm__tc_process_init(void);
extern uint16_t pm__tc_cap[TC_NCLASS];

#define PM_BARRIER() __asm__ volatile("" ::: "memory")

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
 * the block is not taken for a double free). */
static inline void *pm__tc_pop(struct pm_tcache *tc, unsigned cls)
{
	uint32_t want = (uint32_t)TC_KEY; /* read once: set at start-up */
	tc->busy = 1;
	PM_BARRIER();
	void *b = NULL;
	if (likely(!pm__tc_stop)) {
		b = tc->head[cls];
		uintptr_t off = (uintptr_t)b - tc->lo;
		if (likely(((off >> 4) | (off << 60)) < tc->span16)) {
			/* the key word's low half (little-endian) */
			uint32_t *key = (uint32_t *)pm__block_key(b);
			uint32_t k = *key ^ want;
			*key = k;
			if (unlikely(k != 0))
				pm__tc_corrupt(tc, cls, b);
			tc->head[cls] = *pm__block_link(b);
			tc->room[cls]++;
			PM_ASSERT(tc->room[cls] <= pm__tc_cap[cls]);
		} else if (unlikely(b != NULL)) {
			pm__tc_corrupt(tc, cls, b);
		}
	}
	PM_BARRIER();
	tc->busy = 0;
	return b;
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
		unsigned room = tc->room[cls];
		if (likely(!pm__tc_stop) && likely(room != 0)) {
			PM_ASSERT(pm__tc_class_of_chunk(pm__chunk_size(
					  pm__chunk_of(p))) == cls);
			*pm__block_link(p) = tc->head[cls];
			*pm__block_key(p) = mark;
			tc->head[cls] = p;
			tc->room[cls] = (uint16_t)(room - 1);
			ok = 1;
		}
		PM_BARRIER();
		tc->busy = 0;
	}
	return ok;
}
#endif
