/*
 * cxxnew.c - C++'s operator new and delete, defined here so that the
 * arena routing (alloc.h) sees the code that asked for memory.  Through
 * libstdc++'s own operator new every request comes from libstdc++, a
 * run-time library: a C++ library's `new` in its constructors (before
 * main()) would go to the transient arena, and its restored globals would
 * point at nothing.
 *
 * Only the success path is ours.  Two cases go to the next definition
 * (libstdc++'s), found with dlsym(RTLD_NEXT):
 *   - the heap has no memory: libstdc++ runs the program's new_handler
 *     and throws std::bad_alloc as the standard asks (C cannot throw); it
 *     allocates through malloc, so the memory still comes from this heap;
 *   - the program replaced operator new or delete (a tracking allocator):
 *     the standard says every other form then goes through the program's,
 *     which libstdc++'s forms do and ours would not, so all of them are
 *     handed over.  Checked once, on first use.
 * The definitions are weak, so that a program linking libpmalloc.a with
 * its own operator new still links.
 *
 * Names are the Itanium C++ ABI's for x86-64 (size_t "m",
 * std::align_val_t "St11align_val_t", std::nothrow_t const&
 * "RKSt9nothrow_t").
 */
#ifndef PM_NO_INTERPOSE
#include "vg.h"
#include "libc_names.h"
#include <dlfcn.h>

#define RA ((uintptr_t)__builtin_return_address(0))
#define CXX PM_EXPORT __attribute__((weak))

typedef void *(*new_fn)(size_t);
typedef void *(*new_nt_fn)(size_t, const void *);
typedef void *(*new_al_fn)(size_t, size_t);
typedef void *(*new_al_nt_fn)(size_t, size_t, const void *);
typedef void (*del_fn)(void *);
typedef void (*del2_fn)(void *, size_t);
typedef void (*del_nt_fn)(void *, const void *);
typedef void (*del3_fn)(void *, size_t, size_t);

enum {
	S_NEW, S_NEW_A, S_NEW_NT, S_NEW_A_NT, S_NEW_AL, S_NEW_A_AL,
	S_NEW_AL_NT, S_NEW_A_AL_NT, S_DEL, S_DEL_A, S_DEL_S, S_DEL_A_S,
	S_DEL_NT, S_DEL_A_NT, S_DEL_AL, S_DEL_A_AL, S_DEL_S_AL, S_DEL_A_S_AL,
	S_COUNT
};
static void *slots[S_COUNT] PM_STATE;

/* The next definition of `name` (libstdc++'s), looked up once. */
static void *next(int slot, const char *name)
{
	void *f = __atomic_load_n(&slots[slot], __ATOMIC_ACQUIRE);
	if (!f) {
		f = dlsym(RTLD_NEXT, name);
		if (!f)
			pm__fatal("operator new/delete: no C++ run-time to "
				  "hand this call to",
				  NULL);
		__atomic_store_n(&slots[slot], f, __ATOMIC_RELEASE);
	}
	return f;
}

void *pm__own_new(size_t n) __attribute__((visibility("hidden")));
void pm__own_delete(void *p) __attribute__((visibility("hidden")));
void *pm__own_new_al(size_t n, size_t al) __attribute__((visibility("hidden")));
void pm__own_delete_al(void *p, size_t al)
	__attribute__((visibility("hidden")));

static int replaced PM_STATE; /* 0 not known yet, 1 no, 2 yes */

/* Does the program use an operator new or delete other than ours?  Asked
 * by every form (one load once known). */
static int program_replaced(void)
{
	int r = __atomic_load_n(&replaced, __ATOMIC_RELAXED);
	if (likely(r))
		return r == 2;
	void *n = dlsym(RTLD_DEFAULT, "_Znwm");
	void *d = dlsym(RTLD_DEFAULT, "_ZdlPv");
	void *na = dlsym(RTLD_DEFAULT, "_ZnwmSt11align_val_t");
	void *da = dlsym(RTLD_DEFAULT, "_ZdlPvSt11align_val_t");
	r = (n && n != (void *)pm__own_new) ||
			    (d && d != (void *)pm__own_delete) ||
			    (na && na != (void *)pm__own_new_al) ||
			    (da && da != (void *)pm__own_delete_al)
		    ? 2
		    : 1;
	__atomic_store_n(&replaced, r, __ATOMIC_RELAXED);
	return r == 2;
}

static inline void *get(size_t n, uintptr_t ra)
{
	return PM_API_MALLOC(n ? n : 1, pm__transient_caller(ra));
}

static inline void *get_al(size_t n, size_t al, uintptr_t ra)
{
	return PM_API_MEMALIGN(al, n ? n : 1, pm__transient_caller(ra));
}

/* ---- new ----------------------------------------------------------------- */

