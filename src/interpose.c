/*
 * interpose.c - the only file that defines libc's names: the whole malloc
 * family, glibc's __libc_* aliases and malloc(3) extras, the
 * __libc_start_main hook that marks the start of main().  (The libc
 * functions that hand the program memory of its own are in owned.c.)
 *
 * Every entry point takes its caller's return address: requests from libc
 * and ld.so themselves go to the transient arena (see alloc.h).  They call
 * the allocator through vg.h's PM_API_* (one test of a flag: under
 * memcheck, the blocks are described to it).
 *
 * Built without PM_NO_INTERPOSE only (the sanitizer build leaves libc's
 * names to ASan).
 */
#ifndef PM_NO_INTERPOSE
#include "vg.h"
#include "libc_names.h"
#include "image.h"
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <string.h>
#include <unistd.h>

#define RA ((uintptr_t)__builtin_return_address(0))
#define CALLER_TRANSIENT() pm__transient_caller(RA)

/* No caller test on malloc's fast path: libc's and ld.so's own calls come
 * through pm__malloc_runtime (route.c points their pointers to it), and
 * where that could not be done this thread's pm__tls.mtc is pm__tc_none,
 * so that every call takes the slow path, which routes by the caller.
 * Only small requests on the fast path; the medium ones' pop is a
 * function of its own (one test fewer here, and n stays where the slow
 * path's call wants it). */
static void *malloc_medium(size_t n, uintptr_t ra);

PM_EXPORT void *malloc(size_t n)
{
	if (likely(n < TC_SMALLREQ)) {
		void *b = pm__tc_pop_at(pm__tls.mtc, pm__tls.small_list[n]);
		if (likely(b != NULL))
			return b;
		return pm__malloc_caller(n, RA);
	}
	return malloc_medium(n, RA);
}

__attribute__((noinline)) static void *malloc_medium(size_t n, uintptr_t ra)
{
	if (n <= TC_MAXREQ) {
		void *b = pm__tc_pop(pm__tls.mtc, pm__tc_class_of_request(n));
		if (likely(b != NULL))
			return b;
	}
	return pm__malloc_caller(n, ra);
}

/* (Without pm__malloc_direct, the cache's pop happens here, after the
 * caller test, as it did on the fast path before.) */
__attribute__((noinline)) void *pm__malloc_caller(size_t n, uintptr_t ra)
{
	if (unlikely(!pm__malloc_direct)) {
		if (unlikely(pm__route_waits))
			pm__route_count();
	} else if (unlikely(pm__tls.mtc != pm__tls.tc))
		pm__tls.mtc = pm__tls.tc; /* a cache made before the route */
	return PM_API_MALLOC(n, pm__transient_caller(ra));
}

void *pm__malloc_runtime(size_t n) { return PM_API_MALLOC(n, 1); }
/* malloc's own address, not the one the loader bound (route.c); the
 * alias need not carry malloc's attributes */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-attributes"
#endif
void *pm__malloc_self(size_t n) __attribute__((alias("malloc")));
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
PM_EXPORT void free(void *p) { PM_API_FREE(p); }
PM_EXPORT void *calloc(size_t a, size_t b)
{
	return PM_API_CALLOC(a, b, CALLER_TRANSIENT());
}
PM_EXPORT void *realloc(void *p, size_t n)
{
	return PM_API_REALLOC(p, n, CALLER_TRANSIENT());
}
PM_EXPORT void *reallocarray(void *p, size_t a, size_t b)
{
	size_t n;
	if (__builtin_mul_overflow(a, b, &n)) {
		errno = ENOMEM;
		return NULL;
	}
	return PM_API_REALLOC(p, n, CALLER_TRANSIENT());
}
PM_EXPORT void *memalign(size_t al, size_t n)
{
	return PM_API_MEMALIGN(al, n, CALLER_TRANSIENT());
}
PM_EXPORT int posix_memalign(void **out, size_t al, size_t n)
{
	if (al < sizeof(void *) || (al & (al - 1)))
		return EINVAL;
	int e = errno;
	void *p = PM_API_MEMALIGN(al, n, CALLER_TRANSIENT());
	if (!p)
		return ENOMEM;
	errno = e;
	*out = p;
	return 0;
}
PM_EXPORT void *aligned_alloc(size_t al, size_t n)
{
	if (al & (al - 1) || !al) { /* glibc 2.36: power of two only */
		errno = EINVAL;
		return NULL;
	}
	return PM_API_MEMALIGN(al, n, CALLER_TRANSIENT());
}
PM_EXPORT void *valloc(size_t n)
{
	return PM_API_MEMALIGN(PM_PAGE, n, CALLER_TRANSIENT());
}
PM_EXPORT void *pvalloc(size_t n)
{
	size_t r = (n + PM_PAGE - 1) & ~(PM_PAGE - 1);
	if (r < n) {
		errno = ENOMEM;
		return NULL;
	}
	return PM_API_MEMALIGN(PM_PAGE, r ? r : PM_PAGE, CALLER_TRANSIENT());
}
PM_EXPORT size_t malloc_usable_size(void *p)
{
	return PM_API_USABLE_SIZE(p);
}

/* glibc's own names for the same functions (used by some programs and
 * by libraries that wrap malloc). */
