/*
 * internal.h - declarations shared between pmalloc's source files.
 *
 * Every name here is pm__ (two underscores) and hidden: the only exported
 * symbols are the ones marked PM_EXPORT (interpose.c, api functions).
 *
 * Who owns what (layers in docs/DESIGN.md, "Layers"):
 *   start-up
 *     init.c      the region's set-up (PMALLOC_BASE/SIZE), pm__region,
 *                 pm__transient, the first call's lock, the switch to main()
 *     route.c     the phase and the arena routing: libc's and ld.so's code,
 *                 the libraries whose early blocks are persistent
 *     stats.c     the PMALLOC_STATS line at exit
 *   interposition
 *     interpose.c the only file defining libc's malloc names; the
 *                 __libc_start_main hook
 *     owned.c     libc functions handing the program memory (strdup, ...)
 *     cxxnew.c    C++ operator new/delete
 *   allocator
 *     alloc.c/.h  the malloc family's paths, arena locks, fork handlers
 *     chunk.h     the chunk layout, head flags, bin index (the only place)
 *     heap.h      the arenas (all state in the region): allocation paths
 *                 (heap.c), bins and top (heap_bins.c), free, fast lists,
 *                 trim (heap_free.c), chunk walks for checkpoints
 *                 (heap_walk.c)
 *     tcache.c/.h per-thread caches (inside the region), quiesce protocol
 *     check.c     the full invariant walk (live heap or an image);
 *                 check_region.c the region header read from a file
 *   persistence
 *     globals.h   the globals family: elfan.c (one ELF object's analysis),
 *                 spans.c (the executable's spans and keep words),
 *                 register.c (pm_register, third-party libraries),
 *                 objects.c (identity of the loaded objects)
 *     codemap.c   anonymous executable mappings (JIT code) across a restore
 *     tsd.c       pthread keys across a restore
 *     ckpt.h      ckpt_parse.c (the parser), ckpt_verify.c (open, pread,
 *                 checksums), ckpt_restore.c (checks against this
 *                 process, apply), ckpt_write.c (the writer), ckpt_api.c
 *                 (pm_checkpoint/pm_restore, the PMALLOC_RESTORE hook),
 *                 ckpt_mac.c and sha256.c (the key, the keyed MAC)
 *     format.h    the file, byte by byte
 *     image_ctx.c, image_restore.c  process images (docs/IMAGE.md): one
 *                 thread's CPU state, a stack put back (own headers)
 *     image_kstate*.c  process images' kernel state (image_kstate.h,
 *                 image_format.h, docs/IMAGE_KSTATE.md): descriptors,
 *                 signals, cwd, umask; the descriptors inherited at start
 *   base (below every layer; know nothing of the region)
 *     os.c        the only door to the kernel's memory calls (mmap,
 *                 mprotect, madvise), /proc reading, the environment, fatal
 *     os_sync.c   futex wait/wake, the process-wide barrier (os_sync.h)
 *     util.c      a tiny formatter (no stdio), the per-thread error message
 *     crc32c.c    checksums
 */
#ifndef PM_INTERNAL_H
#define PM_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>
#include <sys/types.h>
#include "../include/pmalloc.h"
#include "chunk.h" /* the chunk layout, bins */

#define PM_EXPORT __attribute__((visibility("default")))
#define PM_HIDDEN __attribute__((visibility("hidden")))
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define PM_NORETURN __attribute__((noreturn))

/* Assert levels: PM_DEBUG=0 release (only the always-on cheap checks on
 * untrusted pointers), 1 internal asserts, 2 expensive (full heap check at
 * points).  Set with -DPM_DEBUG=N. */
