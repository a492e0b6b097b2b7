/*
 * register.c - pm_register(), pm_register_object() and the third-party
 * libraries whose data is persisted by default (globals family:
 * globals.h).
 *
 * Owns the table of registered ranges (NREG) and the analyses of the
 * libraries some of whose memory is registered (PM_MAX_LIBS).  A
 * registered range is cut before it enters the table: the part inside a
 * loaded object is intersected with its data spans and the object is
 * analysed like the executable (elfan.c); the parts outside every object
 * stay as they are; libc's, the loader's and pmalloc's memory is refused.
 * An analysis, once counted, is immutable.
 *
 * Nothing here uses stdio, malloc or getenv; all mutable state is PM_STATE.
 */
#include "globals.h"
#include <dlfcn.h>
#include <errno.h>
#include <string.h>
#include <sys/auxv.h>

#define MAX_LIBS PM_MAX_LIBS /* shared objects with registered memory */
#define MAX_PIECES 64    /* pieces one registration may be cut into */

static struct range reg[NREG] PM_STATE;
static int nreg PM_STATE;
static int lock_word PM_STATE;
/* libraries analysed so far; an entry is immutable once counted */
static struct objan libs[MAX_LIBS] PM_STATE;
static int nlibs PM_STATE;

static void lock(void)
{
	while (__atomic_exchange_n(&lock_word, 1, __ATOMIC_ACQUIRE))
		while (__atomic_load_n(&lock_word, __ATOMIC_RELAXED))
			__builtin_ia32_pause();
}
static void unlock(void)
{
	__atomic_store_n(&lock_word, 0, __ATOMIC_RELEASE);
}

/* ---- is a range private memory now? ----------------------------------- */

struct cover_ctx {
	uintptr_t lo, hi; /* what is still to be found, from lo */
	int write, ok;
};

static int cover_cb(void *vctx, uintptr_t lo, uintptr_t hi,
		    const char *perms, const char *path)
{
	struct cover_ctx *w = vctx;
	(void)path;
	if (hi <= w->lo)
		return 0;
	if (lo > w->lo || perms[0] != 'r' || perms[3] != 'p' ||
	    (w->write && perms[1] != 'w'))
		return 1; /* a hole, or not private (writable) memory */
	w->lo = hi;
	if (w->lo >= w->hi) {
		w->ok = 1;
		return 1;
	}
	return 0;
}

/* One walk of the maps for one range. */
static int range_covers(uintptr_t lo, uintptr_t hi, int write)
{
	struct cover_ctx w = { lo, hi, write, lo >= hi };
	if (!w.ok)
		pm__os_maps(cover_cb, &w);
	return w.ok;
}

static int snap_cb(void *vctx, uintptr_t lo, uintptr_t hi, const char *perms,
		   const char *path)
{
	struct pm_maps *m = vctx;
	(void)path;
	if (perms[0] != 'r' || perms[3] != 'p')
		return 0;
	uint8_t w = perms[1] == 'w';
	if (m->n && m->hi[m->n - 1] == lo && m->w[m->n - 1] == w) {
		m->hi[m->n - 1] = hi;
		return 0;
	}
	if (m->n == PM_MAPS_MAX) {
		m->over = 1;
		return 1;
	}
	m->lo[m->n] = lo;
	m->hi[m->n] = hi;
	m->w[m->n++] = w;
	return 0;
}

void pm__maps_read(struct pm_maps *m)
{
	m->n = 0;
	m->over = 0;
	pm__os_maps(snap_cb, m);
}

int pm__maps_covers(const struct pm_maps *m, uintptr_t lo, uintptr_t hi,
		    int write)
{
	if (m->over) /* too many mappings to hold: ask the kernel again */
		return range_covers(lo, hi, write);
	uintptr_t cur = lo;
	for (int i = 0; i < m->n && cur < hi; i++) {
		if (m->hi[i] <= cur)
			continue;
		if (m->lo[i] > cur || (write && !m->w[i]))
			return 0;
		cur = m->hi[i];
	}
	return cur >= hi;
}

