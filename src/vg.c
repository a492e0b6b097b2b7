/*
 * vg.c - the heap described to valgrind's memcheck (the rule: vg.h and
 * docs/DESIGN.md, "Under valgrind").
 *
 * Each entry point's version runs the allocator with error reporting off,
 * then tells memcheck what the program got: MALLOCLIKE for the requested
 * bytes (defined for calloc), NOACCESS for the rest of the chunk.  A free
 * is told first (FREELIKE, reporting on: memcheck names a double or
 * invalid free with its stacks), then done.  realloc always moves the
 * block, as memcheck's own realloc does, so that the bytes keep their
 * definedness exactly and a stale pointer to the old block is caught.
 *
 * Owns pm__vg_on and the decision behind it (PM_STATE: a restore keeps
 * this process's).
 * Without <valgrind/memcheck.h> (or with -DPM_VALGRIND=0) nothing here
 * is called; the functions forward to the allocator.
 */
#include "vg.h"
#include <stdlib.h>
#include <string.h>

#if PM_VALGRIND
#include <valgrind/memcheck.h>

unsigned char pm__vg_on = 1; /* the fast path's copy of vg_memcheck */
int pm__vg_running PM_STATE;
static int vg_decided PM_STATE, vg_memcheck PM_STATE;

/* On under memcheck only (GET_VBITS is memcheck's request: 1 there, the
 * default 0 under other tools, so callgrind counts the plain allocator),
 * and not with PMALLOC_VALGRIND=0 (memcheck then checks pmalloc's own
 * accesses, as tests/valgrind.sh does). */
static int decide(void)
{
	if (likely(vg_decided))
		return vg_memcheck;
	int on = 0;
	pm__vg_running = RUNNING_ON_VALGRIND != 0;
	if (pm__vg_running) {
		const char *s = pm__env("PMALLOC_VALGRIND");
		unsigned char x = 0, bits = 0;
		on = !(s && s[0] == '0' && !s[1]) &&
		     VALGRIND_GET_VBITS(&x, &bits, 1) == 1;
	}
	vg_memcheck = on;
	pm__vg_on = (unsigned char)on;
	vg_decided = 1;
	return on;
}

/* The entry points' versions whole: memcheck's stacks name them, not a
 * split-off part (gcc's partial inlining) */
#if defined(__GNUC__) && !defined(__clang__)
#define VG_ENTRY __attribute__((noclone))
#else
#define VG_ENTRY
#endif

#define MUTE() VALGRIND_DISABLE_ERROR_REPORTING
#define UNMUTE() VALGRIND_ENABLE_ERROR_REPORTING

/* The block's size as memcheck knows it: the offset of its first byte
 * that is not addressable (the chunk's usable bytes past the request are
 * NOACCESS).  Muted: the check itself would report. */
static size_t known_size(const void *p, size_t usable)
{
	if (!usable)
		return 0;
	uintptr_t bad = VALGRIND_CHECK_MEM_IS_ADDRESSABLE(p, usable);
	return bad ? bad - (uintptr_t)p : usable;
}

/* A new block of n bytes in a chunk of `usable` bytes: its head word
 * (before it) and its slack (after it) are no access, even where the
 * chunk was carved from pages committed since (memcheck makes what
 * mprotect opens accessible).  A macro: the allocation stack memcheck
 * records then starts in the entry point's frame, not in a helper's. */
#define DESCRIBE(p, n, usable, zeroed)                                         \
	do {                                                                   \
		if (p) {                                                       \
			VALGRIND_MALLOCLIKE_BLOCK((p), (n), 0, (zeroed));      \
			VALGRIND_MAKE_MEM_NOACCESS((char *)(p) -               \
							   PM_CHUNK_OVERHEAD,  \
						   PM_CHUNK_OVERHEAD);         \
			if ((usable) > (n))                                    \
				VALGRIND_MAKE_MEM_NOACCESS((char *)(p) + (n),  \
							   (usable) - (n));    \
		}                                                              \
	} while (0)

/* The exported malloc's and free's slow paths (vg.h). */
void *pm__malloc_entry(size_t n, int transient)
{
	if (PM_VG_ON())
		return pm__vg_malloc(n, transient);
	return pm__malloc_slow(n, transient);
}

