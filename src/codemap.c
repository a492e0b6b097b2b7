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
#include "ckpt.h"
#include "vg.h"
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
	/* under valgrind, the maps also list valgrind's own rwx mappings
	 * (its translation cache), which nothing tells from JIT code: none
	 * is saved (docs/DESIGN.md, "Under valgrind") */
	if (PM_VG_RUNNING())
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

static int code_range_free(uintptr_t lo, uintptr_t hi, char *what, size_t cap)
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

static int code_reserve(uintptr_t lo, size_t len)
{
	return pm__os_map_at(lo, len, PROT_NONE);
}

static void code_unreserve(uintptr_t lo, size_t len)
{
	pm__os_unmap((void *)lo, len);
}

typedef unsigned long long ull;

void pm__code_unreserve_sections(const struct pmf_section *sec,
				 uint32_t upto)
{
	for (uint32_t i = 0; i < upto; i++)
		if (sec[i].kind == PMF_SEC_CODE)
			code_unreserve((uintptr_t)sec[i].addr,
				       (size_t)sec[i].len);
}

/* Each code section goes back where it was, outside the heap, over nothing
 * this process has mapped: each range is reserved now (which also refuses
 * ranges that overlap or cannot be mapped), and filled by pm__code_apply
 * (ckpt_restore.c's apply step).  On failure nothing stays reserved. */
int pm__code_reserve_sections(const struct pmf_section *sec, uint32_t n)
{
	char what[96];
	/* the kernel's floor, and never the first 64 KiB (NULL plus an
	 * offset must keep faulting) */
	uintptr_t min = (uintptr_t)pm__os_sysctl("/proc/sys/vm/mmap_min_addr",
						 65536);
	if (min < PMF_MIN_CODE_ADDR)
		min = PMF_MIN_CODE_ADDR;
	uintptr_t own_lo = pm__region->base, own_hi = pm__os_aux_end();
	for (uint32_t i = 0; i < n; i++) {
		const struct pmf_section *s = &sec[i];
		if (s->kind != PMF_SEC_CODE)
			continue;
		uintptr_t lo = (uintptr_t)s->addr, hi = lo + (uintptr_t)s->len;
		int rc = 0;
		if (lo < min)
			rc = pm__err(PM_ELAYOUT,
				     "section %u (code %llx-%llx) lies below "
				     "the lowest address a process may map "
				     "(%llx)",
				     i, (ull)lo, (ull)hi, (ull)min);
		else if (lo < own_hi && hi > own_lo)
			rc = pm__err(PM_ELAYOUT,
				     "section %u (code %llx-%llx) lies in the "
				     "heap or pmalloc's own memory",
				     i, (ull)lo, (ull)hi);
		else if (!code_range_free(lo, hi, what, sizeof what))
			rc = pm__err(PM_ELAYOUT,
				     "section %u (code %llx-%llx, JIT code of "
				     "the checkpointed process) cannot go back: "
				     "this process has %s there",
				     i, (ull)lo, (ull)hi, what);
		else if ((rc = code_reserve(lo, (size_t)s->len)))
			rc = pm__err(PM_ELAYOUT,
				     "section %u (code %llx-%llx) cannot be "
				     "mapped back here: %s",
				     i, (ull)lo, (ull)hi, pm_strerror(rc));
		if (rc) {
			pm__code_unreserve_sections(sec, i);
			return rc;
		}
	}
	return 0;
}

void pm__code_apply(uintptr_t lo, size_t len, unsigned prot, const void *src)
{
	void *at = (void *)lo;
	/* over our own reservation (code_reserve) */
	if (pm__os_map_over(at, len))
		pm__fatal("restore: cannot map a code section back; the "
			  "process is half restored",
			  at);
	memcpy(at, src, len);
	if (prot != (PROT_READ | PROT_WRITE) &&
	    pm__os_protect(at, len, (int)prot))
		pm__fatal("restore: cannot set a code section's protection; "
			  "the process is half restored",
			  at);
}
