/*
 * image_parse.c - the records of a process image, checked (image.h).
 *
 * ckpt_parse.c has placed every section (records 8-aligned after the
 * table, pages page-aligned after heap_off in address order); this file
 * checks what the records say, trusting nothing it can check: each
 * record's crc, exactly one of each record a writer makes, the mappings
 * (page-aligned, ordered, disjoint, known classes and protections, names
 * inside STRINGS), every PAGES section inside one copied mapping, the
 * stack inside [stack] and ending at the recorded stack top, argv inside
 * STRINGS.  Needs the parser, crc32c and pm__err only: the CLI links it.
 */
#include "image.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

typedef unsigned long long ull;

#define PM__USER_TOP (1ull << 47) /* x86-64 user addresses are below */

const char *pm__image_class(uint32_t c)
{
	return c == PMF_VMA_NAMED    ? "named"
	       : c == PMF_VMA_COPIED ? "copied"
	       : c == PMF_VMA_STACK  ? "stack"
	       : c == PMF_VMA_KERNEL ? "kernel"
				     : "unknown";
}

const char *pm__image_name(const struct pm__image *im, uint32_t off)
{
	return off == PMF_NO_NAME || off >= im->str_len ? "" : im->str + off;
}

static int bad_vma(uint32_t i, const struct pmf_vma *v, const char *why)
{
	return pm__err(PM_ECORRUPT, "image: mapping %u (%llx-%llx): %s", i,
		       (ull)v->start, (ull)v->end, why);
}

static int check_vmas(const struct pm__ckpt *ck, struct pm__image *im)
{
	uint64_t ps = ck->h.page_size, prev = 0;
	im->stack_vma = NULL;
	for (uint32_t i = 0; i < im->nvma; i++) {
		const struct pmf_vma *v = &im->vma[i];
		if ((v->start | v->end) & (ps - 1) || v->start >= v->end)
			return bad_vma(i, v, "not page-aligned or empty");
		if (v->start < prev)
			return bad_vma(i, v, "out of order or overlapping");
		/* a resume maps every other class where it was: user space
		 * (the kernel's [vsyscall] lies above it) */
		if (v->vclass != PMF_VMA_KERNEL &&
		    (v->start < ps || v->end > PM__USER_TOP))
			return bad_vma(i, v, "not a user address range");
		prev = v->end;
		if (v->prot & ~(PMF_PROT_READ | PMF_PROT_WRITE | PMF_PROT_EXEC) ||
		    v->vclass < PMF_VMA_NAMED || v->vclass > PMF_VMA_KERNEL ||
		    v->flags & ~(PMF_VMAF_FILE | PMF_VMAF_HEAP | PMF_VMAF_SHARED) ||
		    v->reserved)
			return bad_vma(i, v, "protection, class, flags or "
					     "reserved bits");
		if ((v->flags & PMF_VMAF_SHARED) &&
		    (v->vclass != PMF_VMA_NAMED || (v->prot & PMF_PROT_WRITE)))
			return bad_vma(i, v, "a shared mapping that is not a "
					     "named read-only file");
		if (v->name != PMF_NO_NAME && v->name >= im->str_len)
			return bad_vma(i, v, "name outside the strings");
		if (v->vclass == PMF_VMA_NAMED &&
		    (!(v->flags & PMF_VMAF_FILE) || v->name == PMF_NO_NAME ||
		     im->str[v->name] != '/'))
			return bad_vma(i, v, "a named mapping without a file");
		if (!(v->flags & PMF_VMAF_FILE) && (v->offset || v->inode))
			return bad_vma(i, v, "file facts on an anonymous "
					     "mapping");
		if ((v->offset & (ps - 1)) ||
		    v->offset > (1ull << 62) - (v->end - v->start))
			return bad_vma(i, v, "file offset not page-aligned or "
					     "out of range");
		if (v->vclass == PMF_VMA_STACK) {
			if (im->stack_vma)
				return bad_vma(i, v, "a second [stack]");
			im->stack_vma = v;
		}
	}
	if (!im->stack_vma)
		return pm__err(PM_ECORRUPT, "image: no [stack] mapping");
	return 0;
}

/* A readable copied mapping of a file is saved whole (image_maps.c: a
 * page not saved would read as zero on resume, not as the file's). */
static int whole(const struct pmf_vma *v)
{
	return v->vclass == PMF_VMA_COPIED && (v->prot & PMF_PROT_READ) &&
	       (v->flags & PMF_VMAF_FILE);
}

/* Every PAGES section inside one copied, readable mapping; the mappings
 * saved whole covered by their sections. */
