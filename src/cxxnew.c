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

typedef void *(*new_fn)(size_t);
typedef void *(*new_al_fn)(size_t, size_t);

static void *next(const char *name)
{
	void *f = dlsym(RTLD_NEXT, name);
	if (!f)
		pm__fatal("operator new: out of memory, and no C++ run-time "
			  "to report it",
			  NULL);
	return f;
}

static void *new_slow(const char *name, size_t n)
{
	static void *fns[2] PM_STATE;
	int i = name[3] == 'w' ? 0 : 1; /* _Znwm / _Znam */
	if (!fns[i])
		fns[i] = next(name);
	return ((new_fn)fns[i])(n);
}

static void *new_al_slow(const char *name, size_t n, size_t al)
{
	static void *fns[2] PM_STATE;
	int i = name[3] == 'w' ? 0 : 1;
	if (!fns[i])
		fns[i] = next(name);
	return ((new_al_fn)fns[i])(n, al);
}

PM_EXPORT void *_Znwm(size_t n)
{
	void *p = pm__malloc(n ? n : 1, pm__transient_caller(RA));
	return p ? p : new_slow("_Znwm", n);
}

PM_EXPORT void *_Znam(size_t n)
{
	void *p = pm__malloc(n ? n : 1, pm__transient_caller(RA));
	return p ? p : new_slow("_Znam", n);
}

/* nothrow: NULL on failure (after the new_handler, in libstdc++'s) */
PM_EXPORT void *_ZnwmRKSt9nothrow_t(size_t n, const void *tag)
{
	void *p = pm__malloc(n ? n : 1, pm__transient_caller(RA));
	if (p)
		return p;
	static void *(*f)(size_t, const void *) PM_STATE;
	if (!f)
		f = (void *(*)(size_t, const void *))next(
			"_ZnwmRKSt9nothrow_t");
	return f(n, tag);
}

PM_EXPORT void *_ZnamRKSt9nothrow_t(size_t n, const void *tag)
{
	void *p = pm__malloc(n ? n : 1, pm__transient_caller(RA));
	if (p)
		return p;
	static void *(*f)(size_t, const void *) PM_STATE;
	if (!f)
		f = (void *(*)(size_t, const void *))next(
			"_ZnamRKSt9nothrow_t");
	return f(n, tag);
}

/* over-aligned types (C++17) */
PM_EXPORT void *_ZnwmSt11align_val_t(size_t n, size_t al)
{
	void *p = pm__memalign(al, n ? n : 1, pm__transient_caller(RA));
	return p ? p : new_al_slow("_ZnwmSt11align_val_t", n, al);
}

PM_EXPORT void *_ZnamSt11align_val_t(size_t n, size_t al)
{
	void *p = pm__memalign(al, n ? n : 1, pm__transient_caller(RA));
	return p ? p : new_al_slow("_ZnamSt11align_val_t", n, al);
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
