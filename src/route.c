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
#include <string.h>
#include <unistd.h>
#include <sys/auxv.h>

int pm__phase PM_STATE;
uintptr_t pm__libc_lo PM_STATE, pm__libc_hi PM_STATE, pm__ld_lo PM_STATE,
	pm__ld_hi PM_STATE;
struct pm_ranges pm__transient_code PM_STATE = { 0, UINTPTR_MAX, 0, 0 };

/* Code of the libraries whose globals a checkpoint holds (every loaded
 * one but the run-time's, see register.c): what they allocate before
 * main() is persistent (marked early), so that their restored globals
 * find it.  Filled once, at start-up. */
#define MAX_EARLY 64
static struct { uintptr_t lo, hi; } early_code[MAX_EARLY] PM_STATE;
static int nearly PM_STATE, early_ready PM_STATE;

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
	uintptr_t libc_addr, ld_base, exe_base;
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

static int find_code(void *ctx, uintptr_t lo, uintptr_t hi, const char *perms,
		     const char *path)
{
	struct startup_maps *m = ctx;
	find_names(ctx, lo, hi, perms, path);
	if (perms[2] != 'x')
		return 0;
	if (m->libc_addr - lo < hi - lo) {
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
	m.libc_addr = (uintptr_t)w;
	m.ld_base = getauxval(AT_BASE);
	m.exe_base = getauxval(AT_PHDR) & ~(uintptr_t)(PM_PAGE - 1);
	const char *e = pm__env("PMALLOC_PERSIST_LIBS");
	m.early = !(e && e[0] == '0') && m.exe_base;
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
	route_runtime_only();
	pm__phase = 1;
}

void pm__begin_persistent(void)
{
	if (pm__phase == 2)
		return;
	route_runtime_only();
	pm__phase = 2;
}

