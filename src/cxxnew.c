/*
 * cxxnew.c - C++'s operator new and delete, defined here so that the
 * arena routing (alloc.h) sees the code that asked for memory.  Through
 * libstdc++'s own operator new every request comes from libstdc++, a
 * run-time library: a C++ library's `new` in its constructors (before
 * main()) would go to the transient arena, and its restored globals would
 * point at nothing.
 *
 * Only the success path is ours.  When the heap has no memory, the request
 * is handed to the next definition (libstdc++'s), which runs the program's
 * new_handler and throws std::bad_alloc as the standard asks; it allocates
 * through malloc, so the memory still comes from this heap.  C code cannot
 * throw, so that is the only correct way out.
 *
 * Names are the Itanium C++ ABI's for x86-64 (size_t = unsigned long "m",
 * std::align_val_t "St11align_val_t", std::nothrow_t const&
 * "RKSt9nothrow_t").
 */
#ifndef PM_NO_INTERPOSE
#include "alloc.h"
#include <dlfcn.h>

#define RA ((uintptr_t)__builtin_return_address(0))

/* The next definition of `name` (libstdc++'s), looked up once into
 * *slot: only failures get there. */
static void *next(void **slot, const char *name)
{
	if (!*slot)
		*slot = dlsym(RTLD_NEXT, name);
	if (!*slot)
		pm__fatal("operator new: out of memory, and no C++ run-time "
			  "to report it",
			  NULL);
	return *slot;
}

enum { NEW, NEW_ARRAY, NEW_NOTHROW, NEW_ARRAY_NOTHROW, NEW_AL, NEW_ARRAY_AL };
static void *slots[6] PM_STATE;

static inline void *get(size_t n, uintptr_t ra)
{
	return pm__malloc(n ? n : 1, pm__transient_caller(ra));
}

static inline void *get_al(size_t n, size_t al, uintptr_t ra)
{
	return pm__memalign(al, n ? n : 1, pm__transient_caller(ra));
}

typedef void *(*new_fn)(size_t);
typedef void *(*new_nt_fn)(size_t, const void *);
typedef void *(*new_al_fn)(size_t, size_t);

PM_EXPORT void *_Znwm(size_t n)
{
	void *p = get(n, RA);
	return p ? p : ((new_fn)next(&slots[NEW], "_Znwm"))(n);
}

PM_EXPORT void *_Znam(size_t n)
{
	void *p = get(n, RA);
	return p ? p : ((new_fn)next(&slots[NEW_ARRAY], "_Znam"))(n);
}

/* nothrow: NULL on failure (after the new_handler, in libstdc++'s) */
PM_EXPORT void *_ZnwmRKSt9nothrow_t(size_t n, const void *tag)
{
	void *p = get(n, RA);
	return p ? p
		 : ((new_nt_fn)next(&slots[NEW_NOTHROW],
				    "_ZnwmRKSt9nothrow_t"))(n, tag);
}

PM_EXPORT void *_ZnamRKSt9nothrow_t(size_t n, const void *tag)
{
	void *p = get(n, RA);
	return p ? p
		 : ((new_nt_fn)next(&slots[NEW_ARRAY_NOTHROW],
				    "_ZnamRKSt9nothrow_t"))(n, tag);
}

/* over-aligned types (C++17) */
PM_EXPORT void *_ZnwmSt11align_val_t(size_t n, size_t al)
{
	void *p = get_al(n, al, RA);
	return p ? p
		 : ((new_al_fn)next(&slots[NEW_AL],
				    "_ZnwmSt11align_val_t"))(n, al);
}

PM_EXPORT void *_ZnamSt11align_val_t(size_t n, size_t al)
{
	void *p = get_al(n, al, RA);
	return p ? p
		 : ((new_al_fn)next(&slots[NEW_ARRAY_AL],
				    "_ZnamSt11align_val_t"))(n, al);
}

/* every delete: the block knows its size and arena */
PM_EXPORT void _ZdlPv(void *p) { pm__free(p); }
PM_EXPORT void _ZdaPv(void *p) { pm__free(p); }
PM_EXPORT void _ZdlPvm(void *p, size_t n)
{
	(void)n;
	pm__free(p);
}
PM_EXPORT void _ZdaPvm(void *p, size_t n)
{
	(void)n;
	pm__free(p);
}
PM_EXPORT void _ZdlPvRKSt9nothrow_t(void *p, const void *t)
{
	(void)t;
	pm__free(p);
}
PM_EXPORT void _ZdaPvRKSt9nothrow_t(void *p, const void *t)
{
	(void)t;
	pm__free(p);
}
PM_EXPORT void _ZdlPvSt11align_val_t(void *p, size_t al)
{
	(void)al;
	pm__free(p);
}
PM_EXPORT void _ZdaPvSt11align_val_t(void *p, size_t al)
{
	(void)al;
	pm__free(p);
}
PM_EXPORT void _ZdlPvmSt11align_val_t(void *p, size_t n, size_t al)
{
	(void)n, (void)al;
	pm__free(p);
}
PM_EXPORT void _ZdaPvmSt11align_val_t(void *p, size_t n, size_t al)
{
	(void)n, (void)al;
	pm__free(p);
}
#endif /* PM_NO_INTERPOSE */