#define NEXT(slot, type, name) ((type)next(slot, name))

CXX void *_Znwm(size_t n)
{
	void *p = program_replaced() ? NULL : get(n, RA);
	return p ? p : NEXT(S_NEW, new_fn, "_Znwm")(n);
}

CXX void *_Znam(size_t n)
{
	void *p = program_replaced() ? NULL : get(n, RA);
	return p ? p : NEXT(S_NEW_A, new_fn, "_Znam")(n);
}

CXX void *_ZnwmRKSt9nothrow_t(size_t n, const void *t)
{
	void *p = program_replaced() ? NULL : get(n, RA);
	return p ? p : NEXT(S_NEW_NT, new_nt_fn, "_ZnwmRKSt9nothrow_t")(n, t);
}

CXX void *_ZnamRKSt9nothrow_t(size_t n, const void *t)
{
	void *p = program_replaced() ? NULL : get(n, RA);
	return p ? p
		 : NEXT(S_NEW_A_NT, new_nt_fn, "_ZnamRKSt9nothrow_t")(n, t);
}

CXX void *_ZnwmSt11align_val_t(size_t n, size_t al)
{
	void *p = program_replaced() ? NULL : get_al(n, al, RA);
	return p ? p
		 : NEXT(S_NEW_AL, new_al_fn, "_ZnwmSt11align_val_t")(n, al);
}

CXX void *_ZnamSt11align_val_t(size_t n, size_t al)
{
	void *p = program_replaced() ? NULL : get_al(n, al, RA);
	return p ? p
		 : NEXT(S_NEW_A_AL, new_al_fn, "_ZnamSt11align_val_t")(n, al);
}

CXX void *_ZnwmSt11align_val_tRKSt9nothrow_t(size_t n, size_t al,
					     const void *t)
{
	void *p = program_replaced() ? NULL : get_al(n, al, RA);
	return p ? p
		 : NEXT(S_NEW_AL_NT, new_al_nt_fn,
			"_ZnwmSt11align_val_tRKSt9nothrow_t")(n, al, t);
}

CXX void *_ZnamSt11align_val_tRKSt9nothrow_t(size_t n, size_t al,
					     const void *t)
{
	void *p = program_replaced() ? NULL : get_al(n, al, RA);
	return p ? p
		 : NEXT(S_NEW_A_AL_NT, new_al_nt_fn,
			"_ZnamSt11align_val_tRKSt9nothrow_t")(n, al, t);
}

/* ---- delete: the block knows its size and arena ---------------------------
 * DELETE(name, slot, type, (params), (args)): ours frees p; with the
 * program's own operator delete, libstdc++'s form passes it on. */
#define DELETE(name, slot, type, params, args)                                 \
	CXX void name params                                                   \
	{                                                                      \
		if (program_replaced())                                        \
			NEXT(slot, type, #name) args;                          \
		else                                                           \
			PM_API_FREE(p);                                       \
	}

DELETE(_ZdlPv, S_DEL, del_fn, (void *p), (p))
DELETE(_ZdaPv, S_DEL_A, del_fn, (void *p), (p))
DELETE(_ZdlPvm, S_DEL_S, del2_fn, (void *p, size_t n), (p, n))
DELETE(_ZdaPvm, S_DEL_A_S, del2_fn, (void *p, size_t n), (p, n))
DELETE(_ZdlPvRKSt9nothrow_t, S_DEL_NT, del_nt_fn, (void *p, const void *t),
       (p, t))
DELETE(_ZdaPvRKSt9nothrow_t, S_DEL_A_NT, del_nt_fn, (void *p, const void *t),
       (p, t))
DELETE(_ZdlPvSt11align_val_t, S_DEL_AL, del2_fn, (void *p, size_t al),
       (p, al))
DELETE(_ZdaPvSt11align_val_t, S_DEL_A_AL, del2_fn, (void *p, size_t al),
       (p, al))
DELETE(_ZdlPvmSt11align_val_t, S_DEL_S_AL, del3_fn,
       (void *p, size_t n, size_t al), (p, n, al))
DELETE(_ZdaPvmSt11align_val_t, S_DEL_A_S_AL, del3_fn,
       (void *p, size_t n, size_t al), (p, n, al))

/* Our own definitions, whatever the dynamic linker binds the names to. */
void *pm__own_new(size_t n) __attribute__((alias("_Znwm")));
void pm__own_delete(void *p) __attribute__((alias("_ZdlPv")));
void *pm__own_new_al(size_t n, size_t al)
	__attribute__((alias("_ZnwmSt11align_val_t")));
void pm__own_delete_al(void *p, size_t al)
	__attribute__((alias("_ZdlPvSt11align_val_t")));
#endif /* PM_NO_INTERPOSE */
