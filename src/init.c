/*
 * init.c - start-up: the region's set-up and the environment that shapes
 * it, the first call's lock, and the switch to main().
 *
 * Start-up happens inside the first call of any entry point: malloc runs
 * before any constructor (libstdc++ allocates its exception pool first),
 * so nothing here may use stdio, getenv or anything that allocates before
 * pm__region is published.  Steps after publication (routing's reading of
 * /proc, pthread_atfork, the globals' analysis) may re-enter malloc.
 *
 * Owns: pm__region, pm__transient (made at its first request, then
 * published once, never moved: pm__transient_make), the
 * region's header fields, where pmalloc's own pages go (after the region,
 * told to the OS layer), whether pages of the region may be file-backed.
 * Invariant: pm__region is either NULL or a fully initialised region;
 * start-up runs at most once (init_failed makes a failure final).
 */
#include "alloc.h"
#include "vg.h"
#include <pthread.h>
#include "image_kstate.h"

struct pm_region *pm__region PM_STATE;
uint64_t pm__free_key PM_STATE = 0x7066726565645f6bULL; /* until set_up */
struct pm_arena *pm__transient PM_STATE;
int pm__os_region_has_files PM_STATE;

static int init_lock PM_STATE;
static int init_failed PM_STATE;

/* weak: a static link that never pulls in the checkpoint API has no
 * restore at start-up */
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

static int setup_region(void)
{
	pm__ks_note_inherited(); /* before anything of the program opens one */
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
	pm__stats_at_exit = (s = pm__env("PMALLOC_STATS")) && s[0] && s[0] != '0';
	size = (size + (1UL << 20) - 1) & ~((1UL << 20) - 1);
	size_t got;
	if (pm__os_reserve(base, size, &got))
		return -1;
	/* one eighth for the transient arena, at the end */
	size_t tsize = (got / 8) & ~((1UL << 20) - 1);
	uintptr_t tbase = base + got - tsize;
	pm__os_aux_after(base + got); /* pmalloc's own pages follow it */
	if (pm__os_commit((void *)base, 64 << 10))
		return -1;
	struct pm_region *r = (struct pm_region *)base;
	pm__free_key = pm__os_random64() | 1;
	r->magic = PM_REGION_MAGIC;
	/* 2: pthread keys in the header; 3: size links in large free chunks */
	r->version = PM_REGION_VERSION;
	r->header_size = sizeof *r;
	r->base = base;
	r->size = got;
	r->tbase = tbase;
	pm__arena_init(&r->p, base + sizeof *r, tbase);
	if (PM_VG_ON()) /* under memcheck: no chunk is the program's yet */
		pm__vg_region(pm__arena_first(&r->p), base + (64 << 10), 0, 0);
	pm__pbase = base;
	pm__plen = tbase - base;
	pm__tc_process_init(); /* caps and key before any cache exists */
	__atomic_store_n(&pm__region, r, __ATOMIC_RELEASE);
	return 0;
}

/* The transient arena is made at its first request, not at start-up: a
 * process whose libc and loader never allocate (one that mallocs once
 * and exits) is spared its commit and the first touch of a page 3.5 GiB
 * away from the rest, which needs page tables of its own: about 10 us of
 * such a process's 0.9 ms (docs/PERFORMANCE.md, "Start-up").  Its header
 * is at the start of its range, as before: the region's layout is the
 * same. */
static int transient_lock PM_STATE;
static int transient_failed PM_STATE;

void pm__transient_fork_child(void)
{
	/* a thread of the parent may have been making it: the child's one
	 * thread makes it again (nothing was published) */
	transient_lock = 0;
}

struct pm_arena *pm__transient_make(void)
{
	struct pm_arena *t = pm__transient_now();
	if (t || !pm__region)
		return t;
	while (__atomic_exchange_n(&transient_lock, 1, __ATOMIC_ACQUIRE))
		__builtin_ia32_pause();
	t = pm__transient;
	if (!t && !transient_failed) {
		struct pm_region *r = pm__region;
		uintptr_t tb = r->tbase;
		if (pm__os_commit((void *)tb, 64 << 10)) {
			transient_failed = 1; /* the same next time: say so once */
			pm__warn("cannot commit the transient arena at 0x%lx",
				 (unsigned long)tb);
		} else {
			t = (struct pm_arena *)tb;
			pm__arena_init(t, tb + sizeof *t, r->base + r->size);
			if (PM_VG_ON())
				pm__vg_noaccess((void *)pm__arena_first(t),
						tb + (64 << 10) -
							pm__arena_first(t));
			__atomic_store_n(&pm__transient, t, __ATOMIC_RELEASE);
		}
	}
	__atomic_store_n(&transient_lock, 0, __ATOMIC_RELEASE);
	return t;
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
	pm__route_startup();
	pthread_atfork(pm__fork_prepare, pm__fork_parent, pm__fork_child);
	pm__globals_startup();
	return 0;
}

/* The descriptors open at start-up are the caller's (process images,
 * image_kstate.c); the first malloc usually records them earlier. */
__attribute__((constructor(101))) static void note_inherited(void)
{
	pm__ks_note_inherited();
}

/* Called right before main(): the program's own blocks are persistent
 * from here on, and PMALLOC_RESTORE is honoured. */
void pm__enter_main(void)
{
	if (pm__ensure_init())
		return;
	pm__begin_persistent();
	if (PM_VALGRIND)
		pm__vg_main();
	if (pm__restore_at_startup)
		pm__restore_at_startup();
}


/* Page release over the region: where a checkpoint file was mapped, the
 * pages must be replaced, since MADV_DONTNEED would bring back the file's
 * bytes.  (Named for its callers in heap.c and alloc.c.) */
void pm__os_release(void *p, size_t n)
{
	pm__os_discard(p, n, pm__os_region_has_files);
	if (PM_VG_ON()) /* fresh pages would be accessible again */
		pm__vg_noaccess(p, n);
}
