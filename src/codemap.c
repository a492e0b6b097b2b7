/*
 * codemap.c - anonymous executable mappings (JIT code) across a restore.
 *
 * A library that compiles code at run time (PCRE2's JIT, reached through
 * GLib's GRegex with G_REGEX_OPTIMIZE) puts it in anonymous mappings of
 * its own, outside the heap, and keeps pointers to it in heap blocks (the
 * compiled pattern) and in its globals (its executable-memory allocator's
 * free list).  Both come back with a restore; the mapping must too, at the
 * same address, or the first match jumps into nothing.
 *
 * So a checkpoint saves every private anonymous mapping that is readable
 * and executable (a "code" section, its protection in the section flags),
 * and a restore maps it back: anonymous, the file's bytes copied in, then
 * the recorded protection.  The restoring process must have nothing at
 * all mapped over such a range (checked, and the range reserved, before
 * any memory is touched): JIT code is made in main(), so in a fresh
 * process started the same way the range is free, and anything else there
 * is refused rather than replaced.  pmalloc's own pages (scratch, tables)
 * go right after the heap region for that reason (pm__os_aux, os.c).
 *
 * Owns no state.
 */
#include "internal.h"
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

struct code_ctx {
	struct pm_gspan *out;
	int max, n, full;
};

static int code_cb(void *vctx, uintptr_t lo, uintptr_t hi, const char *perms,
		   const char *path)
{
	struct code_ctx *c = vctx;
	if (path[0] || perms[0] != 'r' || perms[2] != 'x' || perms[3] != 'p')
		return 0;
	if (pm__region && lo < pm__region->base + pm__region->size &&
	    hi > pm__region->base)
		return 0;
	if (c->n >= c->max) {
		c->full = 1;
		return 1;
	}
	c->out[c->n].lo = lo;
	c->out[c->n].hi = hi;
	c->out[c->n].kind = PM_GSPAN_CODE;
	c->out[c->n].prot = PROT_READ | PROT_EXEC |
			    (perms[1] == 'w' ? PROT_WRITE : 0);
	c->n++;
	return 0;
}

int pm__code_spans(struct pm_gspan *out, int max)
{
	struct code_ctx c = {out, max, 0, 0};
	int rc = pm__os_maps(code_cb, &c);
	if (rc < 0)
		return pm__err(rc, "checkpoint: cannot read /proc/self/maps");
	if (c.full)
		return pm__err(-ENOSPC, "checkpoint: more than %d globals and "
					"code spans to persist",
			       PM_GSPAN_MAX);
	return c.n;
}

struct free_ctx {
	uintptr_t lo, hi;
	char what[80];
};

static int taken_cb(void *vctx, uintptr_t lo, uintptr_t hi, const char *perms,
		    const char *path)
{
	struct free_ctx *f = vctx;
	if (hi <= f->lo || lo >= f->hi)
		return 0;
	pm__fmt(f->what, sizeof f->what, "%lx-%lx %s %s", (unsigned long)lo,
		(unsigned long)hi, perms, path[0] ? path : "(anonymous)");
	return 1;
}

int pm__code_range_free(uintptr_t lo, uintptr_t hi, char *what, size_t cap)
{
	struct free_ctx f;
	f.lo = lo;
	f.hi = hi;
	f.what[0] = '\0';
	if (pm__os_maps(taken_cb, &f) < 0) {
		pm__fmt(what, cap, "(cannot read /proc/self/maps)");
		return 0;
	}
	if (!f.what[0])
		return 1;
	pm__fmt(what, cap, "%s", f.what);
	return 0;
}

int pm__code_reserve(uintptr_t lo, size_t len)
{
	void *at = (void *)lo;
	void *p = mmap(at, len, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE |
			       MAP_FIXED_NOREPLACE,
		       -1, 0);
	if (p == at)
		return 0;
	int e = p == MAP_FAILED ? errno : EEXIST;
	if (p != MAP_FAILED) /* the flag taken as a hint: not there */
		munmap(p, len);
	return -e;
}

void pm__code_unreserve(uintptr_t lo, size_t len) { munmap((void *)lo, len); }

void pm__code_apply(uintptr_t lo, size_t len, unsigned prot, const void *src)
{
	void *at = (void *)lo;
	/* over our own reservation (pm__code_reserve) */
	void *p = mmap(at, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	if (p != at)
		pm__fatal("restore: cannot map a code section back; the "
			  "process is half restored",
			  at);
	memcpy(at, src, len);
	if (prot != (PROT_READ | PROT_WRITE) && mprotect(at, len, (int)prot))
		pm__fatal("restore: cannot set a code section's protection; "
			  "the process is half restored",
			  at);
}
