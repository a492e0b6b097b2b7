/*
 * vg.h - pmalloc's heap described to valgrind's memcheck: every block the
 * program gets is a MALLOCLIKE block of the size it asked for, every free
 * a FREELIKE one, so memcheck reports use-after-free, reads past a block
 * and leaks at addresses inside the region, with its own stacks.
 *
 * The rule (docs/DESIGN.md, "Under valgrind"):
 *   - Everything of the arenas that is not a live block (chunk heads,
 *     free chunks, cached blocks, thread caches, the slack past a
 *     request, never-used memory) is NOACCESS to memcheck.  The region's
 *     header and the transient arena's struct stay accessible: the named
 *     roots in the header are leak-check roots.
 *   - pmalloc's own code runs with memcheck's error reporting disabled
 *     (a per-thread counter in valgrind): the allocator's entry points,
 *     checkpoint and restore, the heap check, fork handlers and the
 *     thread-exit destructor.  Loads from NOACCESS memory give defined
 *     values in memcheck, so the allocator works unchanged.
 *   - The client requests that can report a misuse (FREELIKE: a bad or
 *     double free) are made with reporting on, before pmalloc's own check.
 *
 * Cost outside valgrind: malloc and free none on their fast paths (under
 * memcheck no thread has a cache, so both always take their slow paths,
 * pm__malloc_entry and pm__free_entry, which test the flag); the other
 * entry points call PM_API_*, which test one byte (pm__vg_on) and branch.
 * The flag is decided at the first call (on only under memcheck, and not
 * with PMALLOC_VALGRIND=0).  Under memcheck every request is 8 bytes
 * larger (vg.c, PAD).  Built with -DPM_VALGRIND=0, or without
 * <valgrind/memcheck.h>, all of it compiles to nothing.
 */
#ifndef PM_VG_H
#define PM_VG_H
#include "alloc.h"

#ifndef PM_VALGRIND
#if defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#define PM_VALGRIND 1
#endif
#endif
#endif
#ifndef PM_VALGRIND
#define PM_VALGRIND 0
#endif

#if PM_VALGRIND
/* 1 until the first call decides (vg.c), then 1 only under memcheck.  A
 * plain global, not PM_STATE: the test is then one compare with memory;
 * vg.c puts this process's value back after a restore (a static link's
 * data comes from the file). */
extern unsigned char pm__vg_on __attribute__((visibility("hidden")));
#define PM_VG_ON() unlikely(pm__vg_on)
/* under any valgrind tool (decided with pm__vg_on) */
extern int pm__vg_running __attribute__((visibility("hidden")));
#define PM_VG_RUNNING() unlikely(pm__vg_running)
#else
#define PM_VG_ON() 0
#define PM_VG_RUNNING() 0
#endif

/* The entry points' versions under memcheck (vg.c). */
void *pm__vg_malloc(size_t n, int transient);
void pm__vg_free(void *p);
void *pm__vg_calloc(size_t nmemb, size_t size, int transient);
void *pm__vg_realloc(void *p, size_t n, int transient);
void *pm__vg_memalign(size_t align, size_t n, int transient);
size_t pm__vg_usable_size(const void *p);
/* Error reporting off / on again for this thread (balanced pairs). */
void pm__vg_mute_slow(void);
void pm__vg_unmute_slow(void);
/* The region was set up: its arenas' committed chunk ranges become
 * NOACCESS (the rest is PROT_NONE, no access to memcheck already). */
void pm__vg_region(uintptr_t p_first, uintptr_t p_end, uintptr_t t_first,
		   uintptr_t t_end);
/* Pages of the region given back (they are no block's). */
void pm__vg_noaccess(void *p, size_t n);
/* Right before main(): a warning if memcheck replaced pmalloc's malloc
 * (the command line lacks --soname-synonyms=somalloc=nouserintercepts). */
void pm__vg_main(void);
/* A restore's point of no return (heap quiesced, muted): memcheck
 * forgets the persistent arena's blocks; after the restore, the restored
 * heap's live blocks are described (at their usable size, defined). */
void pm__vg_restore_begin(void);
void pm__vg_restore_end(void);

/* ---- what the exported names call --------------------------------------
 * Macros, so that the arena argument (the caller test of alloc.h, not
 * free of cost) is evaluated after the flag's test, inside each branch,
 * where the compiler folds it into the fast path as without them. */
/* malloc and free test no flag: under memcheck no thread has a cache
 * (pm__vg_caches_ok), so their fast paths fail and the slow path below
 * makes the test. */
void *pm__malloc_entry(size_t n, int transient);
void pm__free_entry(void *p);
/* May this process's threads have caches?  Not under memcheck: the fast
 * paths would bypass it.  Decides the flag. */
int pm__vg_caches_ok(void);
#define PM_API_MALLOC(n, transient)                                            \
	pm__malloc_via((n), (transient), pm__malloc_entry)
#define PM_API_FREE(p) pm__free_via((p), pm__free_entry)
#define PM_API_CALLOC(nmemb, size, transient)                                  \
	(PM_VG_ON() ? pm__vg_calloc((nmemb), (size), (transient))              \
		    : pm__calloc((nmemb), (size), (transient)))
#define PM_API_REALLOC(p, n, transient)                                        \
	(PM_VG_ON() ? pm__vg_realloc((p), (n), (transient))                    \
		    : pm__realloc((p), (n), (transient)))
#define PM_API_MEMALIGN(align, n, transient)                                   \
	(PM_VG_ON() ? pm__vg_memalign((align), (n), (transient))               \
		    : pm__memalign((align), (n), (transient)))
#define PM_API_USABLE_SIZE(p)                                                  \
	(PM_VG_ON() ? pm__vg_usable_size(p) : pm__usable_size(p))

/* Brackets around pmalloc's own work outside the malloc family (fork
 * handlers, the thread-exit destructor, checkpoint, restore, heap check,
 * malloc_trim).  The mute decides the flag if no call has yet, so a pair
 * always matches. */
static inline void pm__vg_mute(void)
{
	if (PM_VG_ON())
		pm__vg_mute_slow();
}

static inline void pm__vg_unmute(void)
{
	if (PM_VG_ON())
		pm__vg_unmute_slow();
}
#endif