#ifndef PM_DEBUG
#define PM_DEBUG 0
#endif
#define PM_ASSERT(c)                                                           \
	do {                                                                   \
		if (PM_DEBUG >= 1 && !(c))                                     \
			pm__fatal("assertion failed: " #c, NULL);              \
	} while (0)

#ifndef EHEAP_START_ADDRESS
#define EHEAP_START_ADDRESS 0xe0000000UL
#endif
#define PM_DEFAULT_SIZE (4UL << 30)  /* reserved address space */
#define PM_MIN_SIZE (64UL << 20)     /* smallest reservation we accept */
#define PM_PAGE 4096UL

/* ---- os.c: the OS layer -------------------------------------------------
 * Contract: no function here allocates or uses stdio; all may be called
 * before libc is initialised (raw syscalls through libc wrappers only). */

/* Reserve [base, base+size) PROT_NONE|MAP_NORESERVE with
 * MAP_FIXED_NOREPLACE; under an address-space limit, halve the size down to
 * PM_MIN_SIZE.  On success returns 0 and *got is the size reserved.  On
 * failure writes one line to fd 2 (range, occupant, which variable to set)
 * and returns -errno. Never maps over existing memory. */
int pm__os_reserve(uintptr_t base, size_t size, size_t *got);
/* Make [p, p+n) readable and writable (page aligned). 0 or -errno. */
int pm__os_commit(void *p, size_t n);
/* Map [at, at+len) private anonymous with PROT prot (MAP_NORESERVE) at
 * exactly that address and only if it is free (MAP_FIXED_NOREPLACE, the
 * returned address checked: old kernels take the flag as a hint).  0, or
 * -EEXIST when something is there, or -errno. */
int pm__os_map_at(uintptr_t at, size_t len, int prot);
/* Fresh private anonymous read-write pages over [at, at+len), which the
 * caller already owns (MAP_FIXED).  0 or -errno. */
int pm__os_map_over(void *at, size_t len);
/* Map LEN bytes of FD from OFF private at exactly AT (over the caller's own
 * pages, MAP_FIXED), or anywhere when AT is NULL.  0 or -errno. */
int pm__os_map_file(void *at, size_t len, int prot, int fd, uint64_t off);
/* A private read-only-or-not view of FD from offset 0 anywhere; NULL on
 * failure.  Give it back with pm__os_unmap. */
void *pm__os_map_file_any(size_t len, int prot, int fd);
/* 64 random bits (getrandom; without it, a mix of the kernel's AT_RANDOM
 * bytes, the clock and addresses: never those bytes as they are). */
uint64_t pm__os_random64(void);
/* Move the pages of [from, from+len) (one mapping or part of one) to
 * [to, to+len), replacing what was there (mremap): no copy.  0 or -errno. */
int pm__os_move(void *from, size_t len, void *to);
/* Unmap [p, p+len); nothing for NULL or 0. */
void pm__os_unmap(void *p, size_t len);
/* mprotect: 0 or -errno. */
int pm__os_protect(void *p, size_t len, int prot);
/* Private anonymous read-write pages anywhere (scratch memory of a
 * process without a region: the CLI, the fuzzer); NULL on failure. */
void *pm__os_scratch(size_t n);
void pm__os_scratch_free(void *p, size_t n);
/* Give the pages of [p, p+n) back to the OS; afterwards they read as zero.
 * FILE_BACKED: some of them may be a private file mapping, which
 * MADV_DONTNEED would bring back: replace them instead. */
void pm__os_discard(void *p, size_t n, int file_backed);
/* pmalloc's own memory outside the region (checkpoint scratch, relocation
 * tables, the barrier page): private anonymous read-write pages placed
 * from the address given to pm__os_aux_after (the region's end) when that
 * is free, so that they never take an address where the checkpointed
 * process had a mapping of its own (JIT code, codemap.c) in a process
 * started the same way; anywhere before that is set.  NULL on failure. */
void *pm__os_aux(size_t n);
/* A file's pages mapped read-only among them (NULL: read instead); given
 * back with pm__os_aux_free. */
void *pm__os_aux_file(int fd, uint64_t off, size_t n);
/* The pages of a file mapping read in and mapped: 0 or -errno. */
int pm__os_populate_read(void *p, size_t n);
void pm__os_aux_free(void *p, size_t n);
void pm__os_aux_after(uintptr_t floor);
/* Scratch memory of the checkpoint code (no malloc inside the library):
 * pm__os_aux under another name, for the writer and the reader alike. */
void *pm__scratch(size_t n);
void pm__scratch_free(void *p, size_t n);
/* End of the pages pm__os_aux placed from the floor (the floor when there
 * are none; 0 before one is set). */
uintptr_t pm__os_aux_end(void);
/* A number from a /proc/sys file, dflt if it cannot be read. */
uint64_t pm__os_sysctl(const char *path, uint64_t dflt);
/* Number of threads in this process (/proc/self/status); -1 if unknown. */
int pm__thread_count(void);

/* ---- init.c: the region's pages ---------------------------------------- */
/* Give the pages of [p, p+n) of the region back; afterwards they read as
 * zero (true even where a checkpoint file was mapped over them). */
void pm__os_release(void *p, size_t n);
/* Set once a checkpoint file has been mapped into the region: release must
 * then replace mappings rather than madvise. */
extern int pm__os_region_has_files;
/* stats.c: write the PMALLOC_STATS line at exit (set by init.c). */
extern int pm__stats_at_exit;
/* route.c: find libc's, ld.so's and the early libraries' code (start-up,
 * once the region exists; reads /proc, may call malloc). */
void pm__route_startup(void);
/* alloc.c: pthread_atfork handlers (registered by init.c). */
void pm__fork_prepare(void);
void pm__fork_parent(void);
void pm__fork_child(void);
/* init.c: right before main(): phase 2, then PMALLOC_RESTORE. */
void pm__enter_main(void);

/* Look up NAME in the initial environment without getenv and without
 * allocating.  Returns a pointer into environ (or a static buffer), or NULL. */
const char *pm__env(const char *name);
/* Take NAME=... out of environ (ckpt_api.c; start-up hooks only). */
void pm__env_remove(const char *name);
/* ckpt_api.c: copy an environment value into buf (truncated to cap-1);
 * format one line (a newline added) into line and write it to fd 2. */
void pm__env_copy(const char *v, char *buf, size_t cap);
void pm__say_line(char *line, size_t cap, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* 1 in a program run with privileges its user lacks (AT_SECURE): pm__env
 * then returns NULL for every name, and restores trust fewer owners. */
int pm__secure(void);
/* 1 when the process runs with address-space randomisation off
 * (personality ADDR_NO_RANDOMIZE: pmalloc run, setarch -R), where images
 * can be taken and resumed; asked of the kernel once */
int pm__os_aslr_off(void);
/* write(2) one line "pmalloc: MSG [ADDR]\n" and abort(). */
PM_NORETURN void pm__fatal(const char *msg, const void *addr);
/* write(2) the whole buffer, retrying on EINTR/short writes. */
void pm__write_all(int fd, const char *s, size_t n);
/* Lines of /proc/self/maps without allocating: calls fn for each mapping;
 * stops when fn returns non-zero and returns that value. */
int pm__os_maps(int (*fn)(void *ctx, uintptr_t lo, uintptr_t hi,
			  const char *perms, const char *path),
		void *ctx);
/* The same for the loaded objects' segments only, from the loader's list
 * (no /proc read: that costs a one-malloc process about 16 us at
 * start-up): per object in the loader's order, its PT_LOAD segments in
 * address order, page-rounded, perms "r-xp"/"r--p"/"rw-p" from p_flags,
 * path the loader's name ("" for the executable).  Not the vdso.  -EAGAIN,
 * before any call of fn, when an object's name is not an absolute path
 * (a library found through a relative directory): the maps then name its
 * file where the loader's list does not. */
int pm__os_object_maps(int (*fn)(void *ctx, uintptr_t lo, uintptr_t hi,
				 const char *perms, const char *path),
		       void *ctx);

/* ---- util.c -------------------------------------------------------------
 * pm__fmt: a tiny snprintf without stdio or malloc.  Supports %s %c %d %i
 * %u %o %x %p %%, with l/z/ll length modifiers and an optional width/0 pad.
 * Always NUL-terminates; returns the length it would have written. */
size_t pm__fmt(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
size_t pm__vfmt(char *buf, size_t len, const char *fmt, va_list ap);
/* Record the calling thread's last error (see pm_errmsg) and return code. */
int pm__err(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Print one line to fd 2, prefixed "pmalloc: ". */
void pm__warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- The region ---------------------------------------------------------
 *
 *   base                                       base+size-tsize   base+size
 *   | region header | persistent arena ... -> |  transient arena ->  |
 *
 * The region header (struct pm_region, first page) holds the persistent
 * arena's whole state, the table of roots and the list of thread caches.
 * A byte copy of [base, pm__region->p.top_end) is a complete heap.  The
 * transient arena (blocks made before main() and by libc itself) has its
 * own header at its start, written at its first request, and is never
 * checkpointed. */

#define PM_REGION_MAGIC 0x31434f4c4c414d50ULL /* "PMALLOC1" */
/* The layout of struct pm_region, struct pm_arena, the chunks (chunk.h)
 * and struct pm_tcache (tcache.h); docs/FORMAT.md "The region header"
 * lists every offset, and tests/region_layout.sh compiles that list
 * against this header. */
#define PM_REGION_VERSION 5
#define PM_NROOTS 64
#define PM_ROOT_NAME 64
#define PM_NKEYS 64    /* pthread keys a checkpoint remembers */

/* One arena: dlmalloc-style boundary-tagged heap over [lo, hi). */
struct pm_arena {
	uintptr_t lo, hi;           /* the arena's address range */
	uintptr_t top;              /* the top chunk (always exists) */
	uintptr_t top_end;          /* end of the top chunk = end of the
				       committed (read-write) part */
	uintptr_t zero_from;        /* bytes from here to top_end were never
				       handed out: they read as zero */
	uint64_t smallmap, largemap; /* non-empty bin bitmaps */
	/* bin heads: circular doubly linked lists through fd/bk; a bin's head
	 * is a fake chunk whose fd/bk fields alias bins[2*i], bins[2*i+1] */
	uintptr_t bins[2 * (PM_NSMALL + PM_NLARGE) + 2];
	size_t live_bytes;          /* sum of in-use chunk sizes */
	size_t free_bytes;          /* sum of binned free chunk sizes */
	size_t released;            /* bytes given back to the OS */
	/* "fast" lists: small chunks freed but not yet coalesced (still
	 * marked in use, 2nd word PM_FREE_KEY), one LIFO list per size class
	 * linked through the 1st word of mem; merged into the bins by
	 * pm__arena_consolidate when memory is short or the heap quiesces */
	uintptr_t fast[PM_NSMALL];
	size_t fast_bytes;
	size_t trim_threshold;      /* top / free runs larger go back */
	uintptr_t trim_mark;        /* lowest address the last trim gave back */
	size_t peak;
};

/* Heap address of bin b's fake head chunk (fd, bk alias bins[2b],
 * bins[2b+1]) in the arena struct at heap address aa: heap.h's bin_at,
 * for code that reads an arena through a view (check.c). */
static inline uintptr_t pm__bin_head_at(uintptr_t aa, unsigned b)
{
	return aa + offsetof(struct pm_arena, bins) +
	       2 * sizeof(uintptr_t) * (uintptr_t)b -
	       offsetof(struct pm_chunk, fd);
}

struct pm_root {
	char name[PM_ROOT_NAME];
	uintptr_t ptr;
};

struct pm_region {
	uint64_t magic;
	uint32_t version;
	uint32_t header_size;
	uintptr_t base, size;       /* the reservation */
	uintptr_t tbase;            /* start of the transient arena */
	struct pm_arena p;          /* the persistent arena */
	uintptr_t tcaches;          /* list of thread caches (struct pm_tcache) */
	struct pm_root roots[PM_NROOTS];
	uint64_t checkpoints;       /* how many checkpoints this heap has seen */
	/* pthread keys in use when the checkpoint was taken, with the
	 * checkpointing thread's values (tsd.c) */
	uint32_t nkeys, pad_keys;
	struct pm_tsd_key {
		uint32_t key, has_value;
		uint64_t value;
	} keys[PM_NKEYS];
	/* Transfer stacks (tcache.c): for each small class, a stack of
	 * chains of cached blocks that a full cache handed over and an empty
	 * one takes, without the lock.  Each word: the first block of the
	 * top chain (low 48 bits), a counter against ABA (high 16).  0 in a
	 * file: a checkpoint drains them. */
	uint64_t xfer[PM_NSMALL];
};

extern struct pm_region *pm__region;   /* NULL until initialised */
/* The transient arena's state: NULL until its first request (init.c's
 * pm__transient_make), then published once, never moved.  Readers load
 * it with pm__transient_now() and skip a NULL one. */
extern struct pm_arena *pm__transient;
static inline struct pm_arena *pm__transient_now(void)
{
	return __atomic_load_n(&pm__transient, __ATOMIC_ACQUIRE);
}
/* The transient arena, made (its first 64 KiB committed, its header
 * written) if this is its first request; NULL if it cannot be made. */
struct pm_arena *pm__transient_make(void);
/* fork's child handler: the making's lock is free again */
void pm__transient_fork_child(void);

static inline int pm__in_region(uintptr_t a)
{
	return pm__region && a - pm__region->base < pm__region->size;
}
static inline int pm__in_persistent(uintptr_t a)
{
	return pm__region && a - pm__region->base <
				     pm__region->tbase - pm__region->base;
}

/* ---- heap.c: one arena --------------------------------------------------
 * All functions take the arena; the caller holds the arena's lock. */
void pm__arena_init(struct pm_arena *a, uintptr_t lo, uintptr_t hi);
void *pm__arena_alloc(struct pm_arena *a, size_t n);
void *pm__arena_memalign(struct pm_arena *a, size_t align, size_t n);
/* An in-use chunk of chunk size about `want` (a multiple of 16), or less
 * down to `min`: the free chunks first (best fit for want, want / 2, ...),
 * then top; the mem address, or NULL.  (A thread cache's reserve: the
 * fragments of a churning heap serve it without growing top.) */
void *pm__arena_alloc_range(struct pm_arena *a, size_t min, size_t want);
void pm__arena_free(struct pm_arena *a, void *p);
/* Coalesce every chunk of the fast lists into the bins. */
void pm__arena_consolidate(struct pm_arena *a);
/* Put a chain of n blocks of chunk size sz (linked through their first
 * word, 2nd word PM_FREE_KEY, last one's link anything) on the fast list. */
void pm__arena_fast_splice(struct pm_arena *a, size_t sz, void *first,
			   void *last, size_t n);
/* Take up to max blocks of chunk size sz off the fast list as a chain
 * (linked through the 1st word, 2nd word PM_FREE_KEY, last's link stale);
 * returns how many. */
size_t pm__arena_fast_take(struct pm_arena *a, size_t sz, size_t max,
			   void **first, void **last);
/* Give back every free page of the arena, pad bytes kept at the top
 * (malloc_trim). */
int pm__arena_trim_all(struct pm_arena *a, size_t pad);
/* Is p on a fast list?  (double-free check; slow) */
int pm__arena_fast_has(struct pm_arena *a, void *p);
/* Try to resize in place; returns 1 if the block now holds n bytes. */
int pm__arena_resize(struct pm_arena *a, void *p, size_t n);
/* Give free pages back to the OS, keeping `pad` bytes at top. */
int pm__arena_trim(struct pm_arena *a, size_t pad);
/* Fill `out` with up to `max` blocks of chunk size `csize` (a small size);
 * returns how many (used to refill a thread cache in one lock hold). */
int pm__arena_alloc_batch(struct pm_arena *a, size_t csize, void **out,
			  int max);
/* The same as a chain for a thread cache's refill: up to `max` in-use
 * blocks, every one of chunk size exactly `csize` but perhaps the first
 * (larger), linked through their first words (the last's NULL) and
 * carrying PM_FREE_KEY in their second; *first and *last; how many. */
int pm__arena_alloc_chain(struct pm_arena *a, size_t csize, int max,
			  void **first, void **last);
/* Validate a block handed to free/realloc; aborts naming `call` if it is
 * not a live block of the arena. */
void pm__check_block(struct pm_arena *a, const void *p, const char *call);
size_t pm__block_usable(const void *p);
size_t pm__block_chunksize(const void *p);

/* Iterate the chunks of an arena, in address order, from its first chunk to
 * top (inclusive): fn(ctx, chunk address, chunk size, in use?).  Stops and
 * returns fn's value when it is non-zero.  Caller holds the lock. */
int pm__arena_walk(struct pm_arena *a,
		   int (*fn)(void *ctx, uintptr_t c, size_t sz, int inuse),
		   void *ctx);
/* The arena's first chunk address. */
uintptr_t pm__arena_first(struct pm_arena *a);
/* Bytes of in-use chunks not marked PM_CHUNK_EARLY (heap_walk.c). */
size_t pm__arena_own_bytes(struct pm_arena *a);

/* ---- the heap as a whole (heap.c / tcache.c / init.c) -------------------
 * Locks live outside the region (they are per-process). */
void pm__lock_persistent(void);
void pm__unlock_persistent(void);
void pm__lock_transient(void);
void pm__unlock_transient(void);

/* Quiesce the whole heap for a consistent copy: takes both arena locks,
 * stops every thread cache's fast path and drains every cache into the
 * arena.  After it returns, no other thread changes the region until
 * pm__heap_resume().  Must not be called with a lock held. */
void pm__heap_quiesce(void);
void pm__heap_resume(void);

/* For restore.  pm__heap_restore_check: with the heap quiesced, is it safe
 * to overwrite the persistent arena?  0, or -EBUSY with pm_errmsg set
 * (the program holds live persistent blocks).  The calling thread's own
 * cache is emptied and released first. */
int pm__heap_restore_check(void);
/* After the region bytes [base, top_end) were replaced: re-commit pages,
 * drop the stale thread caches of the checkpointing process, reset this
 * thread's cache pointer.  Called with the heap quiesced. */
void pm__heap_after_restore(void);

/* Ranges of the persistent arena worth saving, in address order and
 * page-aligned: the used extent minus page-aligned interiors of free
 * chunks.  fn(ctx, lo, hi); stops on non-zero.  Heap quiesced. */
int pm__heap_spans(int (*fn)(void *ctx, uintptr_t lo, uintptr_t hi),
		   void *ctx);

/* ---- check.c, check_region.c: untrusted heaps --------------------------
 * A region header as read from a checkpoint file (a copy; no heap page is
 * touched): every address and size the allocator will follow from it --
 * layout (magic, version, base/size/tbase), the persistent arena's
 * lo/hi/top/top_end/zero_from/trim_mark, each bin's fd/bk (its own head or
 * a 16-aligned chunk below top) against the bitmaps, each fast-list head,
 * the byte totals (live + free + deferred == bytes below top), the thread
 * cache list, the roots (pointer 0 or inside the arena, name
 * NUL-terminated), the pthread key table.  0 or PM_ECORRUPT with
 * pm_errmsg naming the field and its value. */
int pm__region_check_copy(const struct pm_region *r);
/* The full invariant walk (the one pm_heap_check runs) over a heap image:
 * the bytes of [base, base+len) of the region are readable at view (base
 * is the region's base: the header is view[0...]); nothing outside
 * [view, view+len) is read.  Checks the header as above, then every chunk,
 * bin, fast list and thread cache of the persistent arena.  0 or
 * PM_ECORRUPT with the reason. */
int pm__heap_check_image(const unsigned char *view, uintptr_t base,
			 size_t len);
/* pm_heap_check's walk of the live heap (both arenas, every thread
 * cache) for a caller that holds both arena locks with the caches
 * stopped (pm__heap_quiesce; PM_DEBUG >= 2 runs it there). */
int pm__heap_check_quiesced(void);
/* Of the same image only the header and the list of thread caches (each
 * node an in-use block, each cached block a live chunk of its class):
 * what a restore follows from the header beyond its own fields, without
 * reading every page. */
int pm__heap_check_image_caches(const unsigned char *view, uintptr_t base,
				size_t len);

/* ---- init.c -------------------------------------------------------------- */
/* Make sure the region exists; returns 0 or PM_ENOHEAP.  Cheap when done. */
int pm__ensure_init(void);
/* Phase: 0 while libraries start (blocks transient, but for those of the
 * libraries whose globals are persisted); 1 while the executable's own
 * constructors run (blocks persistent); 2 from main() on.  Persistent
 * blocks of phases 0 and 1 are marked PM_CHUNK_EARLY: a restore may
 * overwrite them, since the globals that point at them come back from the
 * file. */
extern int pm__phase;
/* Phase 1: from the __libc_start_main hook, after every library's
 * constructors and before the executable's. */
void pm__begin_constructors(void);
/* Phase 2 (right before main(); also by the pm_ API if the hook never
 * ran, e.g. in a program started some other way). */
void pm__begin_persistent(void);
/* malloc's slow path was taken while pm__malloc_direct is 0 and
 * pm__route_waits is 1: counts, and at the count's threshold gives libc's
 * and ld.so's calls their own entry point (route.c), once: whether that
 * worked or not, pm__route_waits is 0 from then on.  Called with no lock
 * held. */
void pm__route_count(void);
extern int pm__route_waits;
/* PM_CHUNK_EARLY (chunk.h) marks a block made by the executable's
 * constructors. */
/* Does v point into a live block of the transient arena?  Caller holds
 * the transient lock (or the heap is quiesced). */
int pm__transient_live(uintptr_t v);
/* Address ranges of libc's and ld.so's code: blocks they allocate after
 * main() still go to the transient arena (FILE buffers, DIRs, ...). */
extern uintptr_t pm__libc_lo, pm__libc_hi, pm__ld_lo, pm__ld_hi;

/* ---- globals.c: what of the executable is persisted ----------------------
 * A "span" of globals is [lo, hi) in this process plus, per 8-byte word,
 * whether restore keeps this process's value ("keep" words: GOT slots,
 * copy-relocated objects, loader-written words the program left alone,
 * pointers into the transient arena, pmalloc's own state). */
struct pm_gspan {
	uintptr_t lo, hi;     /* 8-byte aligned (CODE: page-aligned) */
	uint32_t kind;        /* PM_GSPAN_DATA / _PERSISTENT / _REGISTERED /
			       * _CODE */
	uint32_t prot;        /* CODE: PROT_* of the mapping */
};
#define PM_GSPAN_DATA 1
#define PM_GSPAN_PERSISTENT 2
#define PM_GSPAN_REGISTERED 3
#define PM_GSPAN_CODE 4 /* codemap.c: an anonymous executable mapping */
#define PM_GSPAN_MAX 300
/* Shared objects whose memory can be registered (globals.c): libraries
 * past this many are not persisted, so init.c gives none of them early
 * blocks either. */
#define PM_MAX_LIBS 32
/* Is this path one of the C/C++ run-time's or an allocator's (libc,
 * ld.so, libstdc++, ...)?  Their globals are never persisted. */
int pm__runtime_lib(const char *path);

/* Record start-up values of every relocated word of the executable (called
 * once, from init, before the program's own code runs). */
void pm__globals_startup(void);
/* List the spans to persist now; returns the count. */
int pm__globals_spans(struct pm_gspan *out, int max);
/* For the span list above: is the word at `addr` (8-aligned) one whose
 * value restore must keep?  (evaluated at checkpoint time)  `transient`
 * says whether a value points into a live block of the transient arena
 * (the allocator's pm__transient_live; NULL: never), so that the globals
 * analysis needs nothing of the allocator. */
int pm__globals_keep_word(uintptr_t addr, int (*transient)(uintptr_t v));
/* The same for every word of [lo, hi) (8-aligned): bit i of bits[i / 8]
 * (least significant first) is word lo + 8 * i; bits must hold
 * ((hi - lo) / 8 + 7) / 8 bytes.  Returns the number of keep words. */
int pm__globals_keep_mask(uintptr_t lo, uintptr_t hi, uint8_t *bits,
			  int (*transient)(uintptr_t v));
/* Set in bits (same layout) the words of [lo, hi) that no checkpoint may
 * overwrite in this process, whatever the file says: the loader's (GOT,
 * copy relocations, TLS, .dynamic) and pmalloc's own state.  A restore
 * ORs these into the file's keep bitmap. */
void pm__globals_fixed_mask(uintptr_t lo, uintptr_t hi, uint8_t *bits);
/* Is this path libc's, the loader's or pmalloc's?  No registration may
 * name their memory and no restore may write it. */
int pm__private_lib(const char *path);
/* The process's private readable mappings, read once (register.c):
 * adjacent ones of the same writability merged, in address order. */
#define PM_MAPS_MAX 512 /* about 9 KiB: a stack frame's worth */
struct pm_maps {
	uintptr_t lo[PM_MAPS_MAX], hi[PM_MAPS_MAX];
	uint8_t w[PM_MAPS_MAX];
	int n, over; /* over: more than fit; covers then asks again */
};
void pm__maps_read(struct pm_maps *m);
/* Is [lo, hi) private readable (write: and writable) memory? */
int pm__maps_covers(const struct pm_maps *m, uintptr_t lo, uintptr_t hi,
		    int write);
/* pmalloc's own mutable globals (not const, not __thread): restore keeps
 * them when libpmalloc.a is linked into the executable's data segment. */
#define PM_STATE __attribute__((section("pm_state")))
/* Identity of the executable and the loaded objects, for the file. */
struct pm_object {
	uintptr_t load;       /* load address (l_addr / first PT_LOAD) */
	uint64_t size;        /* file size */
	uint64_t mtime;       /* file mtime (seconds) */
	uint8_t build_id[20]; /* GNU build-id, zero padded */
	uint32_t build_id_len;
	char path[256];
};
int pm__objects(struct pm_object *out, int max); /* [0] is the executable */
/* The same from the loader's public list, without its lock (a signal
 * handler); -EAGAIN while the loader changes the list. */
int pm__objects_nolock(struct pm_object *out, int max);
/* os.c: copy memory that may be unmapped meanwhile; 0 or -EFAULT. */
int pm__copy_checked(void *dst, const void *src, size_t n);

/* ---- tsd.c: pthread keys across a restore ----------------------------------
 * A library that keeps per-thread data under a pthread key (Tcl, ...)
 * stores the key number in its globals, which a restore brings back; the
 * fresh process must then have that key too. */
#define PM_TSD_WORDS 16 /* bitmap of PTHREAD_KEYS_MAX (1024) keys */
/* Which keys are allocated now (no allocation, no locks). */
void pm__tsd_probe(uint64_t bits[PM_TSD_WORDS]);
/* Record the allocated keys and this thread's values in the region
 * header (before a checkpoint). */
void pm__tsd_record(void);
/* After a restore: create the recorded keys this process lacks and give
 * this thread the recorded values that point into the persistent heap
 * (for keys allocated `before`, only where this thread's value is NULL or
 * in the persistent heap too, i.e. in memory the restore replaced). */
void pm__tsd_restore(const uint64_t before[PM_TSD_WORDS]);
/* Is k the key of pmalloc's thread caches (tcache.c)? */
int pm__tc_is_key(unsigned k);

/* ---- codemap.c: anonymous executable mappings (JIT code) -----------------
 * List them (readable, executable, private, anonymous, outside the
 * region) as PM_GSPAN_CODE spans: their count, or a negative code. */
int pm__code_spans(struct pm_gspan *out, int max);
/* (pm__code_reserve_sections and _unreserve_sections: ckpt.h) */
/* Map [lo, lo+len) anonymous over its reservation, copy src in, set prot;
 * aborts on failure (past the restore's point of no return). */
void pm__code_apply(uintptr_t lo, size_t len, unsigned prot, const void *src);

/* ---- crc32c.c ------------------------------------------------------------ */
uint32_t pm__crc32c(uint32_t crc, const void *buf, size_t len);
/* The table implementation alone (tests compare the two). */
uint32_t pm__crc32c_sw(uint32_t crc, const void *buf, size_t len);
/* The crc of A followed by B, from crc(A), crc(B) and B's length. */
uint32_t pm__crc32c_combine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b);

/* ---- ckpt ----------------------------------------------------------------
 * (the checkpoint files' own interface is in ckpt.h) */
/* Called by init.c right before main(): restores from $PMALLOC_RESTORE if
 * set and removes it from environ; on failure writes one line to fd 2 and
 * returns the code (the program continues with its fresh heap). */
int pm__restore_at_startup(void);
/* ---- end ckpt ---- */

#endif /* PM_INTERNAL_H */
