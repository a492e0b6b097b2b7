/*
 * heap.h - what the arena's files (heap.c, heap_bins.c, heap_free.c,
 * heap_walk.c) share and nobody else sees: bin heads, the always-on checks
 * of the links the allocator follows, and the functions one of them
 * defines for the others.  The chunk layout itself is chunk.h.
 *
 * An arena (dlmalloc's design, written here from the algorithm):
 * boundary-tagged chunks, exact small bins, sorted large bins, a top
 * chunk, best fit, immediate coalescing, and per-size "fast" lists of
 * deferred small frees.  Every byte of an arena's state is inside the
 * arena's own memory (struct pm_arena lives in the region) and every link
 * is an absolute address: the region never moves, so a byte copy of it is
 * a working heap.
 *
 * Invariants (check.c walks them all; PM_DEBUG >= 1 asserts the local
 * ones as the code goes):
 *   - chunks tile [first, top_end) exactly; the last one is top;
 *   - no two adjacent free chunks (coalescing is immediate); top is free;
 *   - a free non-top chunk is in exactly the bin its size maps to, and its
 *     successor has PINUSE clear and prev_foot == its size;
 *   - small bins hold one size each; large bins are sorted by size, and
 *     the first chunk of each size in a large bin (its "leader") is on a
 *     circular list of the bin's leaders, in size order, through
 *     fd_size/bk_size (NULL in the others): insert and best-fit search
 *     step over sizes, not chunks;
 *   - bitmap bit i set <=> bin i non-empty;
 *   - a fast-list block is an in-use chunk of its list's size whose 2nd
 *     word is PM_FREE_KEY;
 *   - live_bytes + free_bytes + fast_bytes == top - first.
 * Always on (release builds too), as musl's mallocng does: every link and
 * size is checked before it is followed.  A bad one is a write after
 * free, an overrun or a bad file: one line, abort.
 * The caller holds the arena's lock for every function here.
 */
#ifndef PM_HEAP_H
#define PM_HEAP_H
#include "internal.h"

/* The chunk sz bytes past c. */
static inline struct pm_chunk *chunk_plus(const struct pm_chunk *c, size_t sz)
{
	return pm__chunk_at((uintptr_t)c + sz);
}

static inline void set_foot(struct pm_chunk *c, size_t sz)
{
	chunk_plus(c, sz)->prev_foot = sz;
}

/* Large blocks' grid (heap.c, grid_size): a request of PM_GRID_MIN bytes
 * or more gets a chunk ending on a multiple of PM_GRID (of PM_GRID / 2
 * below 2 * PM_GRID_MIN) when it fits. */
#define PM_GRID_MIN ((size_t)64 << 10)
#define PM_GRID ((size_t)64 << 10)

/* Bin b (0..PM_NBINS-1: small then large) head: a fake chunk whose fd/bk
 * alias bins[2b], bins[2b+1]. */
static inline struct pm_chunk *bin_at(struct pm_arena *a, unsigned b)
{
	return pm__chunk_at(pm__bin_head_at((uintptr_t)a, b));
}

/* The next block (mem address) of a fast list. */
static inline uintptr_t fast_next(uintptr_t b)
{
	return (uintptr_t)*pm__block_link((void *)b);
}

/* ---- always-on checks of the links the allocator follows --------------
 * A use-after-free write, a buffer overrun or a bad checkpoint file can put
 * any value in a link or a size; each is checked before it is followed,
 * and a bad one aborts with one line (like other misuse) instead of
 * handing out or writing to memory outside the arena. */

/* c is 16-aligned and in [first chunk, top). */
static inline int chunk_ok(const struct pm_arena *a, uintptr_t c)
{
	return pm__chunk_addr_ok(c, pm__arena_first((struct pm_arena *)a),
				 a->top);
}

/* A bin link: a chunk, or one of the bins' fake heads. */
static inline int link_ok(struct pm_arena *a, uintptr_t x)
{
	uintptr_t h0 = (uintptr_t)bin_at(a, 0);
	return chunk_ok(a, x) || (!((x - h0) & (2 * sizeof(uintptr_t) - 1)) &&
				  x - h0 < 2 * sizeof(uintptr_t) * PM_NBINS);
}

/* A block (mem address) from a fast list: an in-use chunk of class sz
 * that still carries the key its free wrote.  Anything else means the
 * block was written to after it was freed. */
static inline void fast_block_check_in(uintptr_t first, uintptr_t top,
				       uintptr_t b, size_t sz,
				       const char *what)
{
	if (unlikely(!pm__chunk_addr_ok(b - PM_CHUNK_MEM, first, top)))
		pm__fatal(what, (void *)b);
	/* in use and of size sz, whatever its other flags: one comparison */
	size_t h = pm__block_head((void *)b);
	if (unlikely(pm__block_key_get((void *)b) != PM_FREE_KEY ||
		     ((h ^ (sz | PM_CHUNK_CINUSE)) &
		      ~(PM_CHUNK_FLAGS & ~PM_CHUNK_CINUSE)) != 0))
		pm__fatal("malloc(): freed block modified (use after free)",
			  (void *)b);
}
static inline void fast_block_check(struct pm_arena *a, uintptr_t b, size_t sz,
				    const char *what)
{
	fast_block_check_in(pm__chunk_first(a->lo), a->top, b, sz, what);
}