/* This process's own thread state that belongs to no object: the
 * calling thread's static TLS block and control block around the thread
 * pointer (stack guard, pointer guard), and the stack.  The TLS extent is
 * the loader's (_dl_get_tls_static_info: the block below the thread
 * pointer plus the control block above it); only those bytes count, since
 * the kernel merges the mapping that holds them with neighbouring
 * anonymous memory a program may well register. */
struct own_ctx {
	uintptr_t lo, hi;
	int hit;
};

static int stack_cb(void *vctx, uintptr_t lo, uintptr_t hi,
		    const char *perms, const char *path)
{
	struct own_ctx *o = vctx;
	(void)perms;
	if (hi > o->lo && lo < o->hi && !strcmp(path, "[stack]"))
		o->hit = 1;
	return o->hit;
}

static int thread_state_overlaps(uintptr_t lo, uintptr_t hi)
{
	typedef void (*info_fn)(size_t *, size_t *);
	size_t size = 8192, align = 64;
	info_fn info = (info_fn)dlsym(RTLD_DEFAULT, "_dl_get_tls_static_info");
	if (info)
		info(&size, &align);
	uintptr_t tp = (uintptr_t)__builtin_thread_pointer();
	if (lo < tp + size && hi > tp - size)
		return 1;
	struct own_ctx o = { lo, hi, 0 };
	pm__os_maps(stack_cb, &o);
	return o.hit;
}

int pm__reg_copy(struct range *out)
{
	lock();
	int n = nreg;
	memcpy(out, reg, (size_t)n * sizeof *out);
	unlock();
	return n;
}

const struct objan *pm__lib_objan_at(uintptr_t a)
{
	int n = __atomic_load_n(&nlibs, __ATOMIC_ACQUIRE);
	for (int i = 0; i < n; i++)
		if (a >= libs[i].lo && a < libs[i].hi)
			return &libs[i];
	return NULL;
}

/* ---- pm_register, pm_register_object ------------------------------------
 * A registered range is cut into pieces before it enters the table: the
 * part inside a loaded object (the executable included) is intersected
 * with that object's data spans (writable PT_LOAD minus PT_GNU_RELRO: a
 * restore could not write read-only pages, and they hold nothing the
 * program changes), and the object is analysed like the executable so
 * that its keep words are known; the parts outside every object stay as
 * they are.  So no piece straddles two objects. */

#define MAX_HIT 16 /* objects one registration may touch */

struct hit {
	uintptr_t bias, lo, hi;
	const ElfW(Phdr) *phdr;
	int phnum, exe;
	const char *name;
};

struct findctx {
	uintptr_t lo, hi;       /* the range, or 0 with `name` */
	const char *name;       /* pm_register_object: substring of the path */
	struct hit h[MAX_HIT];
	int n, seen, over;
	uintptr_t vdso;
};

static void extent(const struct dl_phdr_info *info, uintptr_t *lo,
		   uintptr_t *hi)
{
	*lo = UINTPTR_MAX;
	*hi = 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *p = &info->dlpi_phdr[i];
		if (p->p_type != PT_LOAD || !p->p_memsz)
			continue;
		uintptr_t a = info->dlpi_addr + p->p_vaddr;
		if (align_down(a, PM_PAGE) < *lo)
			*lo = align_down(a, PM_PAGE);
		if (align_up(a + p->p_memsz, PM_PAGE) > *hi)
			*hi = align_up(a + p->p_memsz, PM_PAGE);
	}
}

static int find_cb(struct dl_phdr_info *info, size_t size, void *vctx)
{
	struct findctx *c = vctx;
	int exe = c->seen++ == 0;
	uintptr_t lo, hi;
	(void)size;
	if (!exe && (!info->dlpi_name[0] || info->dlpi_addr == c->vdso))
		return 0;
	extent(info, &lo, &hi);
	if (lo >= hi)
		return 0;
	if (c->name ? exe || !strstr(info->dlpi_name, c->name)
		    : hi <= c->lo || lo >= c->hi)
		return 0;
	if (c->n >= MAX_HIT) {
		c->over = 1;
		return 1;
	}
	c->h[c->n++] = (struct hit){info->dlpi_addr, lo, hi, info->dlpi_phdr,
				    info->dlpi_phnum, exe, info->dlpi_name};
	return c->name != NULL; /* by name: the first match */
}

