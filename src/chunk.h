/*
 * chunk.h - the chunk layout: the only place that says where a chunk's
 * size, flags, links and key are.  heap*.c, check.c, alloc.c/alloc.h and
 * the thread caches use these names and nothing else (no literal offsets,
 * no `& 2`, no `[1]`).  A new region layout version changes this file,
 * PM_REGION_VERSION (internal.h), docs/FORMAT.md "The region header" and
 * tools/gdb/pmalloc-gdb.py's table.
 *
 * Addresses are 16-aligned; "mem" is what malloc returns:
 *
 *     chunk -> +-----------------------------------------------+
 *              | prev_foot: size of the previous chunk, valid   |  +0
 *              |            only while the previous one is free |
 *              +-----------------------------------------------+
 *              | head: size | EARLY | CINUSE | PINUSE           |  +8
 *       mem -> +-----------------------------------------------+
 *              | in use: payload      | free: fd, bk            |  +16
 *              |                      | large free: fd_size,    |  +32
 *              |                      |   bk_size               |
 *              | cached / deferred (in use to the arena):       |
 *              |   link (mem +0), PM_FREE_KEY (mem +8)          |
 *              | ...                                            |
 *    next  ->  +-----------------------------------------------+
 *              | next's prev_foot: the last 8 bytes of the      |
 *              | payload while in use; our size while free      |
 *              +-----------------------------------------------+
 *
 * An in-use chunk of size S holds S - 8 usable bytes.  CINUSE is this
 * chunk's state, PINUSE the previous chunk's (so the footer of the
 * predecessor may be read only when PINUSE is clear).  Sizes are multiples
 * of 16, so bits 2-3 of head are free: bit 2 is PM_CHUNK_EARLY (a block
 * made before main(), init.c), bit 3 is unused and must stay clear.
 *
 * Bins (struct pm_arena, internal.h): PM_NSMALL exact bins of chunk size
 * 16*i (i < 64, so sizes below PM_SMALL_LIMIT = 1024), then PM_NLARGE
 * bins with four per power of two from 1024 (the last takes the rest).
 */
#ifndef PM_CHUNK_H
#define PM_CHUNK_H
#include <stddef.h>
#include <stdint.h>

#define PM_CHUNK_PINUSE ((size_t)1) /* the previous chunk is in use */
#define PM_CHUNK_CINUSE ((size_t)2) /* this chunk is in use */
#define PM_CHUNK_EARLY ((size_t)4)  /* made before main() (see init.c) */
#define PM_CHUNK_FLAGS ((size_t)15) /* head bits that are not the size */
#define PM_CHUNK_MIN ((size_t)32)   /* smallest chunk */
#define PM_CHUNK_OVERHEAD ((size_t)8) /* the head word of an in-use chunk */
#define PM_CHUNK_MEM ((size_t)16)   /* mem - chunk */
#define PM_CHUNK_ALIGN ((size_t)16)

#define PM_NSMALL 64 /* small bins: chunk sizes 16*i, i < 64 (< 1024) */
#define PM_NLARGE 64 /* large bins: 4 per power of two from 1024 */
#define PM_NBINS (PM_NSMALL + PM_NLARGE)
#define PM_SMALL_LIMIT ((size_t)PM_NSMALL << 4) /* 1024: first large size */

struct pm_chunk {
	size_t prev_foot;
	size_t head;
	struct pm_chunk *fd, *bk;
	/* large free chunks only (sizes >= 1024): the ring of leaders */
	struct pm_chunk *fd_size, *bk_size;
};

/* Bytes at the start of a free chunk that hold its header and links
 * (prev_foot, head, fd, bk, and for large chunks fd_size, bk_size): page
 * release and the checkpoint's sparse spans keep them. */
#define PM_FREE_HDR 48
_Static_assert(sizeof(struct pm_chunk) == PM_FREE_HDR, "free chunk header");
_Static_assert(offsetof(struct pm_chunk, fd) == PM_CHUNK_MEM, "mem offset");

/* Marks a block sitting in a thread cache or a fast list (its 2nd word):
 * random for each process (init.c), so that a use-after-free write cannot
 * forge a cached block it has not read.  Blocks carrying it never reach a
 * checkpoint (quiesce drains the caches and merges the fast lists). */
extern uint64_t pm__free_key __attribute__((visibility("hidden")));
#define PM_FREE_KEY pm__free_key
#define PM_BLOCK_LINK_OFF 0 /* mem offset of a cached block's link */
#define PM_BLOCK_KEY_OFF 8  /* mem offset of its key */

/* ---- head words --------------------------------------------------------- */

