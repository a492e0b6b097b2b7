/*
 * route.c - which arena a request goes to: the phase (before the
 * executable's constructors, during them, from main() on), the code ranges
 * of libc and ld.so, and the libraries whose blocks made before main() are
 * persistent ("early" blocks).
 *
 * Owns: pm__phase, pm__transient_code (read by alloc.h's inline routing),
 * pm__libc_lo/hi, pm__ld_lo/hi, the early-code table.
 * Invariants: the ranges are filled once, by pm__route_startup right after
 * the region is published, before early_ready is set; pm__phase only grows
 * (0 -> 1 -> 2).  Until early_ready, every request of phase 0 is
 * transient (it is start-up itself).
 */
#include "alloc.h"
#include "vg.h"
#include <errno.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* Code of the libraries whose globals a checkpoint holds (every loaded
 * one but the run-time's, see register.c): what they allocate before
 * main() is persistent (marked early), so that their restored globals
 * find it.  Filled once, at start-up.  Defined first: gcc lays a file's
 * variables out in the reverse order, and src/startup.ld puts route.o's
 * state last on the page that start-up writes, so the table (written
 * only for a program with libraries, and only its first rows) is what
 * runs over to the next page, not the words below (tests/startup_layout.sh
 * checks those). */
#define MAX_EARLY 64
static struct { uintptr_t lo, hi; } early_code[MAX_EARLY] PM_STATE;
static int nearly PM_STATE, early_ready PM_STATE;

int pm__phase PM_STATE;
int pm__malloc_direct PM_STATE;
uintptr_t pm__libc_lo PM_STATE, pm__libc_hi PM_STATE, pm__ld_lo PM_STATE,
	pm__ld_hi PM_STATE;
struct pm_ranges pm__transient_code PM_STATE = { 0, UINTPTR_MAX, 0, 0 };

/* A non-PIE executable that takes a libc function's address (python3
 * takes malloc's) makes its own PLT entry the function's canonical
 * address: the name then means that entry everywhere (libc's GOT and
 * ld.so's __rtld_malloc included), and the entry jumps through the
 * executable's GOT slot to the real function.
 * plt_slot(f): that slot, if f is such an entry ([endbr64] [bnd] jmp
 * *slot(%rip)) in a loaded object's code and the slot is an aligned word
 * of one of that object's writable segments; else NULL. */
#define PLT_MAX_SEGS 8
struct plt_object {
	uintptr_t f;
	int found, nw;
	uintptr_t wlo[PLT_MAX_SEGS], whi[PLT_MAX_SEGS];
};

static int plt_object(struct dl_phdr_info *info, size_t size, void *ctx)
{
	struct plt_object *o = ctx;
	(void)size;
	for (int i = 0; i < info->dlpi_phnum && !o->found; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X) &&
		    ph->p_memsz >= 16 && o->f - lo <= ph->p_memsz - 16)
			o->found = 1;
	}
	if (!o->found)
		return 0;
	for (int i = 0; i < info->dlpi_phnum && o->nw < PLT_MAX_SEGS; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_W))
			continue;
		o->wlo[o->nw] = info->dlpi_addr + ph->p_vaddr;
		o->whi[o->nw] = o->wlo[o->nw] + ph->p_memsz;
		o->nw++;
	}
	return 1;
}

static uintptr_t *plt_slot(uintptr_t f)
{
	struct plt_object o;
	memset(&o, 0, sizeof o);
	o.f = f;
	dl_iterate_phdr(plt_object, &o);
	if (!o.found)
		return NULL; /* its bytes are nobody's code: not read */
	const unsigned char *c = (const unsigned char *)f;
	if (c[0] == 0xf3 && c[1] == 0x0f && c[2] == 0x1e && c[3] == 0xfa)
		c += 4; /* endbr64 */
	if (c[0] == 0xf2)
		c++; /* bnd */
	if (c[0] != 0xff || c[1] != 0x25)
		return NULL;
	int32_t disp;
	memcpy(&disp, c + 2, sizeof disp);
	uintptr_t slot = (uintptr_t)(c + 6) + (uintptr_t)(intptr_t)disp;
	if (slot & 7)
		return NULL;
	for (int i = 0; i < o.nw; i++)
		if (slot >= o.wlo[i] && slot + 8 <= o.whi[i])
			return (uintptr_t *)slot;
	return NULL;
}

