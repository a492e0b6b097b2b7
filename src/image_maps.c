/*
 * image_maps.c - the mappings of this process as an image records them
 * (struct pm__vmalist in image.h, classes in format.h).
 *
 * Every line of /proc/self/maps becomes one struct pmf_vma, classified:
 *   [stack]                       stack (bytes in the STACK record)
 *   [vdso] [vvar] [vsyscall]...   kernel (never copied; checked at resume):
 *                                 every bracketed name but [heap], [anon:]
 *   shared, read-only, of a file  named (as below; mapped shared again)
 *   other shared mappings         refused: an image holds private memory
 *   private file mapping, read-only, no page written (no anonymous page
 *     in /proc/self/pagemap)      named (the resuming process has it)
 *   everything else               copied
 * A private file mapping written since it was mapped (RELRO after
 * relocation, code patched by a JIT or a debugger, a data segment) is
 * copied whole: a page of it that is not present still holds the file's
 * bytes, which an anonymous mapping on resume would not.  An anonymous
 * mapping saves only its present or swapped pages (the others read as
 * zero), and in pmalloc's persistent arena only the pages outside free
 * chunks (pm__heap_spans).  Unreadable mappings (PROT_NONE: reservations,
 * guard pages) save nothing.
 *
 * No malloc, no stdio: the caller gives every buffer.
 */
#include "image.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

typedef unsigned long long ull;

uint32_t pm__image_str(struct pm__vmalist *l, const char *s, size_t n)
{
	if (n + 1 > l->scap - l->slen)
		return PMF_NO_NAME;
	uint32_t at = l->slen;
	memcpy(l->str + at, s, n);
	l->str[at + n] = '\0';
	l->slen += (uint32_t)n + 1;
	return at;
}

static uint64_t hexnum(const char **p)
{
	uint64_t v = 0;
	for (;;) {
		char c = **p;
		int d = c >= '0' && c <= '9'	 ? c - '0'
			: c >= 'a' && c <= 'f' ? c - 'a' + 10
					       : -1;
		if (d < 0)
			return v;
		v = v * 16 + (uint64_t)d;
		(*p)++;
	}
}

static uint64_t decnum(const char **p)
{
	uint64_t v = 0;
	while (**p >= '0' && **p <= '9')
		v = v * 10 + (uint64_t)(*(*p)++ - '0');
	return v;
}

/* Has a page of [lo, hi) been written (an anonymous page in a private
 * file mapping)?  Without pagemap: assume so. */
static int written(const struct pm__vmalist *l, uint64_t lo, uint64_t hi)
{
	if (l->pagemap < 0)
		return 1;
	for (uint64_t at = lo; at < hi;) {
		size_t n = (size_t)((hi - at) / PM_PAGE);
		if (n > PM__PAGEMAP_BATCH)
			n = PM__PAGEMAP_BATCH;
		if (pread(l->pagemap, l->pm, n * 8, (off_t)(at / PM_PAGE * 8)) !=
		    (ssize_t)(n * 8))
			return 1;
		for (size_t i = 0; i < n; i++) {
			uint64_t e = l->pm[i];
			/* present or swapped, and not a file page */
			if ((e >> 62) && !(e & (1ull << 61)))
				return 1;
		}
		at += n * PM_PAGE;
	}
	return 0;
}

static int add(struct pm__vmalist *l, const struct pmf_vma *v)
{
	if (l->n == l->cap)
		return pm__err(-E2BIG, "image: more than %u mappings", l->cap);
	l->v[l->n++] = *v;
	return 0;
}

/* Add v minus [skip_lo, skip_hi). */
static int add_cut(struct pm__vmalist *l, struct pmf_vma v)
{
	int rc = 0;
	if (v.end <= l->skip_lo || v.start >= l->skip_hi)
		return add(l, &v);
	if (v.start < l->skip_lo) {
		struct pmf_vma a = v;
		a.end = l->skip_lo;
		rc = add(l, &a);
	}
	if (!rc && v.end > l->skip_hi) {
		struct pmf_vma b = v;
		if (b.flags & PMF_VMAF_FILE)
			b.offset += l->skip_hi - b.start;
		b.start = l->skip_hi;
		rc = add(l, &b);
	}
	return rc;
}