void pm__free_entry(void *p)
{
	if (PM_VG_ON())
		pm__vg_free(p);
	else
		pm__free_more(p);
}

int pm__vg_caches_ok(void)
{
	return !decide();
}

/* A block's last 8 usable bytes are the next chunk's first word: the
 * arena's top, or a bin in the region's header (a leak-check root), would
 * point inside a block that fills its chunk, and memcheck's leak check
 * would call it "possibly lost" when the program loses it.  Under memcheck
 * (no thread caches: every block comes from the arena, often next to top)
 * every request asks for 8 bytes more. */
#define PAD(n) ((n) <= SIZE_MAX - 8 ? (n) + 8 : (n))

VG_ENTRY void *pm__vg_malloc(size_t n, int transient)
{
	if (!decide())
		return pm__malloc(n, transient);
	MUTE();
	void *p = pm__malloc(PAD(n), transient);
	size_t u = p ? pm__block_usable(p) : 0;
	UNMUTE();
	DESCRIBE(p, n, u, 0);
	return p;
}

VG_ENTRY void *pm__vg_calloc(size_t nmemb, size_t size, int transient)
{
	if (!decide())
		return pm__calloc(nmemb, size, transient);
	size_t n;
	if (__builtin_mul_overflow(nmemb, size, &n))
		return pm__calloc(nmemb, size, transient); /* ENOMEM */
	MUTE();
	void *p = pm__calloc(1, PAD(n), transient);
	size_t u = p ? pm__block_usable(p) : 0;
	UNMUTE();
	DESCRIBE(p, n, u, 1);
	return p;
}

VG_ENTRY void *pm__vg_memalign(size_t align, size_t n, int transient)
{
	if (!decide())
		return pm__memalign(align, n, transient);
	MUTE();
	void *p = pm__memalign(align, PAD(n), transient);
	size_t u = p ? pm__block_usable(p) : 0;
	UNMUTE();
	DESCRIBE(p, n, u, 0);
	return p;
}

VG_ENTRY void pm__vg_free(void *p)
{
	if (!decide()) {
		pm__free(p);
		return;
	}
	if (!p)
		return;
	/* reporting on: a block memcheck does not know as live (freed
	 * already, never allocated) is reported here, with the stack of
	 * the free and of the block's allocation and free; pmalloc's own
	 * check then aborts as it would without valgrind */
	VALGRIND_FREELIKE_BLOCK(p, 0);
	MUTE();
	pm__free(p);
	UNMUTE();
}

VG_ENTRY void *pm__vg_realloc(void *p, size_t n, int transient)
{
	if (!decide())
		return pm__realloc(p, n, transient);
	if (!p)
		return pm__vg_malloc(n, transient);
	if (n == 0) { /* as pm__realloc: frees, returns NULL */
		pm__vg_free(p);
		return NULL;
	}
	MUTE();
	size_t old = known_size(p, pm__usable_size(p));
	UNMUTE();
	/* the new block's arena is pm__realloc's: the old block's, except
	 * that a transient block the program itself resizes moves out */
	int t = transient && !pm__in_persistent((uintptr_t)p);
	void *q = pm__vg_malloc(n, t);
	if (!q)
		return NULL; /* errno set; p untouched */
	memcpy(q, p, old < n ? old : n); /* definedness goes with the bytes */
	pm__vg_free(p);
	return q;
}

/* The program may use every usable byte (malloc_usable_size(3)): the
 * block grows to them in memcheck's view. */
VG_ENTRY size_t pm__vg_usable_size(const void *p)
{
	if (!decide())
		return pm__usable_size(p);
	MUTE();
	size_t u = pm__usable_size(p);
	size_t old = known_size(p, u);
	if (old < u) /* a freed p: memcheck's complaint stays muted */
		VALGRIND_RESIZEINPLACE_BLOCK(p, old, u, 0);
	UNMUTE();
	return u;
}

void pm__vg_mute_slow(void)
{
	if (decide())
		MUTE();
}

void pm__vg_unmute_slow(void)
{
	UNMUTE();
}

