/*
 * alloc.h - the malloc family's fast paths, inlined into interpose.c and
 * the pm_ entry points.  The slow paths are in alloc.c.
 *
 * Routing: a request goes to the transient arena when `transient` is set
 * (before main(), or called from libc/ld.so themselves: FILE buffers, DIR
 * streams, dlopen state...), to the persistent arena otherwise.  A block
 * is freed into the arena its address lies in.
 */
#ifndef PM_ALLOC_H
#define PM_ALLOC_H
#include "tcache.h"

/* pm__pbase, pm__plen (tcache.h): process-level copies of the persistent
 * arena's range (not in the region: they are this process's view). */

void *pm__malloc_slow(size_t n, int transient);
void pm__free_slow(void *p);
void *pm__calloc(size_t nmemb, size_t size, int transient);
void *pm__realloc(void *p, size_t n, int transient);
void *pm__memalign(size_t align, size_t n, int transient);
size_t pm__usable_size(const void *p);

/* Is a call from return address `ra` one to serve from the transient
 * arena?  After main() starts, libc's and ld.so's own requests are.
 * Before (phase 0: init.c sets range 0 to the whole address space until
 * the executable's constructors run), all are but those of the libraries
 * whose globals a checkpoint holds (pm__early_transient). */
struct pm_ranges {
	uintptr_t lo0, len0, lo1, len1;
};
extern struct pm_ranges pm__transient_code;
int pm__early_transient(uintptr_t ra);

static inline int pm__transient_caller(uintptr_t ra)
{
	const struct pm_ranges *r = &pm__transient_code;
	if (ra - r->lo1 < r->len1)
		return 1;
	if (ra - r->lo0 < r->len0)
		return likely(pm__phase != 0) || pm__early_transient(ra);
	return 0;
}

/* The same rule for the libc functions that make memory for their caller
 * (owned.c): transient only before main(), for the run-time. */
static inline int pm__owned_transient(uintptr_t ra)
{
	return unlikely(pm__phase == 0) && pm__early_transient(ra);
}

/* A persistent block of n bytes from cache tc, or NULL (pm__tc_none: the
 * pop fails). */
static inline void *pm__malloc_fast(struct pm_tcache *tc, size_t n)
{
	if (likely(n < TC_SMALLREQ))
		return pm__tc_pop_at(tc, pm__tls.small_list[n]);
	if (n <= TC_MAXREQ)
		return pm__tc_pop(tc, pm__tc_class_of_request(n));
	return NULL;
}

/* The fast path, then `slow`: pm__malloc_slow inside the allocator,
 * pm__malloc_entry for the exported names (vg.h). */
static inline void *pm__malloc_via(size_t n, int transient,
				   void *(*slow)(size_t, int))
{
	if (!transient) {
		void *b = pm__malloc_fast(pm__tls.tc, n);
		if (likely(b != NULL))
			return b;
	}
	return slow(n, transient);
}

/* The exported malloc's slow path: routed by the caller's return address
 * ra (pm__transient_caller), then pm__malloc_entry (interpose.c). */
void *pm__malloc_caller(size_t n, uintptr_t ra);
/* The entry point of libc's and ld.so's own malloc calls (interpose.c):
 * always the transient arena.  route.c points their pointers to it. */
void *pm__malloc_runtime(size_t n);

static inline void *pm__malloc(size_t n, int transient)
{
	return pm__malloc_via(n, transient, pm__malloc_slow);
}

/* *room -= 1 in one instruction; 0 if it was 0 (it is then 0xffff: the
 * caller puts it back).  GCC does not fuse a decrement in memory with the
 * test of its borrow by itself. */
static inline int pm__dec_room(uint16_t *room)
{
#if defined(__x86_64__) && defined(__GCC_ASM_FLAG_OUTPUTS__)
	int ok;
	__asm__("subw $1, %0" : "+m"(*room), "=@ccae"(ok));
	return ok;
#else
	return !__builtin_sub_overflow(*room, 1, room);
#endif
}

/* free of anything but a small block the cache takes at once (alloc.c). */
void pm__free_more(void *p);

/* The fast path, then `slow`: pm__free_more inside the allocator,
 * pm__free_entry for the exported names (vg.h). */
static inline void pm__free_via(void *p, void (*slow)(void *))
{
	struct pm_tcache *tc = pm__tls.tc; /* pm__tc_none: the test fails */
	uint64_t mark = TC_KEY;             /* read once: set at start-up */
	tc->busy = 1;
	PM_BARRIER();
	uintptr_t off = (uintptr_t)p - tc->lo;
	/* a 16-aligned address of the persistent arena's committed part
	 * (as tc last saw it): the offset rotated right by 4 is below its
	 * length / 16 (see pm__tc_pop and pm__tc_lo; span16 is 0 while the
	 * caches are stopped) */
	if (likely(((off >> 4) | (off << 60)) < tc->span16)) {
		/* A small chunk: no bit set in its head word but the flags
		 * PINUSE, CINUSE, EARLY and the size's bits 4-9 (bit 3, or a
		 * size of 1024 or more, leaves one), in one test.  The head
		 * shifted right by one then indexes the 16-bit words of the
		 * cache's lists (struct pm_tc_list): the room of the class
		 * size / 16 if the chunk is in use and not PM_CHUNK_EARLY,
		 * else a word that is always 0, so that the push fails as
		 * with a full class.  Classes 0 and 1 (sizes 0 and 16: no
		 * chunk is that small) have no room. */
		size_t h = pm__block_head(p);
		if (likely((h & ~(((size_t)(TC_NSMALL - 1) << 4) |
				  PM_CHUNK_EARLY | PM_CHUNK_CINUSE |
				  PM_CHUNK_PINUSE)) == 0) &&
		    likely(pm__block_key_get(p) != mark)) {
			size_t i = h >> 1;
			/* (i opaque: gcc made 2 * i from h, an instruction
			 * more, and kept addresses in registers: see
			 * PM_OPAQUE) */
			PM_OPAQUE(i);
			uint16_t *words = (uint16_t *)(void *)tc->lists;
			/* the room counter decremented in place: a full
			 * class (room 0) wraps, and is put back */
			if (likely(pm__dec_room(&words[i]))) {
				PM_ASSERT(pm__chunk_size(pm__chunk_of(p)) ==
					  (h & ~PM_CHUNK_FLAGS));
				PM_ASSERT((h & (PM_CHUNK_CINUSE |
						PM_CHUNK_EARLY)) ==
					  PM_CHUNK_CINUSE);
				PM_OPAQUE(i);
				/* the list's head, 6 bytes past its room */
				void **head = (void **)(void *)&words[i + 3];
				*pm__block_link(p) = *head;
				*pm__block_key(p) = mark;
				PM_OPAQUE(i);
				head = (void **)(void *)&words[i + 3];
				*head = p;
				PM_BARRIER();
				tc->busy = 0;
				return;
			}
			/* (the cache's address opaque, not i as above:
			 * clang hoisted the same asm from both branches in
			 * between the decrement and its test) */
			PM_OPAQUE(tc);
			((uint16_t *)(void *)tc->lists)[i] = 0;
		}
	}
	PM_BARRIER();
	tc->busy = 0;
	slow(p);
}

static inline void pm__free(void *p)
{
	pm__free_via(p, pm__free_more);
}
#endif