/* Code ranges, from /proc/self/maps in one pass at start-up: libc's (the
 * executable mapping that holds `write`), ld.so's (the file loaded at
 * AT_BASE) and, for phase 0, the third-party libraries' (every other file
 * but the executable, the one whose program headers AT_PHDR points at).
 * One pass is enough because the maps are in address order and a file's
 * first mapping (ld.so's at AT_BASE, the executable's holding its program
 * headers) comes before its code: each name is known before it is
 * compared.  (A second read cost a tenth of a one-malloc process's
 * instructions, and the kernel's time to print the maps.) */
struct startup_maps {
	uintptr_t libc_addr, ld_base, exe_base; /* libc_addr 0: by name */
	char ld_path[256], exe_path[256];
	int early;      /* list the libraries' code (PMALLOC_PERSIST_LIBS) */
	char last[256]; /* the library of the previous code mapping */
	int nlibs, full;
};

static void copy_path(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);
	n = n < cap - 1 ? n : cap - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

static int find_names(void *ctx, uintptr_t lo, uintptr_t hi,
		      const char *perms, const char *path)
{
	struct startup_maps *m = ctx;
	(void)hi, (void)perms;
	if (*path && lo == m->ld_base)
		copy_path(m->ld_path, sizeof m->ld_path, path);
	if (*path && lo == m->exe_base)
		copy_path(m->exe_path, sizeof m->exe_path, path);
	return 0;
}

/* glibc's file name: libc.so.6 (libc-2.NN.so before 2.34) */
static int is_libc(const char *path)
{
	const char *b = strrchr(path, '/');
	b = b ? b + 1 : path;
	return !strncmp(b, "libc.so", 7) || !strncmp(b, "libc-2.", 7);
}

static int find_code(void *ctx, uintptr_t lo, uintptr_t hi, const char *perms,
		     const char *path)
{
	struct startup_maps *m = ctx;
	find_names(ctx, lo, hi, perms, path);
	if (perms[2] != 'x')
		return 0;
	if (m->libc_addr ? m->libc_addr - lo < hi - lo : is_libc(path)) {
		pm__libc_lo = lo, pm__libc_hi = hi;
		return 0;
	}
	if (m->ld_path[0] && !strcmp(path, m->ld_path)) {
		pm__ld_lo = lo, pm__ld_hi = hi;
		return 0;
	}
	if (!m->early || m->full || path[0] != '/' || pm__runtime_lib(path) ||
	    !strcmp(path, m->exe_path)) /* the executable: phase 1 */
		return 0;
	if (strncmp(path, m->last, sizeof m->last - 1)) {
		copy_path(m->last, sizeof m->last, path);
		m->nlibs++;
	}
	/* Early blocks are only safe for libraries whose globals a restore
	 * brings back: with more libraries than register.c registers, or
	 * more code mappings than fit here, none gets any. */
	if (m->nlibs > PM_MAX_LIBS || nearly == MAX_EARLY) {
		m->full = 1;
		return 0;
	}
	early_code[nearly].lo = lo;
	early_code[nearly].hi = hi;
	nearly++;
	return 0;
}

