/*
 * image_stage.c - the second half of a resume before its point of no
 * return (image_resume.c has checked the file and this process): the
 * staging area, placed in a gap free both here and in the image, gets
 * the plan the restorer runs (image_apply.h), the context, the stack
 * bytes, the kernel state's plan and the restorer's own stack; with a key
 * the image's pages too, read once and checked there.  The plan: unmap
 * what is not kept, map the image's mappings, its pages from the file
 * (read in for code and read-only pages, moved in when keyed), the named
 * files this process lacks.  Everything here is undone by the caller on
 * a refusal (image_resume.c's undo).
 */
#include "image_resume.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <asm/prctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>

typedef unsigned long long ull;

/* ---- 3. staging ---------------------------------------------------------- */

static int free_in_image(const struct pm__image *im, uint64_t lo, uint64_t hi)
{
	for (uint32_t i = 0; i < im->nvma; i++)
		if (im->vma[i].start < hi && lo < im->vma[i].end)
			return 0;
	/* and away from the image's stack guard gap */
	return hi <= im->stack_vma->start - (1ull << 20) ||
	       lo >= im->proc->stack_top;
}

static int free_here(const struct rs *r, uint64_t lo, uint64_t hi)
{
	for (uint32_t i = 0; i < r->l.n; i++)
		if (r->l.v[i].start < hi && lo < r->l.v[i].end)
			return 0;
	return 1;
}

static int try_staging(struct rs *r, uint64_t lo, size_t len)
{
	uint64_t hi = lo + len;
	if (lo < (1ull << 32) || hi < lo || hi > (1ull << 47) ||
	    !free_in_image(&r->im, lo, hi) || !free_here(r, lo, hi))
		return 0;
	if (pm__os_map_at((uintptr_t)lo, len, PROT_READ | PROT_WRITE))
		return 0;
	r->staging = (unsigned char *)(uintptr_t)lo;
	r->staging_len = len;
	return 1;
}

/* A gap free in both layouts (the image's mappings and this process's):
 * the candidates are the ends and starts of every mapping of either,
 * with 64 KiB to spare on each side; a fixed mapping that replaces
 * nothing. */
static int map_staging(struct rs *r, size_t len)
{
	const uint64_t guard = 1u << 16;
	for (int pass = 0; pass < 2; pass++) {
		uint32_t n = pass ? r->l.n : r->im.nvma;
		const struct pmf_vma *v = pass ? r->l.v : r->im.vma;
		for (uint32_t i = n; i-- > 0;) {
			uint64_t above = (v[i].end + 2 * guard) & ~(guard - 1);
			uint64_t below = ((v[i].start - guard) & ~(guard - 1)) - len;
			if (try_staging(r, below, len) ||
			    try_staging(r, above, len))
				return 0;
		}
	}
	return pm__err(-ENOMEM, "no address range free both here and in the "
				"image for the restorer's %zu bytes",
		       len);
}

static int prot_of(uint32_t p)
{
	return (p & PMF_PROT_READ ? PROT_READ : 0) |
	       (p & PMF_PROT_WRITE ? PROT_WRITE : 0) |
	       (p & PMF_PROT_EXEC ? PROT_EXEC : 0);
}

/* Is this process's mapping c kept through the resume? */
static int kept(const struct rs *r, const struct pmf_vma *c)
{
	if (c->vclass == PMF_VMA_KERNEL || c->vclass == PMF_VMA_STACK)
		return 1;
	if (c->vclass != PMF_VMA_NAMED)
		return 0;
	for (uint32_t i = 0; i < r->im.nvma; i++) {
		const struct pmf_vma *v = &r->im.vma[i];
		if (v->start == c->start && v->vclass == PMF_VMA_NAMED)
			return pm__rs_same_mapping(r, v, c);
	}
	return 0;
}

static struct pm__op *op(struct pm__plan *p, uint32_t what, uint64_t addr,
			 uint64_t len, int prot, uint64_t off)
{
	struct pm__op *o = &p->ops[p->nops++];
	o->what = what;
	o->addr = addr;
	o->len = len;
	o->prot = (uint32_t)prot;
	o->off = off;
	return o;
}