void pm__vg_region(uintptr_t p_first, uintptr_t p_end, uintptr_t t_first,
		   uintptr_t t_end)
{
	if (!decide())
		return;
	VALGRIND_MAKE_MEM_NOACCESS((void *)p_first, p_end - p_first);
	VALGRIND_MAKE_MEM_NOACCESS((void *)t_first, t_end - t_first);
}

void pm__vg_noaccess(void *p, size_t n)
{
	if (decide())
		VALGRIND_MAKE_MEM_NOACCESS(p, n);
}

/* ---- before main() ------------------------------------------------------ */

void pm__vg_main(void)
{
#ifndef PM_NO_INTERPOSE
	if (!decide())
		return;
	/* through the exported name, as the program calls it: memcheck's
	 * malloc if it replaced ours.  Ours runs plain and muted (not a
	 * block of the program's: nothing in memcheck's records) */
	MUTE();
	pm__vg_on = 0;
	void *t = malloc(1);
	int replaced = t && !pm__in_region((uintptr_t)t);
	free(t);
	pm__vg_on = 1;
	UNMUTE();
	if (replaced)
		pm__warn("valgrind replaced pmalloc's malloc, so the heap is "
			 "not pmalloc's under valgrind: run valgrind with "
			 "--soname-synonyms=somalloc=nouserintercepts");
#endif
}

/* Walks of the persistent arena at a restore (quiesced: every in-use
 * chunk is a live block of the program; the thread caches are gone). */
static int forget_block(void *ctx, uintptr_t c, size_t sz, int inuse)
{
	(void)ctx, (void)sz;
	if (inuse > 0)
		VALGRIND_FREELIKE_BLOCK(pm__chunk_mem(pm__chunk_at(c)), 0);
	return 0;
}

static int describe_block(void *ctx, uintptr_t c, size_t sz, int inuse)
{
	(void)ctx;
	if (inuse > 0)
		VALGRIND_MALLOCLIKE_BLOCK(pm__chunk_mem(pm__chunk_at(c)),
					  sz - PM_CHUNK_OVERHEAD, 0, 1);
	return 0;
}

void pm__vg_restore_begin(void)
{
	if (!decide())
		return;
	MUTE();
	pm__arena_walk(&pm__region->p, forget_block, NULL);
	UNMUTE();
}

void pm__vg_restore_end(void)
{
	/* a static link's .data came from the file */
	pm__vg_on = (unsigned char)vg_memcheck;
	if (!decide())
		return;
	MUTE();
	struct pm_arena *a = &pm__region->p;
	uintptr_t first = pm__arena_first(a);
	VALGRIND_MAKE_MEM_NOACCESS((void *)first, pm__region->tbase - first);
	pm__arena_walk(a, describe_block, NULL);
	UNMUTE();
}

#else /* no valgrind: never called (PM_VG_ON() is 0) */

void *pm__malloc_entry(size_t n, int transient)
{
	return pm__malloc_slow(n, transient);
}
void pm__free_entry(void *p) { pm__free_more(p); }
int pm__vg_caches_ok(void) { return 1; }

void *pm__vg_malloc(size_t n, int transient)
{
	return pm__malloc(n, transient);
}
void pm__vg_free(void *p) { pm__free(p); }
void *pm__vg_calloc(size_t nmemb, size_t size, int transient)
{
	return pm__calloc(nmemb, size, transient);
}
void *pm__vg_realloc(void *p, size_t n, int transient)
{
	return pm__realloc(p, n, transient);
}
void *pm__vg_memalign(size_t align, size_t n, int transient)
{
	return pm__memalign(align, n, transient);
}
size_t pm__vg_usable_size(const void *p) { return pm__usable_size(p); }
void pm__vg_mute_slow(void) {}
void pm__vg_unmute_slow(void) {}
void pm__vg_region(uintptr_t p_first, uintptr_t p_end, uintptr_t t_first,
		   uintptr_t t_end)
{
	(void)p_first, (void)p_end, (void)t_first, (void)t_end;
}
void pm__vg_noaccess(void *p, size_t n) { (void)p, (void)n; }
void pm__vg_restore_begin(void) {}
void pm__vg_restore_end(void) {}
void pm__vg_main(void) {}
#endif