static int classify(struct pm__vmalist *l, struct pmf_vma *v,
		    const char *perms, const char *path)
{
	size_t pl = strlen(path);
	int deleted = pl > 10 && !strcmp(path + pl - 10, " (deleted)");
	if (perms[3] == 's' && v->inode && path[0] == '/' && !deleted &&
	    !(v->prot & PMF_PROT_WRITE)) {
		/* a read-only shared file mapping (locale and gconv caches):
		 * its bytes are the file's, as for a named one */
		v->flags |= PMF_VMAF_FILE | PMF_VMAF_SHARED;
		v->vclass = PMF_VMA_NAMED;
		v->name = pm__image_str(l, path, pl);
		return v->name == PMF_NO_NAME
			       ? pm__err(-E2BIG, "image: mapping names exceed "
						 "%u bytes",
					 l->scap)
			       : 0;
	}
	if (perms[3] == 's' && l->current) {
		v->vclass = PMF_VMA_COPIED; /* (to be replaced) */
		v->flags |= PMF_VMAF_SHARED;
		return 0;
	}
	if (perms[3] == 's')
		return pm__err(-ENOTSUP,
			       "image: shared mapping %llx-%llx (%s): an image "
			       "holds private memory only",
			       (ull)v->start, (ull)v->end,
			       path[0] ? path : "anonymous");
	if (!strcmp(path, "[stack]"))
		v->vclass = PMF_VMA_STACK;
	else if (path[0] == '[' && strcmp(path, "[heap]") &&
		 strncmp(path, "[anon:", 6))
		v->vclass = PMF_VMA_KERNEL; /* [vdso], [vvar], [vvar_vclock],
					     * [vsyscall], [uprobes] */
	else if (v->inode && path[0] == '/') {
		v->flags |= PMF_VMAF_FILE;
		if (!(v->prot & PMF_PROT_WRITE) && v->prot &&
		    !written(l, v->start, v->end))
			v->vclass = PMF_VMA_NAMED;
		else
			v->vclass = PMF_VMA_COPIED;
		if (v->vclass == PMF_VMA_NAMED && deleted)
			return pm__err(-ENOTSUP,
				       "image: %llx-%llx maps %s: a resume "
				       "cannot map it again",
				       (ull)v->start, (ull)v->end, path);
	} else {
		v->vclass = PMF_VMA_COPIED;
		if (!strcmp(path, "[heap]"))
			v->flags |= PMF_VMAF_HEAP;
	}
	if (path[0]) {
		v->name = pm__image_str(l, path, pl);
		if (v->name == PMF_NO_NAME)
			return pm__err(-E2BIG, "image: mapping names exceed "
					       "%u bytes",
				       l->scap);
	}
	return 0;
}

static int parse_line(struct pm__vmalist *l, char *line)
{
	const char *s = line;
	struct pmf_vma v;
	memset(&v, 0, sizeof v);
	v.name = PMF_NO_NAME;
	v.start = hexnum(&s);
	if (*s++ != '-')
		return pm__err(-EIO, "image: cannot parse /proc/self/maps");
	v.end = hexnum(&s);
	if (*s++ != ' ' || strlen(s) < 5)
		return pm__err(-EIO, "image: cannot parse /proc/self/maps");
	char perms[5];
	memcpy(perms, s, 4);
	perms[4] = '\0';
	s += 5;
	v.prot = (perms[0] == 'r' ? PMF_PROT_READ : 0) |
		 (perms[1] == 'w' ? PMF_PROT_WRITE : 0) |
		 (perms[2] == 'x' ? PMF_PROT_EXEC : 0);
	v.offset = hexnum(&s);
	s++;
	uint64_t maj = hexnum(&s);
	s++;
	uint64_t min = hexnum(&s);
	s++;
	v.dev = maj << 32 | min;
	v.inode = decnum(&s);
	while (*s == ' ')
		s++;
	int rc = classify(l, &v, perms, s);
	if (rc)
		return rc;
	if (!(v.flags & PMF_VMAF_FILE))
		v.offset = 0;
	if (v.vclass == PMF_VMA_NAMED || v.vclass == PMF_VMA_KERNEL ||
	    v.vclass == PMF_VMA_STACK)
		return add(l, &v);
	return add_cut(l, v);
}

int pm__image_vmas(struct pm__vmalist *l)
{
	char buf[8192];
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return pm__err(-errno, "image: cannot read /proc/self/maps");
	size_t have = 0;
	int rc = 0;
	l->n = 0;
	for (;;) {
		ssize_t r = read(fd, buf + have, sizeof buf - 1 - have);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = pm__err(-errno, "image: cannot read "
					     "/proc/self/maps");
			break;
		}
		if (r == 0)
			break;
		have += (size_t)r;
		buf[have] = '\0';
		char *line = buf, *nl;
		while ((nl = memchr(line, '\n', have - (size_t)(line - buf)))) {
			*nl = '\0';
			if ((rc = parse_line(l, line)))
				goto out;
			line = nl + 1;
		}
		have -= (size_t)(line - buf);
		memmove(buf, line, have);
		if (have == sizeof buf - 1) {
			rc = pm__err(-EIO, "image: a line of /proc/self/maps "
					   "is too long");
			break;
		}
	}
out:
	close(fd);
	return rc;
}

/* ---- the runs of a copied mapping ------------------------------------ */

struct runs {
	int (*fn)(void *, uint64_t, uint64_t);
	void *ctx;
	const struct pm__vmalist *l;
	uint64_t lo, hi; /* the part of the mapping being walked */
	uint64_t run_lo, run_hi; /* the run being built (run_lo == run_hi: none) */
	uint64_t z_lo, z_hi;     /* present pages of zeros not yet decided */
	int rc;
};