/* The lowest number for the resume's own descriptors (the image, the
 * files of named mappings): 1000, or above every descriptor the image
 * records (those numbers are the program's after the resume; its records
 * are checked and in ascending order); right above them when the
 * descriptor limit (ulimit -n 256) leaves no room from 1000 up. */
int pm__rs_high_fd(const struct pm__image *im)
{
	const struct pmf_fds *h = (const struct pmf_fds *)im->fds;
	const struct pmf_fd *rec = (const struct pmf_fd *)(h + 1);
	int top = h->nfds ? rec[h->nfds - 1].fd + 1 : 0;
	struct rlimit rl;
	if (top < 1000 && getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < 1000 + 64)
		return top;
	return top > 1000 ? top : 1000;
}

/* Open the files of the image's named mappings this process lacks
 * (libraries the program loaded later, locale caches): the same file
 * (device, inode) by the recorded name, kept at a high descriptor for
 * the restorer. */
static int open_named(struct rs *r)
{
	const struct pm__image *im = &r->im;
	for (uint32_t i = 0; i < im->nvma; i++)
		r->vfd[i] = -1;
	r->vfd_set = 1;
	for (uint32_t i = 0; i < im->nvma; i++) {
		const struct pmf_vma *v = &im->vma[i];
		if (v->vclass != PMF_VMA_NAMED || pm__rs_cur_at(r, v->start))
			continue;
		const char *name = pm__image_name(im, v->name);
		for (uint32_t k = 0; k < i && r->vfd[i] < 0; k++)
			if (r->vfd[k] >= 0 && im->vma[k].dev == v->dev &&
			    im->vma[k].inode == v->inode)
				r->vfd[i] = r->vfd[k];
		if (r->vfd[i] >= 0)
			continue;
		/* O_PATH first: whatever the name now is (a FIFO, a device)
		 * is not opened for reading until it is known to be the
		 * image's regular file */
		int pfd = open(name, O_PATH | O_CLOEXEC);
		struct stat st;
		int fd = -1;
		if (pfd >= 0 && fstat(pfd, &st) == 0 && S_ISREG(st.st_mode) &&
		    ((uint64_t)major(st.st_dev) << 32 | minor(st.st_dev)) == v->dev &&
		    (uint64_t)st.st_ino == v->inode) {
			char via[40];
			pm__fmt(via, sizeof via, "/proc/self/fd/%d", pfd);
			fd = open(via, O_RDONLY | O_CLOEXEC);
		}
		if (pfd >= 0)
			close(pfd);
		if (fd < 0)
			return pm__err(PM_ELAYOUT, "%s, mapped at %llx in the "
						   "image, is gone or another "
						   "file now",
				       name, (ull)v->start);

		int hi = fcntl(fd, F_DUPFD_CLOEXEC, pm__rs_high_fd(im));
		close(fd);
		if (hi < 0)
			return pm__err(-errno, "cannot keep %s open", name);
		r->vfd[i] = hi;
		r->nvfd++;
	}
	/* every page of each mapping still in its file: a page past the
	 * end would be SIGBUS when the program touches it (a file that
	 * was truncated since) */
	for (uint32_t i = 0; i < im->nvma; i++) {
		const struct pmf_vma *v = &im->vma[i];
		struct stat st;
		if (r->vfd[i] < 0 || fstat(r->vfd[i], &st) != 0)
			continue;
		uint64_t fpages = ((uint64_t)st.st_size + PM_PAGE - 1) &
				  ~(uint64_t)(PM_PAGE - 1);
		if (v->offset + (v->end - v->start) > fpages)
			return pm__err(PM_ELAYOUT, "%s is %llu bytes now, "
						   "shorter than its mapping "
						   "at %llx in the image "
						   "(offset %llu, %llu bytes)",
				       pm__image_name(im, v->name),
				       (ull)st.st_size, (ull)v->start,
				       (ull)v->offset,
				       (ull)(v->end - v->start));
	}
	return 0;
}

void pm__rs_close_named(struct rs *r)
{
	for (uint32_t i = 0; r->vfd_set && i < r->im.nvma; i++) {
		if (r->vfd[i] < 0)
			continue;
		int fd = r->vfd[i];
		for (uint32_t k = i; k < r->im.nvma; k++)
			if (r->vfd[k] == fd)
				r->vfd[k] = -1;
		close(fd);
	}
}