/* The analysis of a library (made now if it is new): 0, or -ENOMEM. */
static int lib_analysis(const struct hit *h, const struct objan **out)
{
	int n = __atomic_load_n(&nlibs, __ATOMIC_ACQUIRE), rc = 0;
	for (int i = 0; i < n; i++)
		if (libs[i].bias == h->bias && libs[i].lo == h->lo &&
		    libs[i].hi == h->hi) {
			*out = &libs[i];
			return 0;
		}
	/* outside our lock: dlsym may take the loader's lock and malloc */
	struct objan t;
	memset(&t, 0, sizeof t);
	t.bias = h->bias;
	t.phdr = h->phdr;
	t.phnum = h->phnum;
	t.lib = 1;
	t.path = h->name;
	pm__elf_segments(&t);
	if (pm__elf_tables(&t) < 0)
		return pm__err(-ENOMEM, "pm_register: no memory to analyse "
					"the relocations of %s",
			       h->name);
	t.phdr = NULL;
	t.path = NULL;
	lock();
	n = nlibs;
	for (int i = 0; i < n; i++)
		if (libs[i].bias == t.bias && libs[i].lo == t.lo &&
		    libs[i].hi == t.hi) {
			*out = &libs[i]; /* another thread was faster */
			goto drop;
		}
	if (n >= MAX_LIBS) {
		rc = -ENOMEM;
		goto drop;
	}
	libs[n] = t;
	*out = &libs[n];
	__atomic_store_n(&nlibs, n + 1, __ATOMIC_RELEASE);
	unlock();
	return 0;
drop:
	unlock();
	pm__os_aux_free(t.map, t.maplen);
	if (rc)
		return pm__err(rc, "pm_register: registered memory of more than "
				   "%d shared objects",
			       MAX_LIBS);
	return 0;
}

static int add_piece(struct range *p, int *np, uintptr_t lo, uintptr_t hi)
{
	lo = align_down(lo, 8);
	hi = align_up(hi, 8);
	if (lo >= hi)
		return 0;
	if (*np >= MAX_PIECES)
		return -1;
	p[(*np)++] = (struct range){lo, hi};
	return 0;
}

/* Does a lie inside one of the objects the range was found to touch? */
static int in_hits(const struct findctx *c, uintptr_t a)
{
	for (int i = 0; i < c->n; i++)
		if (a >= c->h[i].lo && a < c->h[i].hi)
			return 1;
	return 0;
}

/* The pieces into the table, each once (registering twice is harmless):
 * 0, or -ENOMEM with nothing added. */
static int table_add(struct range *piece, int np, const char *who)
{
	int rc = 0, add = 0;
	lock();
	for (int i = 0; i < np; i++) {
		int dup = 0;
		for (int j = 0; j < nreg && !dup; j++)
			dup = reg[j].lo == piece[i].lo && reg[j].hi == piece[i].hi;
		if (!dup)
			piece[add++] = piece[i];
	}
	if (nreg + add > NREG)
		rc = -ENOMEM;
	else
		for (int i = 0; i < add; i++)
			reg[nreg++] = piece[i];
	unlock();
	if (rc)
		return pm__err(rc, "%s: the table of %d ranges is full", who,
			       NREG);
	return 0;
}