PM_EXPORT void *__libc_malloc(size_t n)
{
	return PM_API_MALLOC(n, CALLER_TRANSIENT());
}
PM_EXPORT void __libc_free(void *p) { PM_API_FREE(p); }
PM_EXPORT void *__libc_calloc(size_t a, size_t b)
{
	return PM_API_CALLOC(a, b, CALLER_TRANSIENT());
}
PM_EXPORT void *__libc_realloc(void *p, size_t n)
{
	return PM_API_REALLOC(p, n, CALLER_TRANSIENT());
}
PM_EXPORT void *__libc_memalign(size_t al, size_t n)
{
	return PM_API_MEMALIGN(al, n, CALLER_TRANSIENT());
}
PM_EXPORT void *__libc_valloc(size_t n)
{
	return PM_API_MEMALIGN(PM_PAGE, n, CALLER_TRANSIENT());
}
PM_EXPORT void *__libc_pvalloc(size_t n) { return pvalloc(n); }

/* ---- malloc(3) extras --------------------------------------------------- */

PM_EXPORT int malloc_trim(size_t pad)
{
	if (pm__ensure_init())
		return 0;
	pm__vg_mute();
	pm__heap_quiesce(); /* also gives cached blocks back */
	int did = pm__arena_trim_all(&pm__region->p, pad);
	struct pm_arena *t = pm__transient_now();
	if (t)
		did |= pm__arena_trim_all(t, pad);
	pm__heap_resume();
	pm__vg_unmute();
	return did;
}

PM_EXPORT int mallopt(int param, int value)
{
	if (pm__ensure_init())
		return 0;
	switch (param) {
	case M_TRIM_THRESHOLD:
		if (value < 0)
			return 0;
		pm__lock_persistent();
		pm__region->p.trim_threshold = (size_t)value;
		pm__unlock_persistent();
		struct pm_arena *t = pm__transient_make();
		if (t) {
			pm__lock_transient();
			t->trim_threshold = (size_t)value;
			pm__unlock_transient();
		}
		return 1;
	case M_MXFAST: case M_TOP_PAD: case M_MMAP_THRESHOLD:
	case M_MMAP_MAX: case M_CHECK_ACTION: case M_PERTURB:
	case M_ARENA_TEST: case M_ARENA_MAX:
		return 1; /* accepted; our design has no such knob */
	}
	return 0;
}

static void fill_info2(struct mallinfo2 *mi)
{
	memset(mi, 0, sizeof *mi);
	if (pm__ensure_init())
		return;
	pm__lock_persistent();
	pm__lock_transient();
	struct pm_arena *as[2] = { &pm__region->p, pm__transient_now() };
	for (int i = 0; i < 2 && as[i]; i++) {
		struct pm_arena *a = as[i];
		size_t topsz = a->top_end - a->top;
		mi->arena += a->top_end - pm__arena_first(a);
		mi->uordblks += a->live_bytes;
		mi->fordblks += a->free_bytes + topsz;
		mi->keepcost += topsz;
		mi->usmblks = 0;
	}
	mi->ordblks = 0;
	mi->hblks = 0;
	mi->hblkhd = 0;
	pm__unlock_transient();
	pm__unlock_persistent();
}

PM_EXPORT struct mallinfo2 mallinfo2(void)
{
	struct mallinfo2 mi;
	fill_info2(&mi);
	return mi;
}

PM_EXPORT struct mallinfo mallinfo(void)
{
	struct mallinfo2 m2;
	fill_info2(&m2);
	struct mallinfo m;
	m.arena = (int)m2.arena;
	m.ordblks = (int)m2.ordblks;
	m.smblks = (int)m2.smblks;
	m.hblks = (int)m2.hblks;
	m.hblkhd = (int)m2.hblkhd;
	m.usmblks = (int)m2.usmblks;
	m.fsmblks = (int)m2.fsmblks;
	m.uordblks = (int)m2.uordblks;
	m.fordblks = (int)m2.fordblks;
	m.keepcost = (int)m2.keepcost;
	return m;
}

PM_EXPORT void malloc_stats(void)
{
	struct mallinfo2 mi;
	fill_info2(&mi);
	if (!pm__region)
		return;
	pm__warn("heap at %p, %zu MiB reserved", (void *)pm__region->base,
		 pm__region->size >> 20);
	pm__warn("system bytes     = %10zu", mi.arena);
	pm__warn("in use bytes     = %10zu", mi.uordblks);
	pm__warn("persistent live  = %10zu", pm__region->p.live_bytes);
	struct pm_arena *t = pm__transient_now();
	pm__warn("transient live   = %10zu", t ? t->live_bytes : 0);
}

/* ---- the start of main() -------------------------------------------------
 * _start calls __libc_start_main through the dynamic symbol table, so our
 * definition runs first; it hands glibc a trampoline in place of main. */



static void *next_fn(const char *name)
{
	return dlsym(RTLD_NEXT, name);
}
static pm_main_fn real_main PM_STATE;

static int main_trampoline(int argc, char **argv, char **envp)
{
	pm__enter_main();
	return real_main(argc, argv, envp);
}

PM_EXPORT int __libc_start_main(pm_main_fn main, int argc, char **argv,
				void (*init)(void), void (*fini)(void),
				void (*rtld_fini)(void), void *stack_end)
{
	typedef int (*start_fn)(pm_main_fn, int, char **, void (*)(void),
				void (*)(void), void (*)(void), void *);
	start_fn real = (start_fn)next_fn("__libc_start_main");
	if (!real)
		pm__fatal("cannot find __libc_start_main", NULL);
	real_main = main;
	pm__note_cmdline(argc, argv); /* what an image records */
	/* PMALLOC_RESUME: replaced by the image and never back here, or
	 * refused (said on fd 2) and the program runs normally */
	pm__resume_at_startup();
	pm__image_trigger_startup(); /* PMALLOC_IMAGE_ON */
	/* every library's constructors have run; the executable's run
	 * inside real(): their blocks are the program's (persistent) */
	pm__begin_constructors();
	return real(main_trampoline, argc, argv, init, fini, rtld_fini,
		    stack_end);
}
#endif /* PM_NO_INTERPOSE */