void pm__route_startup(void)
{
	struct startup_maps m;
	memset(&m, 0, sizeof m);
	ssize_t (*w)(int, const void *, size_t) = write;
	/* `write` is libc's code unless the program made it an entry of its
	 * PLT; then libc is found by its name */
	m.libc_addr = plt_slot((uintptr_t)w) ? 0 : (uintptr_t)w;
	m.ld_base = getauxval(AT_BASE);
	m.exe_base = getauxval(AT_PHDR) & ~(uintptr_t)(PM_PAGE - 1);
	const char *e = pm__env("PMALLOC_PERSIST_LIBS");
	m.early = !(e && e[0] == '0') && m.exe_base;
	/* the loader's list of objects (no /proc read: 16-18 us of a
	 * one-malloc process's start-up); /proc/self/maps when a name in
	 * it is not an absolute path */
	if (pm__os_object_maps(find_code, &m) == -EAGAIN)
		pm__os_maps(find_code, &m);
	if (m.full)
		nearly = 0;
	__atomic_store_n(&early_ready, 1, __ATOMIC_RELEASE);
}

int pm__early_transient(uintptr_t ra)
{
	if (!__atomic_load_n(&early_ready, __ATOMIC_ACQUIRE) &&
	    (pm__ensure_init() || !early_ready))
		return 1; /* start-up itself: libc's and ld.so's requests */
	for (int i = 0; i < nearly; i++)
		if (ra - early_code[i].lo < early_code[i].hi - early_code[i].lo)
			return 0;
	return 1;
}

/* ---- libc's and ld.so's malloc calls: their own entry point ---------------
 * The exported malloc's fast path has no caller test: once malloc's slow
 * path has run DIRECT_AFTER times (pm__route_count), the one word of
 * libc's RELRO data that holds malloc's address (its GOT entry) and the
 * one of ld.so's (__rtld_malloc) are pointed to pm__malloc_runtime, which
 * serves the transient arena.  Where a non-PIE
 * executable made its PLT entry malloc's canonical address, that entry's
 * address is the one the words hold (plt_slot).  If either is not
 * found exactly once (another libc, lazy binding, a static libc, a malloc
 * that is not ours or whose code a tool replaced), nothing is written and pm__malloc_direct stays 0:
 * malloc's fast path then always fails (pm__tls.mtc) and the slow path
 * routes by the return address as before.  docs/DESIGN.md, "Routing". */
#ifndef PM_NO_INTERPOSE
void *pm__malloc_self(size_t n); /* interpose.c: malloc's own address */

/* What start-up learns for the route (prepare_direct), so that setting
 * it up later (route_direct, from inside a malloc call) needs neither the
 * loader's list and its lock nor the environment. */
struct direct_plan {
	int ready;             /* 1: route_direct may try */
	uintptr_t libc_addr, ld_base;
	uintptr_t self;        /* malloc's own address */
	uintptr_t seen;        /* the address the program calls as malloc */
	uintptr_t *slot;       /* its PLT slot when seen is such an entry */
	uintptr_t lo[2], hi[2]; /* libc's and ld.so's RELRO ranges */
};
static struct direct_plan plan PM_STATE;

/* How many aligned words of [lo, hi) hold v; the last one's address in
 * *at.  Its cost: libc's and ld.so's RELRO data are about 2500
 * words; with SSE2, eight at a time compared on their 32-bit halves with
 * v's low half (a hit is then checked word by word), about 2.5
 * instructions a word instead of 6. */
static int find_words(uintptr_t lo, uintptr_t hi, uintptr_t v, uintptr_t **at)
{
	int n = 0;
	uintptr_t a = (lo + 7) & ~(uintptr_t)7;
#ifdef __SSE2__
	__m128i vv = _mm_set1_epi32((int)(uint32_t)v);
	for (; a + 64 <= hi; a += 64) {
		const __m128i *q = (const __m128i *)a;
		__m128i m0 = _mm_or_si128(
			_mm_cmpeq_epi32(_mm_loadu_si128(q), vv),
			_mm_cmpeq_epi32(_mm_loadu_si128(q + 1), vv));
		__m128i m1 = _mm_or_si128(
			_mm_cmpeq_epi32(_mm_loadu_si128(q + 2), vv),
			_mm_cmpeq_epi32(_mm_loadu_si128(q + 3), vv));
		if (likely(_mm_movemask_epi8(_mm_or_si128(m0, m1)) == 0))
			continue;
		for (int i = 0; i < 8; i++)
			if (((uintptr_t *)a)[i] == v) {
				*at = (uintptr_t *)a + i;
				n++;
			}
	}
#endif
	for (; a + 8 <= hi; a += 8)
		if (*(uintptr_t *)a == v) {
			*at = (uintptr_t *)a;
			n++;
		}
	return n;
}