/* A streak of at least this many present pages that hold only zeros is
 * left out of the image, as if never touched (it reads as zeros again
 * at resume): a calloc'd or memset table the program never filled.
 * Shorter streaks stay inside their run: each gap costs a mapping at
 * resume. */
#define ZERO_STREAK 8

static void flush(struct runs *r)
{
	if (r->run_hi > r->run_lo && !r->rc)
		r->rc = r->fn(r->ctx, r->run_lo, r->run_hi);
	r->run_lo = r->run_hi = 0;
}

/* [lo, hi) joins the run being built, or starts the next one. */
static void run_add(struct runs *r, uint64_t lo, uint64_t hi)
{
	if (r->run_hi == lo && r->run_hi > r->run_lo) {
		r->run_hi = hi;
		return;
	}
	flush(r);
	r->run_lo = lo;
	r->run_hi = hi;
}

/* The pending streak of zero pages: saved if short, else left out. */
static void zero_decide(struct runs *r)
{
	if (r->z_hi - r->z_lo < (uint64_t)ZERO_STREAK * PM_PAGE &&
	    r->z_hi > r->z_lo)
		run_add(r, r->z_lo, r->z_hi);
	r->z_lo = r->z_hi = 0;
}

static void page(struct runs *r, uint64_t at)
{
	zero_decide(r);
	run_add(r, at, at + PM_PAGE);
}

static void zero_page(struct runs *r, uint64_t at)
{
	if (r->z_hi == at && r->z_hi > r->z_lo) {
		r->z_hi = at + PM_PAGE;
		return;
	}
	zero_decide(r);
	r->z_lo = at;
	r->z_hi = at + PM_PAGE;
}

/* 1 if the page at `at` (present, readable) holds only zeros.  Most
 * pages that hold data show it in their first line. */
static int all_zero(uint64_t at)
{
	const volatile uint64_t *w = (const volatile uint64_t *)(uintptr_t)at;
	for (size_t i = 0; i < PM_PAGE / 8; i += 8)
		if (w[i] | w[i + 1] | w[i + 2] | w[i + 3] | w[i + 4] |
		    w[i + 5] | w[i + 6] | w[i + 7])
			return 0;
	return 1;
}

/* The present pages of [lo, hi). */
static void present(struct runs *r, uint64_t lo, uint64_t hi)
{
	const struct pm__vmalist *l = r->l;
	for (uint64_t at = lo; at < hi && !r->rc;) {
		size_t n = (size_t)((hi - at) / PM_PAGE);
		if (n > PM__PAGEMAP_BATCH)
			n = PM__PAGEMAP_BATCH;
		if (l->pagemap < 0 ||
		    pread(l->pagemap, l->pm, n * 8, (off_t)(at / PM_PAGE * 8)) !=
			    (ssize_t)(n * 8)) {
			for (size_t i = 0; i < n; i++)
				page(r, at + i * PM_PAGE);
		} else {
			/* bit 63 present, 62 swapped (not read: left as
			 * data) */
			for (size_t i = 0; i < n; i++) {
				uint64_t a = at + i * PM_PAGE;
				if ((l->pm[i] >> 63) && all_zero(a))
					zero_page(r, a);
				else if (l->pm[i] >> 62)
					page(r, a);
			}
		}
		at += n * PM_PAGE;
	}
}

static int span_cb(void *vctx, uintptr_t lo, uintptr_t hi)
{
	struct runs *r = vctx;
	if (lo < r->lo)
		lo = r->lo;
	if (hi > r->hi)
		hi = r->hi;
	if (lo < hi)
		present(r, lo, hi);
	return r->rc;
}

int pm__image_runs(const struct pm__vmalist *l, const struct pmf_vma *v,
		   int (*fn)(void *ctx, uint64_t lo, uint64_t hi), void *ctx)
{
	struct runs r = {.fn = fn, .ctx = ctx, .l = l, .lo = v->start,
			 .hi = v->end};
	if (v->vclass != PMF_VMA_COPIED || !(v->prot & PMF_PROT_READ))
		return 0;
	if (v->flags & PMF_VMAF_FILE)
		return fn(ctx, v->start, v->end);
	uint64_t pb = pm__region ? pm__region->base : 0;
	uint64_t pe = pm__region ? pm__region->tbase : 0;
	uint64_t lo = v->start, hi = v->end;
	if (lo < pb && !r.rc) /* below the persistent arena */
		present(&r, lo, hi < pb ? hi : pb);
	if (hi > pb && lo < pe && !r.rc && l->no_heap_walk) {
		/* a signal may have stopped malloc half-way: no walk */
		present(&r, lo > pb ? lo : pb, hi < pe ? hi : pe);
	} else if (hi > pb && lo < pe && !r.rc) { /* outside free chunks */
		r.lo = lo > pb ? lo : pb;
		r.hi = hi < pe ? hi : pe;
		pm__heap_spans(span_cb, &r);
	}
	if (hi > pe && !r.rc) /* above it */
		present(&r, lo > pe ? lo : pe, hi);
	zero_decide(&r);
	flush(&r);
	return r.rc;
}