/* Register [lo, hi) (8-aligned, outside the heap), cut as described. */
static int register_range(uintptr_t lo, uintptr_t hi, const char *who)
{
	struct findctx c;
	struct range piece[MAX_PIECES];
	int np = 0, rc = 0, exe_broken;
	const struct objan *exe = pm__exe_objan(&exe_broken);

	memset(&c, 0, sizeof c);
	c.lo = lo;
	c.hi = hi;
	c.vdso = getauxval(AT_SYSINFO_EHDR);
	dl_iterate_phdr(find_cb, &c);
	if (c.over)
		return pm__err(-EINVAL, "%s: range %#lx-%#lx covers more than "
					"%d loaded objects",
			       who, (unsigned long)lo, (unsigned long)hi,
			       MAX_HIT);
	for (int i = 1; i < c.n; i++) { /* address order */
		struct hit t = c.h[i];
		int j;
		for (j = i; j > 0 && c.h[j - 1].lo > t.lo; j--)
			c.h[j] = c.h[j - 1];
		c.h[j] = t;
	}
	for (int i = 0; i < c.n; i++)
		if (!c.h[i].exe && pm__private_lib(c.h[i].name))
			return pm__err(-EINVAL,
				       "%s: range 0x%lx-0x%lx reaches into %s, "
				       "whose state belongs to each process "
				       "and is never restored",
				       who, (unsigned long)lo, (unsigned long)hi,
				       c.h[i].name);
	uintptr_t cur = lo;
	for (int i = 0; i < c.n; i++) {
		const struct objan *o = exe;
		if (!c.h[i].exe && (rc = lib_analysis(&c.h[i], &o)))
			return rc;
		if (c.h[i].lo > cur &&
		    add_piece(piece, &np, cur,
			      c.h[i].lo < hi ? c.h[i].lo : hi))
			goto many;
		/* an executable without tables: nothing of it can be saved */
		for (int k = 0; k < o->ndspan && !(c.h[i].exe && exe_broken);
		     k++) {
			uintptr_t a = o->dspan[k].lo > lo ? o->dspan[k].lo : lo;
			uintptr_t b = o->dspan[k].hi < hi ? o->dspan[k].hi : hi;
			if (a < b && add_piece(piece, &np, a, b))
				goto many;
		}
		if (c.h[i].hi > cur)
			cur = c.h[i].hi;
	}
	if (cur < hi && add_piece(piece, &np, cur, hi))
		goto many;

	/* pieces outside every object: not this process's thread state */
	for (int i = 0; i < np; i++)
		if (!in_hits(&c, piece[i].lo) &&
		    thread_state_overlaps(piece[i].lo, piece[i].hi))
			return pm__err(-EINVAL,
				       "%s: 0x%lx-0x%lx is thread state of this "
				       "process (the stack, or libc's thread "
				       "control block and TLS), never restored",
				       who, (unsigned long)piece[i].lo,
				       (unsigned long)piece[i].hi);
	for (int i = 0; i < np; i++)
		if (!range_covers(piece[i].lo, piece[i].hi, 1))
			return pm__err(-EFAULT,
				       "%s: 0x%lx-0x%lx is not writable private "
				       "memory of this process",
				       who, (unsigned long)piece[i].lo,
				       (unsigned long)piece[i].hi);
	return table_add(piece, np, who);
many:
	return pm__err(-ENOMEM, "%s: range %#lx-%#lx falls into more than %d "
				"pieces",
		       who, (unsigned long)lo, (unsigned long)hi, MAX_PIECES);
}

/* ---- third-party libraries, persisted by default --------------------------
 * A library's own data (sqlite's configuration, libxml2's dictionary, a
 * cache's LRU list) is part of a program's state as much as its heap
 * blocks are: every loaded library but the C/C++ run-time and allocators
 * is registered like pm_register_object() would, at each checkpoint and
 * restore.  PMALLOC_PERSIST_LIBS=0 turns this off. */
/* The C/C++ run-time's and the allocators' libraries (never persisted);
 * the first PRIVATE_LIBS of them are libc, the loader and pmalloc itself,
 * whose state describes this process (its heap pointer, its threads, its
 * stack guard): no checkpoint may hold it, no registration may name it. */
static const char *const runtime_prefixes[] = {
	"libc.so", "ld-linux", "libpmalloc", "libmalloc.so",
	"libstdc++", "libgcc_s", "libm.so", "libmvec", "libpthread",
	"libdl.so", "librt.so", "libutil", "libresolv", "libnss_",
	"libanl", "libBrokenLocale", "libthread_db", "libcrypt.so",
	"libasan", "libubsan", "libtsan", "liblsan", "libjemalloc",
	"libtcmalloc", "libmimalloc", "vgpreload", "libvalgrind",
};
#define PRIVATE_LIBS 4