static int check_pages(const struct pm__ckpt *ck, struct pm__image *im)
{
	uint32_t j = 0;
	uint64_t covered = 0; /* bytes of vma[j] in sections so far */
	im->npages = 0;
	for (uint32_t i = 0; i < ck->h.nsections; i++) {
		const struct pmf_section *s = &ck->sec[i];
		if (s->kind != PMF_SEC_PAGES)
			continue;
		im->npages++;
		while (j < im->nvma && im->vma[j].end <= s->addr) {
			if (whole(&im->vma[j]) &&
			    covered != im->vma[j].end - im->vma[j].start)
				return bad_vma(j, &im->vma[j],
					       "a copied file mapping not "
					       "saved whole");
			j++;
			covered = 0;
		}
		const struct pmf_vma *v = j < im->nvma ? &im->vma[j] : NULL;
		if (!v || s->addr < v->start || s->len > v->end - s->addr ||
		    v->vclass != PMF_VMA_COPIED || !(v->prot & PMF_PROT_READ))
			return pm__ckpt_bad_section(i, s, "not inside one "
							  "copied mapping");
		covered += s->len; /* sections do not overlap (the table) */
	}
	for (; j < im->nvma; j++, covered = 0)
		if (whole(&im->vma[j]) &&
		    covered != im->vma[j].end - im->vma[j].start)
			return bad_vma(j, &im->vma[j], "a copied file mapping "
						       "not saved whole");
	return 0;
}

static int check_proc(const struct pm__ckpt *ck, struct pm__image *im)
{
	const struct pmf_proc *p = im->proc;
	const struct pmf_vma *sv = im->stack_vma;
	for (size_t k = 0; k < sizeof p->reserved / 8; k++)
		if (p->reserved[k])
			return pm__err(PM_ECORRUPT, "image: process record: "
						    "reserved bytes");
	if (p->stack_top != sv->end)
		return pm__err(PM_ECORRUPT, "image: stack top %llx is not the "
					    "end of [stack] %llx",
			       (ull)p->stack_top, (ull)sv->end);
	if ((im->stack_addr & 15) || im->stack_addr < sv->start ||
	    im->stack_addr + im->stack_len != sv->end)
		return pm__err(PM_ECORRUPT, "image: the stack record "
					    "%llx+%llx is not the top of "
					    "[stack] %llx-%llx",
			       (ull)im->stack_addr, (ull)im->stack_len,
			       (ull)sv->start, (ull)sv->end);
	if (p->argv >= im->str_len || p->argv_len > im->str_len - p->argv ||
	    p->argc == 0 || p->exe >= im->str_len || p->tid_off < 64 ||
	    p->tid_off >= 2048 || (p->tid_off & 3))
		return pm__err(PM_ECORRUPT, "image: process record: argv, "
					    "executable or tid offset out "
					    "of range");
	/* the writer's context and its records agree: the stack record
	 * starts at the saved stack pointer, the thread pointer is the
	 * process record's (a resume checks that one against this process
	 * and then loads the context's) */
	uint64_t rsp, fs;
	memcpy(&rsp, im->cpu + offsetof(struct pm__ctx, rsp), 8);
	memcpy(&fs, im->cpu + offsetof(struct pm__ctx, fsbase), 8);
	if (rsp != im->stack_addr || fs != p->fsbase)
		return pm__err(PM_ECORRUPT, "image: the CPU record's stack "
					    "pointer %llx and thread pointer "
					    "%llx are not the stack record's "
					    "%llx and the process record's "
					    "%llx",
			       (ull)rsp, (ull)fs, (ull)im->stack_addr,
			       (ull)p->fsbase);
	uint32_t nul = 0;
	for (uint32_t k = 0; k < p->argv_len; k++)
		nul += im->str[p->argv + k] == '\0';
	if (nul != p->argc || im->str[p->argv + p->argv_len - 1] != '\0')
		return pm__err(PM_ECORRUPT, "image: process record: %u "
					    "arguments, %u strings",
			       p->argc, nul);
	if (p->brk_end < p->brk_start || p->vdso_len > (1u << 20))
		return pm__err(PM_ECORRUPT, "image: process record: brk or "
					    "vdso");
	/* the break: the writer's [heap] mapping is [brk_start, the break
	 * rounded up to a page); without one the break never moved.  A
	 * resume moves this process's break there. */
	const struct pmf_vma *hv = NULL;
	uint64_t ps = ck->h.page_size;
	for (uint32_t i = 0; i < im->nvma; i++)
		if (im->vma[i].flags & PMF_VMAF_HEAP) {
			if (hv)
				return pm__err(PM_ECORRUPT, "image: two [heap] "
							    "mappings");
			hv = &im->vma[i];
		}
	if (hv ? hv->start != p->brk_start ||
		     hv->end != ((p->brk_end + ps - 1) & ~(ps - 1)) ||
		     p->brk_end <= p->brk_start
	       : p->brk_end != p->brk_start)
		return pm__err(PM_ECORRUPT, "image: the break %llx-%llx is not "
					    "the [heap] mapping's",
			       (ull)p->brk_start, (ull)p->brk_end);
	/* a resume hashes vdso_len bytes at vdso: the mapping's, no more */
	const struct pmf_vma *vd = NULL;
	for (uint32_t i = 0; i < im->nvma && !vd; i++)
		if (im->vma[i].start == p->vdso &&
		    im->vma[i].vclass == PMF_VMA_KERNEL)
			vd = &im->vma[i];
	if (p->vdso ? !vd || vd->end - vd->start != p->vdso_len
		    : p->vdso_len != 0)
		return pm__err(PM_ECORRUPT, "image: process record: the vDSO "
					    "at %llx, %llu bytes, is not one "
					    "of its kernel mappings",
			       (ull)p->vdso, (ull)p->vdso_len);
	return 0;
}