static void plan_memory(struct rs *r, struct pm__plan *p)
{
	const struct pm__image *im = &r->im;
	const struct pm__ckpt *ck = &r->ck;
	for (uint32_t j = 0; j < r->l.n; j++) {
		const struct pmf_vma *c = &r->l.v[j];
		if (!kept(r, c))
			op(p, PM__OP_UNMAP, c->start, c->end - c->start, 0, 0);
	}
	uint32_t s = 0;
	for (uint32_t i = 0; i < im->nvma; i++) {
		const struct pmf_vma *v = &im->vma[i];
		if (v->vclass == PMF_VMA_NAMED && r->vfd[i] >= 0) {
			struct pm__op *o = op(p, PM__OP_MAPFILE, v->start,
					      v->end - v->start,
					      prot_of(v->prot), v->offset);
			o->fd = r->vfd[i];
			o->flags = v->flags & PMF_VMAF_SHARED ? MAP_SHARED
							      : MAP_PRIVATE;
			continue;
		}
		if (v->vclass != PMF_VMA_COPIED)
			continue;
		int prot = prot_of(v->prot);
		int rw = prot & PROT_READ ? PROT_READ | PROT_WRITE : PROT_NONE;
		op(p, PM__OP_ANON, v->start, v->end - v->start, rw, 0);
		for (; s < ck->h.nsections; s++) {
			const struct pmf_section *x = &ck->sec[s];
			if (x->kind != PMF_SEC_PAGES)
				continue;
			if (x->addr >= v->end)
				break;
			/* read-only and code pages are read in: a read-only
			 * private mapping of the image would be "named" in an
			 * image of the resumed process, and a noexec mount
			 * refuses code mapped from it */
			if (r->pages)
				op(p, PM__OP_MOVE, x->addr, x->len, 0,
				   (uintptr_t)r->pages +
					   (x->data_off - ck->h.heap_off));
			else
				op(p, (prot & PROT_EXEC) || !(prot & PROT_WRITE)
					      ? PM__OP_READ
					      : PM__OP_FILE,
				   x->addr, x->len, PROT_READ | PROT_WRITE,
				   x->data_off);
		}
		if (prot != rw)
			op(p, PM__OP_PROTECT, v->start, v->end - v->start, prot,
			   0);
	}
	/* the files' descriptors, each once */
	for (uint32_t i = 0; i < im->nvma; i++) {
		int fd = r->vfd[i], seen = 0;
		for (uint32_t k = 0; k < i && !seen; k++)
			seen = r->vfd[k] == fd;
		if (fd >= 0 && !seen)
			op(p, PM__OP_CLOSE, 0, 0, 0, 0)->fd = fd;
	}
}

static int check_map_count(const struct rs *r)
{
	uint64_t limit = pm__os_sysctl("/proc/sys/vm/max_map_count", 65530);
	uint64_t need = (uint64_t)r->l.n + 2ull * r->im.npages + r->im.nvma +
			64;
	if (need > limit)
		return pm__err(-ENOMEM, "the resume may need %llu mappings; "
					"vm.max_map_count is %llu",
			       (ull)need, (ull)limit);
	return 0;
}

/* The address space the process has after the restorer (what it keeps,
 * the image's mappings, the staging area, [stack] grown to the image's)
 * within RLIMIT_AS: a mapping the limit refuses would fail after the
 * point of no return (pmalloc's region is smaller here when the limit
 * made start-up reserve less). */
static int check_address_space(const struct rs *r)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_AS, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
		return 0;
	const struct pm__image *im = &r->im;
	uint64_t after = r->l.skip_hi - r->l.skip_lo, stack_here = 0;
	for (uint32_t j = 0; j < r->l.n; j++) {
		const struct pmf_vma *c = &r->l.v[j];
		if (c->vclass == PMF_VMA_STACK)
			stack_here = c->end - c->start;
		if (kept(r, c))
			after += c->end - c->start;
	}
	for (uint32_t i = 0; i < im->nvma; i++) {
		const struct pmf_vma *v = &im->vma[i];
		const struct pmf_vma *c = pm__rs_cur_at(r, v->start);
		if (v->vclass == PMF_VMA_COPIED ||
		    (v->vclass == PMF_VMA_NAMED && !(c && kept(r, c))))
			after += v->end - v->start;
	}
	uint64_t stack_img = im->stack_vma->end - im->stack_vma->start;
	if (stack_img > stack_here)
		after += stack_img - stack_here;
	if (after > (uint64_t)rl.rlim_cur)
		return pm__err(-ENOMEM, "the image needs %llu MiB of address "
					"space; the limit (ulimit -v) is %llu "
					"MiB",
			       (ull)(after >> 20), (ull)(rl.rlim_cur >> 20));
	return 0;
}