static inline size_t pm__head_size(size_t head)
{
	return head & ~PM_CHUNK_FLAGS;
}
static inline int pm__head_inuse(size_t head)
{
	return (head & PM_CHUNK_CINUSE) != 0;
}
static inline int pm__head_pinuse(size_t head)
{
	return (head & PM_CHUNK_PINUSE) != 0;
}
/* In use and not PM_CHUNK_EARLY: a block the thread caches may take. */
static inline int pm__head_cacheable(size_t head)
{
	return (head & (PM_CHUNK_CINUSE | PM_CHUNK_EARLY)) == PM_CHUNK_CINUSE;
}

/* ---- chunks and blocks -------------------------------------------------- */

static inline struct pm_chunk *pm__chunk_at(uintptr_t a)
{
	return (struct pm_chunk *)a;
}
static inline struct pm_chunk *pm__chunk_of(const void *mem)
{
	return (struct pm_chunk *)((uintptr_t)mem - PM_CHUNK_MEM);
}
static inline void *pm__chunk_mem(const struct pm_chunk *c)
{
	return (void *)((uintptr_t)c + PM_CHUNK_MEM);
}
static inline size_t pm__chunk_size(const struct pm_chunk *c)
{
	return pm__head_size(c->head);
}
static inline struct pm_chunk *pm__chunk_next(const struct pm_chunk *c)
{
	return (struct pm_chunk *)((uintptr_t)c + pm__chunk_size(c));
}
/* Only while the predecessor is free (PINUSE clear). */
static inline struct pm_chunk *pm__chunk_prev(const struct pm_chunk *c)
{
	return (struct pm_chunk *)((uintptr_t)c - c->prev_foot);
}
/* The head word of the chunk of a block. */
static inline size_t pm__block_head(const void *mem)
{
	return pm__chunk_of(mem)->head;
}
/* A cached or deferred block's link (1st word) and key (2nd word). */
static inline void **pm__block_link(void *mem)
{
	return (void **)((char *)mem + PM_BLOCK_LINK_OFF);
}
static inline uint64_t *pm__block_key(void *mem)
{
	return (uint64_t *)((char *)mem + PM_BLOCK_KEY_OFF);
}
static inline uint64_t pm__block_key_get(const void *mem)
{
	return *(const uint64_t *)((const char *)mem + PM_BLOCK_KEY_OFF);
}

/* Request size -> chunk size (16-aligned, >= 32, 8 bytes overhead). */
static inline size_t pm__request2size(size_t n)
{
	return n + PM_CHUNK_OVERHEAD + 15 < PM_CHUNK_MIN
		       ? PM_CHUNK_MIN
		       : (n + PM_CHUNK_OVERHEAD + 15) & ~(size_t)15;
}
#define PM_MAX_REQUEST ((size_t)1 << 60)

/* ---- bin index ---------------------------------------------------------- */

/* Is x not chunk-aligned (a chunk's, or a block's, address; a size)? */
static inline int pm__misaligned(uintptr_t x)
{
	return (x & (PM_CHUNK_ALIGN - 1)) != 0;
}

/* Small bin of a chunk size below PM_SMALL_LIMIT (also the fast list's). */
static inline unsigned pm__small_index(size_t sz)
{
	return (unsigned)(sz >> 4);
}
/* The chunk size of small bin i. */
static inline size_t pm__small_size(unsigned i)
{
	return (size_t)i << 4;
}
/* Large bin (0..PM_NLARGE-1) of a size >= PM_SMALL_LIMIT. */
static inline unsigned pm__large_index(size_t sz)
{
	unsigned k = 63u - (unsigned)__builtin_clzl(sz); /* floor(log2) */
	unsigned i = (k - 10) * 4 + (unsigned)((sz >> (k - 2)) & 3);
	return i < PM_NLARGE ? i : PM_NLARGE - 1;
}
/* Bin 0..PM_NBINS-1 (small, then large) of any chunk size. */
static inline unsigned pm__bin_of(size_t sz)
{
	return sz < PM_SMALL_LIMIT ? pm__small_index(sz)
				   : PM_NSMALL + pm__large_index(sz);
}

/* The first chunk of an arena whose header ends at lo: right after it,
 * chunk-aligned (so mem is too). */
static inline uintptr_t pm__chunk_first(uintptr_t lo)
{
	return (lo + PM_CHUNK_ALIGN - 1) & ~(uintptr_t)(PM_CHUNK_ALIGN - 1);
}

/* ---- validators (no memory read) ---------------------------------------- */

/* c is chunk-aligned and in [first, end). */
static inline int pm__chunk_addr_ok(uintptr_t c, uintptr_t first,
				    uintptr_t end)
{
	return !pm__misaligned(c) && c - first < end - first;
}
/* A plausible size for a chunk at c below end: >= 32, 16-aligned, inside. */
static inline int pm__chunk_size_ok(uintptr_t c, size_t sz, uintptr_t end)
{
	return sz >= PM_CHUNK_MIN && !pm__misaligned(sz) && sz <= end - c;
}
#endif