static int relro_ranges(struct dl_phdr_info *info, size_t size, void *ctx)
{
	struct direct_plan *d = ctx;
	(void)size;
	int which = -1;
	if (d->ld_base && info->dlpi_addr == d->ld_base)
		which = 1;
	for (int i = 0; i < info->dlpi_phnum && which < 0; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
		if (ph->p_type == PT_LOAD && d->libc_addr - lo < ph->p_memsz)
			which = 0;
	}
	if (which < 0)
		return 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_GNU_RELRO)
			continue;
		if (d->hi[which]) { /* two: not an object we know */
			d->lo[which] = d->hi[which] = 0;
			return 1;
		}
		d->lo[which] = info->dlpi_addr + ph->p_vaddr;
		d->hi[which] = d->lo[which] + ph->p_memsz;
	}
	return 0;
}

/* Write v to word w of a RELRO range [lo, hi): the loader made its whole
 * pages read-only (the last, partial one stays writable). */
static int relro_write(uintptr_t *w, uintptr_t v, uintptr_t lo, uintptr_t hi)
{
	uintptr_t page = (uintptr_t)w & ~(uintptr_t)(PM_PAGE - 1);
	int ro = page >= (lo & ~(uintptr_t)(PM_PAGE - 1)) &&
		 page + PM_PAGE <= (hi & ~(uintptr_t)(PM_PAGE - 1));
	if (ro && pm__os_protect((void *)page, PM_PAGE, PROT_READ | PROT_WRITE))
		return -1;
	__atomic_store_n(w, v, __ATOMIC_RELEASE);
	if (ro)
		pm__os_protect((void *)page, PM_PAGE, PROT_READ);
	return 0;
}

/* Not at start-up: the scans and the two mprotect pairs (which also split
 * libc's and ld.so's RELRO mappings) cost a process that mallocs once
 * about 11 us of its 0.9 ms spawn, and until then the slow path routes
 * every call correctly by its caller.  A process that allocates much is
 * routed within its first few hundred calls; one whose libraries made
 * that many before its own constructors, at the first slow call from
 * then on.  What needs the loader's list or the environment is done at
 * start-up (prepare_direct): route_direct runs inside a malloc call, where
 * taking the loader's lock could deadlock with a thread that holds it and
 * waits for this one. */
#define DIRECT_AFTER 256u
static unsigned slow_calls PM_STATE;
int pm__route_waits PM_STATE = 1;

static void route_direct(void);

void pm__route_count(void)
{
	/* not a read-modify-write: a count lost to a race only delays it */
	unsigned c = __atomic_load_n(&slow_calls, __ATOMIC_RELAXED) + 1;
	__atomic_store_n(&slow_calls, c, __ATOMIC_RELAXED);
	if (unlikely(c >= DIRECT_AFTER) && pm__phase)
		route_direct();
}

/* At the end of phase 0: is the program's malloc this one, where are the
 * words to look for, and is the route wanted at all. */
