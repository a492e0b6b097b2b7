/*
 * init.c - lazy start-up of the heap, the phase switch at main(), fork
 * handlers, and the statistics line at exit.
 *
 * Start-up happens inside the first call of any entry point: malloc runs
 * before any constructor (libstdc++ allocates its exception pool first),
 * so nothing here may use stdio, getenv or anything that allocates before
 * pm__region is published.  Steps after publication (pthread_atfork,
 * pthread_key_create, reading /proc) may re-enter malloc safely.
 *
 * Owns: pm__region, pm__transient, pm__phase, the libc/ld.so code ranges.
 */
#include "alloc.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>
#include <sys/auxv.h>

struct pm_region *pm__region PM_STATE;
struct pm_arena *pm__transient PM_STATE;
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

static int init_lock PM_STATE;
static int init_failed PM_STATE;
static int stats_at_exit PM_STATE;

void pm__fork_prepare(void);
void pm__fork_parent(void);
void pm__fork_child(void);
int pm__restore_at_startup(void) __attribute__((weak));

/* Parse a number: decimal or 0x hex, with an optional K/M/G suffix. */
static int parse_size(const char *s, uintptr_t *out)
{
	uintptr_t v = 0;
	int base = 10, digits = 0;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		base = 16, s += 2;
	for (;; s++, digits++) {
		int d;
		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			d = *s - 'a' + 10;
		else if (base == 16 && *s >= 'A' && *s <= 'F')
			d = *s - 'A' + 10;
		else
			break;
		if (v > (UINTPTR_MAX - (uintptr_t)d) / (uintptr_t)base)
			return -1;
		v = v * (uintptr_t)base + (uintptr_t)d;
	}
	if (!digits)
		return -1;
	int shift = 0;
	switch (*s) {
	case 'k': case 'K': shift = 10, s++; break;
	case 'm': case 'M': shift = 20, s++; break;
	case 'g': case 'G': shift = 30, s++; break;
	}
	if (*s || (shift && v > (UINTPTR_MAX >> shift)))
		return -1;
	*out = v << shift;
	return 0;
}

/* Code ranges, from /proc/self/maps in two passes at start-up: libc's
 * (the executable mapping that holds `write`), ld.so's (the file loaded at
 * AT_BASE) and, for phase 0, the third-party libraries' (every other file
 * but the executable, the one whose program headers AT_PHDR points at). */
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

static void find_startup_code(void)
{
	struct startup_maps m;
	memset(&m, 0, sizeof m);
	ssize_t (*w)(int, const void *, size_t) = write;
	m.libc_addr = (uintptr_t)w;
	m.ld_base = getauxval(AT_BASE);
	m.exe_base = getauxval(AT_PHDR) & ~(uintptr_t)(PM_PAGE - 1);
	const char *e = pm__env("PMALLOC_PERSIST_LIBS");
	m.early = !(e && e[0] == '0') && m.exe_base;
	pm__os_maps(find_names, &m);
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

static int setup_region(void)
{
	uintptr_t base = EHEAP_START_ADDRESS, size = PM_DEFAULT_SIZE;
	const char *s;
	if ((s = pm__env("PMALLOC_BASE")) &&
	    (parse_size(s, &base) || (base & (PM_PAGE - 1)) || !base)) {
		pm__warn("PMALLOC_BASE=%s is not a page-aligned address", s);
		return -1;
	}
	if ((s = pm__env("PMALLOC_SIZE")) &&
	    (parse_size(s, &size) || size < PM_MIN_SIZE)) {
		pm__warn("PMALLOC_SIZE=%s is not a size of at least 64M", s);
		return -1;
	}
	stats_at_exit = (s = pm__env("PMALLOC_STATS")) && s[0] && s[0] != '0';
	size = (size + (1UL << 20) - 1) & ~((1UL << 20) - 1);
	size_t got;
	if (pm__os_reserve(base, size, &got))
		return -1;
	/* one eighth for the transient arena, at the end */
	size_t tsize = (got / 8) & ~((1UL << 20) - 1);
	uintptr_t tbase = base + got - tsize;
	if (pm__os_commit((void *)base, 64 << 10) ||
	    pm__os_commit((void *)tbase, 64 << 10))
		return -1;
	struct pm_region *r = (struct pm_region *)base;
	r->magic = PM_REGION_MAGIC;
	r->version = 3; /* 2: pthread keys in the header; 3: size links in
			 * large free chunks */
	r->header_size = sizeof *r;
	r->base = base;
	r->size = got;
	r->tbase = tbase;
	pm__arena_init(&r->p, base + sizeof *r, tbase);
	struct pm_arena *t = (struct pm_arena *)tbase;
	pm__arena_init(t, tbase + sizeof *t, base + got);
	pm__transient = t;
	pm__pbase = base;
	pm__plen = tbase - base;
	pm__tc_process_init(); /* caps and key before any cache exists */
	__atomic_store_n(&pm__region, r, __ATOMIC_RELEASE);
	return 0;
}

int pm__ensure_init(void)
{
	if (__atomic_load_n(&pm__region, __ATOMIC_ACQUIRE))
		return 0;
	if (init_failed)
		return PM_ENOHEAP;
	while (__atomic_exchange_n(&init_lock, 1, __ATOMIC_ACQUIRE))
		__builtin_ia32_pause();
	int first = !pm__region && !init_failed;
	if (first && setup_region())
		init_failed = 1;
	__atomic_store_n(&init_lock, 0, __ATOMIC_RELEASE);
	if (!first)
		return pm__region ? 0 : PM_ENOHEAP;
	if (init_failed)
		return PM_ENOHEAP;
#ifdef PM_NO_INTERPOSE
	/* no libc names, no start-up hook: only the pm_ API, which is the
	 * program's own (thread caches included) from the start */
	pm__phase = 2;
#endif
	/* the region exists: what follows may call malloc */
	find_startup_code();
	pthread_atfork(pm__fork_prepare, pm__fork_parent, pm__fork_child);
	pm__globals_startup();
	return 0;
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

/* Called right before main(): the program's own blocks are persistent
 * from here on, and PMALLOC_RESTORE is honoured. */
void pm__enter_main(void)
{
	if (pm__ensure_init())
		return;
	pm__begin_persistent();
	if (pm__restore_at_startup)
		pm__restore_at_startup();
}

int pm__thread_count(void)
{
	int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	char buf[4096];
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	char *t = strstr(buf, "\nThreads:");
	if (!t)
		return -1;
	t += 9;
	while (*t == ' ' || *t == '\t')
		t++;
	int v = 0;
	while (*t >= '0' && *t <= '9')
		v = v * 10 + (*t++ - '0');
	return v;
}

__attribute__((destructor)) static void stats_line(void)
{
	if (!stats_at_exit || !pm__region)
		return;
	char line[512];
	size_t n = pm__fmt(
		line, sizeof line,
		"pmalloc: stats base=%p persistent_live=%zu transient_live=%zu "
		"persistent_peak=%zu transient_peak=%zu persistent_extent=%zu "
		"persistent_deferred=%zu persistent_free=%zu\n",
		(void *)pm__region->base, pm__region->p.live_bytes,
		pm__transient->live_bytes, pm__region->p.peak,
		pm__transient->peak, pm__region->p.top_end - pm__region->base,
		pm__region->p.fast_bytes, pm__region->p.free_bytes);
	/* to fd 2 as it is now: a program that closed it (coreutils do,
	 * before exit) gets no line, rather than a hidden descriptor that
	 * could end up in one of its files or hold its caller's pipe open */
	pm__write_all(2, line, n < sizeof line ? n : sizeof line - 1);
}