/* The run word of a fast list's head (its block's 3rd word, mem + 16: in
 * a 32-byte chunk the next chunk's prev_foot, unused while the block is
 * in use): how many blocks from it on form a run whose last block is
 * `tail`, so that a refill takes the run whole without walking it.  Every
 * head has a valid one: whoever pushes a block writes it (a run of one,
 * or an overflow's chain), and whoever takes blocks off the front writes
 * the next head's when it is inside the run taken from; blocks below the
 * head are never written (the list is a stack).  0 blocks: unknown.  A
 * write after free into it names a tail that fails fast_block_check
 * (abort), as a key overwrite does.  (Not scrambled with the key: blocks
 * handed out keep their last run word, and would show the key.) */
#define PM_RUN_PTR (((uint64_t)1 << 48) - 1)
static inline void fast_run_set(uintptr_t b, size_t n, uintptr_t tail)
{
	*(uint64_t *)(b + 16) = (uint64_t)tail | (uint64_t)n << 48;
}
/* The run from head b: its length (0: unknown) and *tail, checked as a
 * block of the list (else abort). */
static inline size_t fast_run_get(uintptr_t first, uintptr_t top, uintptr_t b,
				  size_t sz, uintptr_t *tail)
{
	uint64_t w = *(uint64_t *)(b + 16);
	size_t n = (size_t)(w >> 48);
	if (n == 0)
		return 0;
	*tail = (uintptr_t)(w & PM_RUN_PTR);
	if ((n == 1) != (*tail == b))
		pm__fatal("malloc(): corrupted fast list (run)", (void *)b);
	fast_block_check_in(first, top, *tail, sz,
			    "malloc(): corrupted fast list (run)");
	return n;
}

/* ---- heap_bins.c -------------------------------------------------------- */

/* A chunk about to leave a bin: free, of the bin's size, its successor
 * inside the arena and marking it free (prev_foot, PINUSE clear). */
void pm__bin_chunk_check(struct pm_arena *a, struct pm_chunk *c, size_t sz);
/* Put free chunk c of size sz into its bin / take it out (c's links are
 * checked first). */
void pm__bin_insert(struct pm_arena *a, struct pm_chunk *c, size_t sz);
void pm__bin_remove(struct pm_arena *a, struct pm_chunk *c, size_t sz);
/* Binned free chunk old (size oldsz) gives its front away: c, inside it
 * and ending where it ends, is the free rest (size sz, its head and foot
 * the caller's to write).  When c can take old's place in its bin (the
 * same large bin, old leading its size alone, the next smaller size below
 * sz) it does, with no walk of the bin: 1.  Else old is removed: 0, and
 * the caller bins c.  (realloc growing into its free successor.) */
int pm__bin_shrink_front(struct pm_arena *a, struct pm_chunk *old,
			 size_t oldsz, struct pm_chunk *c, size_t sz);
/* Make top at least `need` bytes by committing more of the arena: 0, or
 * -ENOMEM when the arena's range is used up. */
int pm__grow_top(struct pm_arena *a, size_t need);

/* ---- heap_free.c -------------------------------------------------------- */

/* Free chunk c for real: coalesce, bin, maybe release pages.  The caller
 * has already taken its bytes off live_bytes or fast_bytes. */
void pm__free_chunk(struct pm_arena *a, struct pm_chunk *c);

/* ---- assertions (PM_DEBUG >= 1) ----------------------------------------- */

/* c is a free chunk of size sz, correctly bordered: PINUSE set (its
 * predecessor is in use: coalescing is immediate), footer == sz, the
 * successor's PINUSE clear and the successor in use or top. */
#define PM_ASSERT_FREE_CHUNK(a, c, sz)                                         \
	do {                                                                   \
		PM_ASSERT(!pm__head_inuse((c)->head) &&                        \
			  pm__head_pinuse((c)->head) &&                        \
			  pm__chunk_size(c) == (sz));                          \
		PM_ASSERT(chunk_plus((c), (sz))->prev_foot == (sz) &&          \
			  !pm__head_pinuse(chunk_plus((c), (sz))->head));      \
		PM_ASSERT((uintptr_t)chunk_plus((c), (sz)) == (a)->top ||      \
			  pm__head_inuse(chunk_plus((c), (sz))->head));        \
	} while (0)
/* Bin b's bitmap bit is set exactly when the bin is non-empty. */
static inline int bin_bit_ok(struct pm_arena *a, unsigned b)
{
	uint64_t map = b < PM_NSMALL ? a->smallmap : a->largemap;
	unsigned bit = b < PM_NSMALL ? b : b - PM_NSMALL;
	return ((map >> bit) & 1) == (bin_at(a, b)->fd != bin_at(a, b));
}
/* The books add up. */
#define PM_ASSERT_BOOKS(a)                                                     \
	PM_ASSERT((a)->live_bytes + (a)->free_bytes + (a)->fast_bytes ==       \
		  (a)->top - pm__arena_first(a))
#endif