static int stage_pages(struct rs *r);

int pm__rs_stage(struct rs *r, struct pm__plan **out)
{
	const struct pm__image *im = &r->im;
	uint64_t maxops = (uint64_t)r->l.n + 64 + 3ull * im->nvma + im->npages;
	size_t kslen = pm__ks_plan_size(im->fds, (size_t)im->fds_len);
	if (!kslen)
		return pm__err(PM_ECORRUPT, "image: the descriptors' record");
	size_t len = sizeof(struct pm__plan) + maxops * sizeof(struct pm__op) +
		     (size_t)im->stack_len + 64 + kslen + RESTORER_STACK + 8192 +
		     2 * PM_PAGE;
	len = (len + PM_PAGE - 1) & ~(size_t)(PM_PAGE - 1);
	size_t pages_len = r->keyed ? (size_t)(r->ck.h.file_size -
					       r->ck.h.heap_off)
				    : 0;
	int rc = map_staging(r, len + pages_len);
	if (rc)
		return rc;
	if (pages_len) {
		/* the pages first, the plan after them (its end holds the
		 * restorer's stack) */
		r->pages = r->staging;
		r->staging += pages_len;
		r->staging_len -= pages_len;
		if ((rc = stage_pages(r)))
			return rc;
	}
	struct pm__plan *p = (struct pm__plan *)r->staging;
	memcpy(&p->ctx, im->cpu, sizeof p->ctx);
	p->ops = (struct pm__op *)(p + 1);
	unsigned char *stack = (unsigned char *)(p->ops + maxops);
	memcpy(stack, im->stack, (size_t)im->stack_len);
	p->stack = stack;
	size_t inh_len;
	void *inh = pm__ks_inherited_table(&inh_len);
	if (inh_len > 8192)
		pm__fatal("resume: the inherited table outgrew its room", NULL);
	unsigned char *inh_copy = stack + im->stack_len;
	memcpy(inh_copy, inh, inh_len);
	p->inh_addr = inh;
	p->inh_bytes = inh_copy;
	p->inh_len = inh_len;
	r->ks_mem = (void *)(((uintptr_t)inh_copy + inh_len + 63) &
			     ~(uintptr_t)63);
	r->ks_len = kslen;
	p->stack_addr = im->stack_addr;
	p->stack_len = im->stack_len;
	p->stack_hi = ((uintptr_t)r->staging + len) & ~(uintptr_t)15;
	p->tid_addr = im->proc->fsbase + im->proc->tid_off;
	p->staging_var = pm__image_staging;
	p->staging = (uintptr_t)r->staging;
	p->staging_len = len;
	/* the break moved first: the plan built from the list below must
	 * see (and replace) the [heap] it makes, or the restorer's mapping
	 * of the image's [heap] finds it in the way */
	if (im->proc->brk_end != r->brk_old) {
		if ((uint64_t)syscall(SYS_brk, im->proc->brk_end) !=
		    im->proc->brk_end)
			return pm__err(-ENOMEM, "cannot move the break to %llx",
				       (ull)im->proc->brk_end);
		r->brk_moved = 1;
	}
	/* this process's mappings again, the staging area now among them */
	r->l.skip_lo = (uintptr_t)(r->pages ? r->pages : r->staging);
	r->l.skip_hi = (uintptr_t)r->staging + len;
	if ((rc = pm__rs_list_current(r)) || (rc = pm__rs_check_mappings(r)) ||
	    (rc = check_map_count(r)) || (rc = check_address_space(r)) ||
	    (rc = open_named(r)))
		return rc;
	plan_memory(r, p);
	if (p->nops > maxops)
		pm__fatal("resume: the plan overran its room", NULL);
	*out = p;
	return 0;
}

