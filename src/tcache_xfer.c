/*
 * tcache_xfer.c - the transfer stacks (pm_region.xfer, tcache.h): a full
 * small class hands a chain of its blocks to the class's stack, an empty
 * one takes a chain, both without the lock (a counter in the stack word
 * against ABA); quiesce drains the stacks into the arena, an exhausted
 * arena takes every chain back.
 */
#include "tcache.h"

/* A chain's first block, from a transfer stack or a chain word: in the
 * persistent arena, 16-aligned (before it is read), keyed. */
static inline void xfer_check(struct pm_tcache *tc, unsigned cls, uintptr_t b)
{
	if (unlikely(!pm__chain_in_pheap(b) || pm__misaligned(b)))
		pm__tc_corrupt(tc, cls, (void *)b);
}

/* The depth of the top chain of a stack word (0: empty).  Stale if another
 * thread takes the chain meanwhile: then the exchange that follows fails
 * and the caller reads again. */
static unsigned xfer_depth(struct pm_tcache *tc, unsigned cls, uint64_t top)
{
	uintptr_t h = top & TC_XFER_PTR;
	if (!h)
		return 0;
	xfer_check(tc, cls, h);
	return (unsigned)(*pm__tc_chain_word((void *)h) >> 56);
}

int pm__tc_xfer_has(unsigned cls, const void *p)
{
	/* Read without taking anything: another thread may take a chain
	 * meanwhile and change its blocks.  Each address is checked before
	 * it is read and the walk is bounded, so a stale read at worst
	 * misses p: never a false report, since the caller only asks for a
	 * block that carries the key (on a list or a chain, or user data
	 * equal to a random 64-bit key). */
	uint64_t top = __atomic_load_n(&pm__region->xfer[cls], __ATOMIC_ACQUIRE);
	uintptr_t c = (uintptr_t)(top & TC_XFER_PTR);
	unsigned budget = TC_XFER_DEPTH * 256 + 64;
	for (unsigned chains = 0; c && chains <= TC_XFER_DEPTH; chains++) {
		if (!pm__chain_in_pheap(c) || pm__misaligned(c))
			return 0;
		uint64_t w = __atomic_load_n(pm__tc_chain_word((void *)c),
					     __ATOMIC_RELAXED);
		for (uintptr_t b = c; b; budget--) {
			if (b == (uintptr_t)p)
				return 1;
			if (!budget || !pm__in_pheap(b) || pm__misaligned(b))
				return 0;
			b = (uintptr_t)__atomic_load_n(pm__block_link((void *)b),
						       __ATOMIC_RELAXED);
		}
		c = (uintptr_t)(w & TC_XFER_PTR);
	}
	return 0;
}

/* The cache's class cls is full: hand half of it and p to the class's
 * transfer stack as one chain, without the lock.  0 if the stack is deep
 * enough already (or the cache stopped): the caller takes the lock. */
int pm__tc_xfer_give(struct pm_tcache *tc, unsigned cls, void *p)
{
	uint64_t *top = &pm__region->xfer[cls];
	int ok = 0;
	tc->busy = 1;
	PM_BARRIER();
	uint64_t old = 0;
	unsigned depth = TC_XFER_DEPTH,
		 take = (unsigned)(pm__tc_cap[cls] - tc->lists[cls].room) / 2;
	if (tc->span16 != 0) { /* not stopped: nobody drains the stacks */
		old = __atomic_load_n(top, __ATOMIC_ACQUIRE);
		depth = xfer_depth(tc, cls, old);
	}
	if (depth < TC_XFER_DEPTH && take && take < 255 && tc->lists[cls].head) {
		/* p, then the first `take` blocks of the list */
		void *first = tc->lists[cls].head, *b = first;
		unsigned n = 1;
		pm__tc_block_check(tc, cls, b);
		for (; n < take && *pm__block_link(b); n++) {
			b = *pm__block_link(b);
			pm__tc_block_check(tc, cls, b);
		}
		tc->lists[cls].head = *pm__block_link(b);
		tc->lists[cls].room = (uint16_t)(tc->lists[cls].room + n);
		*pm__block_link(b) = NULL;
		*pm__block_link(p) = first;
		*pm__block_key(p) = TC_KEY;
		n++;
		for (;;) {
			*pm__tc_chain_word(p) = (old & TC_XFER_PTR) |
						(uint64_t)n << 48 |
						(uint64_t)(depth + 1) << 56;
			uint64_t nw = (uint64_t)(uintptr_t)p |
				      ((old >> 48) + 1) << 48;
			if (__atomic_compare_exchange_n(top, &old, nw, 0,
							__ATOMIC_ACQ_REL,
							__ATOMIC_ACQUIRE))
				break;
			depth = xfer_depth(tc, cls, old);
			if (depth >= 255)
				depth = 254;
		}
		ok = 1;
	}
	PM_BARRIER();
	tc->busy = 0;
	return ok;
}