/* Does path's file name start with one of the first n prefixes? */
static int lib_named(const char *path, size_t n)
{
	const char *b = strrchr(path, '/');
	b = b ? b + 1 : path;
	for (size_t i = 0; i < n; i++)
		if (!strncmp(b, runtime_prefixes[i],
			     strlen(runtime_prefixes[i])))
			return 1;
	return 0;
}

int pm__private_lib(const char *path)
{
	return lib_named(path, PRIVATE_LIBS);
}

int pm__runtime_lib(const char *path)
{
	return lib_named(path, sizeof runtime_prefixes /
				       sizeof runtime_prefixes[0]);
}

struct autoctx {
	struct range r[MAX_LIBS];
	int n, seen;
	uintptr_t vdso;
};

static int auto_cb(struct dl_phdr_info *info, size_t size, void *vctx)
{
	struct autoctx *c = vctx;
	uintptr_t lo, hi;
	(void)size;
	if (c->seen++ == 0 || !info->dlpi_name[0] ||
	    info->dlpi_addr == c->vdso || pm__runtime_lib(info->dlpi_name))
		return 0;
	extent(info, &lo, &hi);
	if (lo < hi)
		c->r[c->n++] = (struct range){lo, hi};
	return c->n == MAX_LIBS;
}

void pm__register_libraries(void)
{
	const char *e = pm__env("PMALLOC_PERSIST_LIBS");
	if (e && e[0] == '0')
		return;
	struct autoctx c;
	memset(&c, 0, sizeof c);
	c.vdso = getauxval(AT_SYSINFO_EHDR);
	dl_iterate_phdr(auto_cb, &c); /* collect; register outside its lock */
	char keep[512];
	memcpy(keep, pm_errmsg(), sizeof keep); /* a full table is no error */
	for (int i = 0; i < c.n; i++)
		register_range(c.r[i].lo, c.r[i].hi, "library data");
	pm__err(0, "%s", keep);
}

static void heap_bounds(uintptr_t *hl, uintptr_t *hh)
{
	if (pm__region) {
		*hl = pm__region->base;
		*hh = *hl + pm__region->size;
	} else {
		*hl = EHEAP_START_ADDRESS;
		*hh = *hl + PM_DEFAULT_SIZE;
	}
}

PM_EXPORT int pm_register(void *addr, size_t len)
{
	uintptr_t a = (uintptr_t)addr, hl, hh;
	if (!addr || !len)
		return pm__err(-EINVAL, "pm_register: %s", addr ? "zero length"
							       : "NULL address");
	if (a + len < a || align_up(a + len, 8) < a)
		return pm__err(-EINVAL, "pm_register: range %p+%zu wraps",
			       addr, len);
	heap_bounds(&hl, &hh);
	if (hh && pm__os_aux_end() > hh)
		hh = pm__os_aux_end(); /* pmalloc's own pages follow the heap */
	if (a < hh && a + len > hl)
		return pm__err(-EINVAL,
			       "pm_register: range %p+%zu overlaps the heap or "
			       "pmalloc's own pages after it",
			       addr, len);
	/* whole words: the span format is word-based */
	return register_range(align_down(a, 8), align_up(a + len, 8),
			      "pm_register");
}

PM_EXPORT int pm_register_object(const char *name)
{
	struct findctx c;
	if (!name || !name[0])
		return pm__err(-EINVAL, "pm_register_object: %s",
			       name ? "empty name" : "NULL name");
	memset(&c, 0, sizeof c);
	c.name = name;
	c.vdso = getauxval(AT_SYSINFO_EHDR);
	dl_iterate_phdr(find_cb, &c);
	if (!c.n)
		return pm__err(-ENOENT, "pm_register_object: no loaded object's "
					"path contains \"%s\"",
			       name);
	const char *base = strrchr(c.h[0].name, '/');
	base = base ? base + 1 : c.h[0].name;
	if (!strncmp(base, "libc.so", 7) || !strncmp(base, "ld-linux", 8))
		return pm__err(-EINVAL, "pm_register_object: %s belongs to "
					"this process (libc and the loader "
					"are never restored)",
			       c.h[0].name);
	return register_range(c.h[0].lo, c.h[0].hi, "pm_register_object");
}