/* glibc (2.35 and later) registers an rseq area for each thread and
 * says where: __rseq_offset from the thread pointer, __rseq_size. */
extern const ptrdiff_t __rseq_offset __attribute__((weak));
extern const unsigned int __rseq_size __attribute__((weak));
#define RSEQ_SIG_X86 0x53053053u
#define RSEQ_FLAG_UNREGISTER 1

/* Unregister this thread's rseq area (image_apply.h says why); the last
 * step before the point of no return. */
int pm__rs_rseq_off(struct pm__plan *p)
{
	p->rseq_len = 0;
	if (!&__rseq_size || !&__rseq_offset || !__rseq_size)
		return 0;
	uint64_t fs = 0;
	syscall(SYS_arch_prctl, ARCH_GET_FS, &fs);
	p->rseq_addr = fs + (uint64_t)__rseq_offset;
	p->rseq_sig = RSEQ_SIG_X86;
	uint32_t lens[2] = {32, __rseq_size};
	for (int i = 0; i < 2; i++) {
		if (syscall(SYS_rseq, p->rseq_addr, lens[i],
			    RSEQ_FLAG_UNREGISTER, p->rseq_sig) == 0) {
			p->rseq_len = lens[i];
			return 0;
		}
		if (errno == ENOSYS)
			return 0;
	}
	return pm__err(-errno, "cannot unregister the thread's rseq area at "
			       "%llx",
		       (ull)p->rseq_addr);
}

/* The kernel state (image_kstate.h): files opened and checked, written
 * files recreated in temporaries, in the staging area; the resume's own
 * descriptors (the image, the files of named mappings) kept open. */
int pm__rs_prepare_kstate(struct rs *r, struct pm__plan *p)
{
	int *keep = (int *)(r->scratch + 8192), nkeep = 0;
	keep[nkeep++] = r->fd;
	for (uint32_t i = 0; r->vfd_set && i < r->im.nvma; i++) {
		int seen = r->vfd[i] < 0;
		for (int k = 0; k < nkeep && !seen; k++)
			seen = keep[k] == r->vfd[i];
		if (!seen)
			keep[nkeep++] = r->vfd[i];
	}
	const struct pm__image *im = &r->im;
	int rc = pm__ks_prepare(im->signals, (size_t)im->signals_len, im->fds,
				(size_t)im->fds_len, im->filedata,
				im->nfiledata, keep, nkeep, r->ks_mem,
				r->ks_len, &r->ks);
	if (rc) {
		r->ks = NULL;
		return rc;
	}
	p->ks = r->ks;
	return 0;
}

/* A keyed resume: the pages read once into the staging area, their crcs
 * and the file's MAC computed over those very bytes, which the restorer
 * then moves into place (a file rewritten after the check changes
 * nothing). */
static int stage_pages(struct rs *r)
{
	const struct pm__ckpt *ck = &r->ck;
	uint64_t len = ck->h.file_size - ck->h.heap_off;
	int rc = len ? pm__pread_full(ck->fd, r->pages, (size_t)len,
				      ck->h.heap_off)
		     : 0;
	if (rc)
		return rc;
	for (uint32_t i = 0; i < ck->h.nsections; i++) {
		const struct pmf_section *x = &ck->sec[i];
		if (x->kind == PMF_SEC_PAGES &&
		    pm__crc32c(0, r->pages + (x->data_off - ck->h.heap_off),
			       (size_t)x->len) != x->data_crc)
			return pm__ckpt_bad_section(i, x, "data checksum "
							  "mismatch");
	}
	struct pm__sha256 body;
	unsigned char bh[PM_SHA256_LEN];
	pm__sha256_init(&body);
	pm__sha256_update(&body, r->im.rec + ck->table_end,
			  (size_t)(ck->h.heap_off - ck->table_end));
	pm__sha256_update(&body, r->pages, (size_t)len);
	pm__sha256_final(&body, bh);
	r->keyed = 0; /* hm is finished and wiped by the check */
	return pm__ckpt_mac_check(ck, &r->hm, bh);
}