/* The mapping of the image that holds [a, a + n), or NULL. */
static const struct pmf_vma *vma_of(const struct pm__image *im, uint64_t a,
				    uint64_t n)
{
	for (uint32_t i = 0; i < im->nvma; i++)
		if (im->vma[i].start <= a && a < im->vma[i].end)
			return n <= im->vma[i].end - a ? &im->vma[i] : NULL;
	return NULL;
}

/* Is [a, a+n) covered by writable mappings without a gap?  (A static
 * buffer may begin in a data segment's file page and end in its bss.) */
#define writable pm__image_writable
int pm__image_writable(const struct pm__image *im, uint64_t a, uint64_t n)
{
	if (!n || a + n < a)
		return 0;
	for (uint64_t at = a; at < a + n;) {
		const struct pmf_vma *v = vma_of(im, at, 1);
		if (!v || !(v->prot & PMF_PROT_WRITE))
			return 0;
		at = v->end;
	}
	return 1;
}

/* Handlers and restorers are code of the image, the alternate stack its
 * writable memory: a damaged address would fault only when a signal
 * comes, long after the resume. */
static int check_signal_addrs(const struct pm__image *im)
{
	const struct pmf_signals *s = (const struct pmf_signals *)im->signals;
	for (int sig = 1; sig <= PMF_NSIG; sig++) {
		const struct pmf_sigaction *a = &s->act[sig - 1];
		const struct pmf_vma *h = vma_of(im, a->handler, 1);
		const struct pmf_vma *r = vma_of(im, a->restorer, 1);
		if ((a->handler > 1 && (!h || !(h->prot & PMF_PROT_EXEC))) ||
		    ((a->flags & PMF_SA_RESTORER) &&
		     (!r || !(r->prot & PMF_PROT_EXEC))))
			return pm__err(PM_ECORRUPT, "image: signal %d: handler "
						    "%llx or restorer %llx is "
						    "not in the image's code",
				       sig, (ull)a->handler,
				       (ull)a->restorer);
	}
	if (!(s->ss_flags & 2 /* SS_DISABLE */) &&
	    !writable(im, s->ss_sp, s->ss_size))
		return pm__err(PM_ECORRUPT, "image: the alternate signal stack "
					    "%llx+%llx is not in the image's "
					    "writable memory",
			       (ull)s->ss_sp, (ull)s->ss_size);
	return 0;
}

static int one(const struct pm__ckpt *ck, uint32_t i, int *seen)
{
	if (*seen)
		return pm__ckpt_bad_section(i, &ck->sec[i],
					    "a second record of its kind");
	*seen = 1;
	return 0;
}