static void prepare_direct(void)
{
	static int prepared PM_STATE;
	if (__atomic_exchange_n(&prepared, 1, __ATOMIC_ACQ_REL))
		return;
	const char *e = pm__env("PMALLOC_MALLOC_DIRECT");
	void *(*volatile seen)(size_t) = malloc;
	struct direct_plan d;
	memset(&d, 0, sizeof d);
	d.libc_addr = pm__libc_lo; /* found by pm__route_startup */
	d.ld_base = getauxval(AT_BASE);
	d.self = (uintptr_t)pm__malloc_self;
	d.seen = (uintptr_t)seen;
	if ((e && e[0] == '0') || /* the tests of the fallback */
	    !d.libc_addr || !d.ld_base ||
	    /* the program's malloc is not this one */
	    (d.seen != d.self && !(d.slot = plt_slot(d.seen)))) {
		__atomic_store_n(&pm__route_waits, 0, __ATOMIC_RELAXED);
		return;
	}
	dl_iterate_phdr(relro_ranges, &d);
	if (!d.hi[0] || !d.hi[1]) {
		__atomic_store_n(&pm__route_waits, 0, __ATOMIC_RELAXED);
		return;
	}
	d.ready = 1;
	plan = d;
}

static void route_direct(void)
{
	static int tried PM_STATE;
	if (__atomic_exchange_n(&tried, 1, __ATOMIC_ACQ_REL))
		return;
	__atomic_store_n(&pm__route_waits, 0, __ATOMIC_RELAXED);
	if (!plan.ready)
		return;
	void *(*seen)(size_t) = (void *(*)(size_t))plan.seen;
	/* nor is it if a tool replaced its code (valgrind's memcheck without
	 * the synonym option): its blocks are not ours.  Only valgrind does
	 * that, and it says so (vg.c); elsewhere the probe is skipped.
	 * Through a PLT entry the call also binds a lazily bound slot, so
	 * there it is always made. */
	if (!PM_VALGRIND || PM_VG_RUNNING() || plan.slot) {
		void *t = seen(1);
		int ours = t && pm__in_region((uintptr_t)t);
		free(t);
		if (!ours)
			return;
	}
	uintptr_t want = plan.self;
	if (plan.slot) {
		/* the executable's entry must lead to this malloc; the words
		 * to rewrite then hold the entry's address */
		if (__atomic_load_n(plan.slot, __ATOMIC_ACQUIRE) != plan.self)
			return;
		want = plan.seen;
	}
	/* libc and ld.so are never unloaded: their RELRO stays where
	 * start-up found it */
	uintptr_t *w0 = NULL, *w1 = NULL;
	if (find_words(plan.lo[0], plan.hi[0], want, &w0) != 1 ||
	    find_words(plan.lo[1], plan.hi[1], want, &w1) != 1)
		return;
	/* under the persistent lock, which fork's prepare handler takes: a
	 * child never inherits a page left writable in between (mprotect
	 * neither allocates nor re-enters malloc) */
	uintptr_t rt = (uintptr_t)pm__malloc_runtime;
	pm__lock_persistent();
	if (!relro_write(w0, rt, plan.lo[0], plan.hi[0])) {
		if (!relro_write(w1, rt, plan.lo[1], plan.hi[1]))
			__atomic_store_n(&pm__malloc_direct, 1,
					 __ATOMIC_RELEASE);
		else
			relro_write(w0, want, plan.lo[0], plan.hi[0]); /* back */
	}
	pm__unlock_persistent();
}
#else
int pm__route_waits PM_STATE;
void pm__route_count(void) {}
static void prepare_direct(void) {}
#endif

static void route_runtime_only(void)
{
	pm__transient_code.lo1 = pm__ld_lo;
	pm__transient_code.len1 = pm__ld_hi - pm__ld_lo;
	pm__transient_code.lo0 = pm__libc_lo;
	pm__transient_code.len0 = pm__libc_hi - pm__libc_lo;
}

void pm__begin_constructors(void)
{
	if (pm__ensure_init() || pm__phase)
		return;
	prepare_direct();
	route_runtime_only();
	pm__phase = 1;
}

void pm__begin_persistent(void)
{
	if (pm__phase == 2)
		return;
	prepare_direct();
	route_runtime_only();
	__atomic_store_n(&pm__phase, 2, __ATOMIC_RELEASE);
}