/* Pop the top chain of class cls's stack without the lock: its first
 * block (0: the stack is empty) and, in *w, its chain word.  h is read
 * before the exchange: stale if another thread took h meanwhile, and
 * then the exchange fails and the top is read again. */
static uintptr_t xfer_pop(struct pm_tcache *tc, unsigned cls, uint64_t *w)
{
	uint64_t *top = &pm__region->xfer[cls];
	uint64_t old = __atomic_load_n(top, __ATOMIC_ACQUIRE);
	while (old & TC_XFER_PTR) {
		uintptr_t h = old & TC_XFER_PTR;
		xfer_check(tc, cls, h);
		*w = *pm__tc_chain_word((void *)h);
		uint64_t nw = (*w & TC_XFER_PTR) | ((old >> 48) + 1) << 48;
		if (__atomic_compare_exchange_n(top, &old, nw, 0,
						__ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE))
			return h;
	}
	return 0;
}

/* Free a chain's blocks into the arena (persistent lock held). */
static void chain_free(struct pm_arena *a, unsigned cls, void *b)
{
	for (unsigned n = 0; b; n++) {
		pm__tc_block_check(NULL, cls, b);
		if (n > 255)
			pm__fatal("corrupted transfer chain", b);
		void *nb = *pm__block_link(b);
		*pm__block_key(b) = 0;
		pm__check_block(a, b, "free");
		pm__arena_free(a, b);
		b = nb;
	}
}

void *pm__tc_xfer_take(struct pm_tcache *tc, unsigned cls)
{
	void *ret = NULL;
	tc->busy = 1;
	PM_BARRIER();
	uint64_t w;
	uintptr_t h;
	if (tc->span16 != 0 && !tc->lists[cls].head && (h = xfer_pop(tc, cls, &w))) {
		unsigned n = (unsigned)(w >> 48) & 255;
		pm__tc_block_check(tc, cls, (void *)h);
		if (unlikely(n == 0 || n - 1 > tc->lists[cls].room))
			pm__fatal("malloc(): corrupted transfer chain "
				  "(use after free?)",
				  (void *)h);
		ret = (void *)h;
		tc->lists[cls].head = *pm__block_link(ret);
		tc->lists[cls].room = (uint16_t)(tc->lists[cls].room - (n - 1));
		*pm__block_key(ret) = 0;
	}
	PM_BARRIER();
	tc->busy = 0;
	return ret;
}

int pm__tc_xfer_reclaim(void)
{
	struct pm_arena *a = &pm__region->p;
	int any = 0;
	for (unsigned c = 0; c < TC_NSMALL; c++) {
		uint64_t w;
		uintptr_t h;
		while ((h = xfer_pop(NULL, c, &w))) {
			chain_free(a, c, (void *)h);
			any = 1;
		}
	}
	return any;
}

void pm__tc_xfer_drain(void)
{
	struct pm_arena *a = &pm__region->p;
	for (unsigned c = 0; c < TC_NSMALL; c++) {
		uint64_t w = pm__region->xfer[c];
		pm__region->xfer[c] = w & ~TC_XFER_PTR;
		uintptr_t h = w & TC_XFER_PTR;
		for (unsigned depth = 0; h; depth++) {
			xfer_check(NULL, c, h);
			if (depth > 255)
				pm__fatal("corrupted transfer stack", (void *)h);
			uintptr_t next =
				*pm__tc_chain_word((void *)h) & TC_XFER_PTR;
			chain_free(a, c, (void *)h);
			h = next;
		}
	}
}