int pm__image_parse(const struct pm__ckpt *ck, const unsigned char *rec,
		    struct pm__image *im)
{
	int seen[PMF_SEC_MAX_KIND + 1] = {0};
	int rc;
	memset(im, 0, sizeof *im);
	if (ck->h.kind != PMF_KIND_IMAGE)
		return pm__err(-EINVAL, "not a process image (a checkpoint: "
					"restore it with pm_restore or "
					"pmalloc run --restore)");
	for (uint32_t i = 0; i < ck->h.nsections; i++) {
		const struct pmf_section *s = &ck->sec[i];
		const unsigned char *d = rec + s->data_off;
		if (s->kind == PMF_SEC_PAGES)
			continue;
		if (pm__crc32c(0, d, s->len) != s->data_crc)
			return pm__ckpt_bad_section(i, s, "data checksum "
							  "mismatch");
		for (uint64_t k = s->len; k & 7; k++)
			if (d[k])
				return pm__ckpt_bad_section(i, s, "padding after "
								  "the record is "
								  "not zero");
		if (s->kind != PMF_SEC_FILEDATA &&
		    (rc = one(ck, i, &seen[s->kind])))
			return rc;
		if (s->kind == PMF_SEC_FILEDATA) {
			if (im->nfiledata == PMF_MAX_OTHER_SECTIONS)
				return pm__ckpt_bad_section(i, s, "too many");
			im->filedata[im->nfiledata].p = d;
			im->filedata[im->nfiledata++].len = s->len;
		}
		switch (s->kind) {
		case PMF_SEC_VMAS:
			if (s->len % sizeof(struct pmf_vma) ||
			    s->len / sizeof(struct pmf_vma) > PM__IMAGE_MAX_VMAS)
				return pm__ckpt_bad_section(i, s, "length");
			im->vma = (const struct pmf_vma *)d;
			im->nvma = (uint32_t)(s->len / sizeof(struct pmf_vma));
			break;
		case PMF_SEC_STRINGS:
			if (s->len > PM__IMAGE_MAX_STRINGS || d[s->len - 1])
				return pm__ckpt_bad_section(i, s, "length or "
								  "last byte");
			im->str = (const char *)d;
			im->str_len = s->len;
			break;
		case PMF_SEC_STACK:
			im->stack = d;
			im->stack_addr = s->addr;
			im->stack_len = s->len;
			break;
		case PMF_SEC_CPU:
			if (s->len != sizeof(struct pm__ctx))
				return pm__ckpt_bad_section(i, s, "length");
			im->cpu = d;
			break;
		case PMF_SEC_PROC:
			if (s->len != sizeof(struct pmf_proc))
				return pm__ckpt_bad_section(i, s, "length");
			im->proc = (const struct pmf_proc *)d;
			break;
		case PMF_SEC_SIGNALS:
			im->signals = d;
			im->signals_len = s->len;
			break;
		case PMF_SEC_FDS:
			im->fds = d;
			im->fds_len = s->len;
			break;
		}
	}
	if (!im->vma || !im->str || !im->stack || !im->cpu || !im->proc ||
	    !im->signals || !im->fds)
		return pm__err(PM_ECORRUPT, "image: a record is missing "
					    "(mappings, strings, stack, cpu, "
					    "process, signals or descriptors)");
	if ((rc = check_vmas(ck, im)) || (rc = check_pages(ck, im)) ||
	    (rc = check_proc(ck, im)))
		return rc;
	if ((rc = pm__ks_check_records(im->signals, im->signals_len, im->fds,
				       im->fds_len, im->filedata,
				       im->nfiledata)))
		return rc;
	return check_signal_addrs(im);
}

#ifndef PM_CKPT_PARSE_ONLY /* the fuzzer links the parser alone */
int pm__image_open(const char *path, struct pm__ckpt *ck, struct pm__image *im)
{
	memset(im, 0, sizeof *im);
	int rc = pm__ckpt_open(path, ck);
	if (rc || ck->h.kind != PMF_KIND_IMAGE)
		return rc;
	if (ck->h.heap_off > PM__IMAGE_MAX_RECORDS) {
		pm__ckpt_close(ck);
		return pm__err(PM_ECORRUPT, "image: %llu bytes of records (at "
					    "most %llu)",
			       (ull)ck->h.heap_off, (ull)PM__IMAGE_MAX_RECORDS);
	}
	size_t len = (size_t)ck->h.heap_off;
	unsigned char *rec = pm__scratch(len ? len : 1);
	if (!rec) {
		pm__ckpt_close(ck);
		return pm__err(-ENOMEM, "image: no memory for %zu bytes of "
					"records",
			       len);
	}
	struct pm__image tmp;
	if (!(rc = pm__pread_full(ck->fd, rec, len, 0)) &&
	    !(rc = memcmp(rec, ck->map, (size_t)ck->table_end)
			   ? pm__err(PM_ECORRUPT, "image: the file changed "
						  "while it was read")
			   : 0) &&
	    !(rc = pm__image_parse(ck, rec, &tmp))) {
		*im = tmp;
		im->rec = rec;
		im->rec_len = len;
		return 0;
	}
	pm__scratch_free(rec, len ? len : 1);
	pm__ckpt_close(ck);
	return rc;
}

void pm__image_close(struct pm__ckpt *ck, struct pm__image *im)
{
	if (im->rec)
		pm__scratch_free(im->rec, im->rec_len ? im->rec_len : 1);
	im->rec = NULL;
	pm__ckpt_close(ck);
}
#endif /* !PM_CKPT_PARSE_ONLY */
