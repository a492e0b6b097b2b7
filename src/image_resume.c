/*
 * image_resume.c - resume a process image (docs/IMAGE.md section 4):
 * validate it against this process, stage what the restorer needs, then
 * hand over to image_apply.c, which does not return.
 *
 * Runs from pmalloc's __libc_start_main (PMALLOC_RESUME=IMAGE, set by
 * `pmalloc run --resume`): every library's constructors have run, the
 * executable's have not.  Everything here can fail and then undoes what
 * it did (the staging area, the break), so that a refused image leaves the
 * process as it was and the program runs from main():
 *
 *   1. the file: trust (owner, mode), header, records, data crcs (unless
 *      PMALLOC_RESUME_VERIFY=0), MAC when a key is configured;
 *   2. this process against the image: the executable and every loaded
 *      object (build-id, size, mtime, address), the command line, every
 *      named mapping present here as the same file at the same place,
 *      the kernel's mappings and the vDSO's bytes, the CPU (its extended
 *      state, CPUID leaves 1 and 7, hwcaps), the stack top and limit,
 *      the thread pointer (the kernel holds addresses in the TLS block:
 *      rseq, the robust list, the tid word), the break;
 *   3. staging: a gap free here and in the image gets the plan, the
 *      context, the stack bytes and the restorer's stack; the break is
 *      moved to the image's; the count of mappings is checked;
 *   4. one thread, checked last; then pm__image_apply.
 */
#include "image.h"
#include "image_apply.h"
#include "sha256.h"

#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <asm/prctl.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>

typedef unsigned long long ull;

#define RESTORER_STACK (64u << 10)

struct rs {
	struct pm__ckpt ck;
	struct pm__image im;
	struct pm_object *cur;  /* this process's objects */
	int ncur;
	struct pm__vmalist l;   /* this process's mappings */
	unsigned char *scratch;
	size_t scratch_len;
	uint64_t brk_old;
	int brk_moved;
	unsigned char *staging;
	size_t staging_len;
	int fd;
	int keyed;              /* a key is configured: the pages are read
				 * into staging and checked there */
	struct pm__hmac_sha256 hm;
	unsigned char *pages;   /* keyed: [heap_off, file_size) in staging */
	void *ks_mem;           /* the kernel state's plan, in staging */
	size_t ks_len;
	struct pm__ks_plan *ks;
	int *vfd;               /* per image mapping: its file, or -1 */
	uint32_t nvfd;
	int vfd_set;            /* vfd[0, nvma) are set */
};

static size_t scratch_size(void)
{
	return PMF_MAX_OBJECTS * sizeof(struct pm_object) +
	       PM__IMAGE_MAX_VMAS * (sizeof(struct pmf_vma) + sizeof(int)) +
	       PM__IMAGE_MAX_STRINGS + PM__PAGEMAP_BATCH * 8 + 4096;
}

static int list_current(struct rs *r)
{
	r->l.n = 0;
	r->l.slen = 0;
	return pm__image_vmas(&r->l);
}

/* ---- 2. this process against the image ------------------------------- */

static const char *cur_name(const struct rs *r, const struct pmf_vma *v)
{
	return v->name == PMF_NO_NAME ? "" : r->l.str + v->name;
}

static const struct pmf_vma *cur_at(const struct rs *r, uint64_t start)
{
	for (uint32_t i = 0; i < r->l.n; i++)
		if (r->l.v[i].start == start)
			return &r->l.v[i];
	return NULL;
}

/* Is the image's named or kernel mapping v here, the same? */
static int same_mapping(const struct rs *r, const struct pmf_vma *v,
			const struct pmf_vma *c)
{
	return c && c->end == v->end && c->prot == v->prot &&
	       c->vclass == v->vclass && c->offset == v->offset &&
	       (c->flags & PMF_VMAF_SHARED) == (v->flags & PMF_VMAF_SHARED) &&
	       c->dev == v->dev && c->inode == v->inode &&
	       !strcmp(cur_name(r, c), pm__image_name(&r->im, v->name));
}

static int check_mappings(struct rs *r)
{
	const struct pm__image *im = &r->im;
	for (uint32_t i = 0; i < im->nvma; i++) {
		const struct pmf_vma *v = &im->vma[i];
		if (v->vclass != PMF_VMA_NAMED && v->vclass != PMF_VMA_KERNEL)
			continue;
		const struct pmf_vma *c = cur_at(r, v->start);
		if (!c && v->vclass == PMF_VMA_NAMED)
			continue; /* mapped from its file (map_named) */
		if (!same_mapping(r, v, c))
			return pm__err(PM_ELAYOUT,
				       "%s at %llx-%llx is not mapped here as "
				       "it was in the image%s",
				       pm__image_name(im, v->name),
				       (ull)v->start, (ull)v->end,
				       c ? " (another file, size or "
					   "protection)"
					 : "");
	}
	/* every copied mapping of the image lands on memory the restorer
	 * may replace: nothing kept (named, kernel, [stack]) is in the way,
	 * and the kernel lets a process map there (vm.mmap_min_addr) */
	uint64_t min_addr = pm__os_sysctl("/proc/sys/vm/mmap_min_addr", 65536);
	for (uint32_t i = 0; i < im->nvma; i++) {
		const struct pmf_vma *v = &im->vma[i];
		if (v->vclass != PMF_VMA_COPIED &&
		    (v->vclass != PMF_VMA_NAMED || cur_at(r, v->start)))
			continue;
		if (v->start < min_addr)
			return pm__err(PM_ELAYOUT, "the image's memory at "
						   "%llx-%llx is below "
						   "vm.mmap_min_addr (%llu)",
				       (ull)v->start, (ull)v->end,
				       (ull)min_addr);
		for (uint32_t j = 0; j < r->l.n; j++) {
			const struct pmf_vma *c = &r->l.v[j];
			if (c->vclass == PMF_VMA_COPIED || c->end <= v->start ||
			    c->start >= v->end)
				continue;
			if (c->vclass == PMF_VMA_NAMED &&
			    !same_mapping(r, c, cur_at(r, c->start)))
				continue;
			return pm__err(PM_ELAYOUT,
				       "the image's memory at %llx-%llx "
				       "overlaps %s here (%llx-%llx)",
				       (ull)v->start, (ull)v->end,
				       cur_name(r, c)[0] ? cur_name(r, c)
							 : "a mapping",
				       (ull)c->start, (ull)c->end);
		}
	}
	return 0;
}

static int same_object(const struct pmf_object *f, const struct pm_object *c)
{
	if (f->build_id_len && c->build_id_len)
		return f->build_id_len == c->build_id_len &&
		       !memcmp(f->build_id, c->build_id, c->build_id_len);
	return f->size == c->size && f->mtime == c->mtime;
}

/* The executable must be the image's; every object loaded here must be
 * the image's at the same address; an object the image had loaded later
 * (dlopen) and this process has not is mapped from its file, which must
 * not have changed (size, mtime; the mappings' device and inode are
 * checked when they are opened). */
static int check_objects(struct rs *r)
{
	const struct pmf_object *f = r->ck.obj;
	if (r->ncur < 1 || !same_object(&f[0], &r->cur[0]) ||
	    f[0].load != r->cur[0].load)
		return pm__err(PM_EEXEC, "the image was made by %s (%llu bytes, "
					 "mtime %llu); this is %s (%llu bytes, "
					 "mtime %llu)%s",
			       f[0].path, (ull)f[0].size, (ull)f[0].mtime,
			       r->ncur > 0 ? r->cur[0].path : "?",
			       (ull)(r->ncur > 0 ? r->cur[0].size : 0),
			       (ull)(r->ncur > 0 ? r->cur[0].mtime : 0),
			       r->ncur > 0 && f[0].load != r->cur[0].load
				       ? ", loaded elsewhere"
				       : "");
	for (int j = 1; j < r->ncur; j++) {
		const struct pm_object *c = &r->cur[j];
		const struct pmf_object *o = NULL;
		for (uint32_t i = 1; i < r->ck.h.nobjects && !o; i++)
			if (!strcmp(f[i].path, c->path))
				o = &f[i];
		if (!o)
			return pm__err(PM_ELAYOUT, "%s is loaded here, not in "
						   "the image",
				       c->path);
		if (o->load != c->load || !same_object(o, c))
			return pm__err(PM_ELAYOUT, "%s differs from the "
						   "image's (another build, "
						   "or loaded elsewhere)",
				       c->path);
	}
	for (uint32_t i = 1; i < r->ck.h.nobjects; i++) {
		int here = 0;
		for (int j = 1; j < r->ncur && !here; j++)
			here = !strcmp(f[i].path, r->cur[j].path);
		struct stat st;
		if (!here && f[i].path[0] &&
		    (stat(f[i].path, &st) != 0 ||
		     (uint64_t)st.st_size != f[i].size ||
		     (uint64_t)st.st_mtime != f[i].mtime))
			return pm__err(PM_ELAYOUT, "%s, loaded by the imaged "
						   "process, is gone or "
						   "changed",
				       f[i].path);
	}
	return 0;
}

static int check_cmdline(struct rs *r)
{
	const struct pmf_proc *p = r->im.proc;
	char *buf = r->l.str; /* free until list_current */
	size_t have = 0;
	int rc = pm__cmdline(buf, r->l.scap, &have);
	if (rc)
		return pm__err(rc, "cannot read the command line");
	if (have != p->argv_len ||
	    memcmp(buf, r->im.str + p->argv, have) != 0)
		return pm__err(PM_ELAYOUT, "the arguments differ from the "
					   "image's (`pmalloc resume IMAGE` "
					   "runs the image's command line)");
	return 0;
}

/* The context returns into pm_image, right after its one call of
 * pm__ctx_save: a direct call (e8 rel32) whose target is pm__ctx_save,
 * in code mapped here as in the image (checked: same library, same
 * place).  Anything else is a damaged return address. */
static int check_return(const struct rs *r, uint64_t ret)
{
	const struct pmf_vma *c = NULL;
	for (uint32_t i = 0; i < r->l.n && !c; i++)
		if (r->l.v[i].start + 5 <= ret && ret <= r->l.v[i].end)
			c = &r->l.v[i];
	unsigned char call[5];
	int32_t rel = 0;
	if (c && c->vclass == PMF_VMA_NAMED && (c->prot & PMF_PROT_READ) &&
	    (c->prot & PMF_PROT_EXEC)) {
		memcpy(call, (const void *)(uintptr_t)(ret - 5), 5);
		memcpy(&rel, call + 1, 4);
		if (call[0] == 0xe8 &&
		    ret + (uint64_t)(int64_t)rel == (uintptr_t)pm__ctx_save)
			return 0;
	}
	return pm__err(PM_ELAYOUT, "CPU state: the return address %llx does "
				   "not follow pmalloc's call that saved it",
		       (ull)ret);
}

static int check_cpu(struct rs *r, struct pm__ctx *ctx)
{
	const struct pmf_proc *p = r->im.proc;
	const char *why = "";
	if (pm__ctx_check(ctx, &why))
		return pm__err(PM_ELAYOUT, "CPU state: %s", why);
	if (check_return(r, ctx->rip))
		return PM_ELAYOUT;
	uint32_t c[8] = {0};
	unsigned a, b, cc, d;
	if (__get_cpuid(1, &a, &b, &cc, &d)) {
		c[0] = a;
		c[1] = b & 0x00ffffffu;
		c[2] = cc;
		c[3] = d;
	}
	if (__get_cpuid_max(0, NULL) >= 7) {
		__cpuid_count(7, 0, a, b, cc, d);
		c[4] = a, c[5] = b, c[6] = cc, c[7] = d;
	}
	if (memcmp(c, p->cpuid, sizeof c) || getauxval(AT_HWCAP) != p->hwcap ||
	    getauxval(AT_HWCAP2) != p->hwcap2)
		return pm__err(PM_ELAYOUT, "another CPU model or feature set "
					   "(CPUID leaves 1 and 7, hwcaps): "
					   "the C library chose its code for "
					   "the image's");
	return 0;
}

static int check_process(struct rs *r)
{
	const struct pmf_proc *p = r->im.proc;
	int rc;
	r->ncur = pm__objects(r->cur, PMF_MAX_OBJECTS);
	if ((rc = check_objects(r)))
		return rc;
	if ((rc = check_cmdline(r)))
		return rc;
	if (getauxval(AT_PHDR) != p->at_phdr ||
	    getauxval(AT_ENTRY) != p->at_entry ||
	    getauxval(AT_BASE) != p->at_base)
		return pm__err(PM_ELAYOUT, "the executable or the loader is "
					   "at another address");
	uint64_t vdso = getauxval(AT_SYSINFO_EHDR);
	if (vdso != p->vdso)
		return pm__err(PM_ELAYOUT, "the vDSO is at %llx, at %llx in "
					   "the image",
			       (ull)vdso, (ull)p->vdso);
	uint64_t fs = 0;
	syscall(SYS_arch_prctl, ARCH_GET_FS, &fs);
	if (fs != p->fsbase)
		return pm__err(PM_ELAYOUT, "the thread pointer is %llx, %llx "
					   "in the image",
			       (ull)fs, (ull)p->fsbase);
	if (!p->tid_off || *(const int32_t *)(uintptr_t)(fs + p->tid_off) !=
				   (int32_t)syscall(SYS_gettid))
		return pm__err(PM_ELAYOUT, "the thread descriptor does not "
					   "hold the thread id at offset %u",
			       p->tid_off);
	struct rlimit rl;
	uint64_t need = p->stack_top - r->im.stack_vma->start;
	if (getrlimit(RLIMIT_STACK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    need > rl.rlim_cur)
		return pm__err(PM_ELAYOUT, "the image's stack needs %llu "
					   "bytes; the limit is %llu",
			       (ull)need, (ull)rl.rlim_cur);
	if ((rc = list_current(r)))
		return rc;
	const struct pmf_vma *st = NULL, *heap = NULL;
	for (uint32_t i = 0; i < r->l.n; i++) {
		if (r->l.v[i].vclass == PMF_VMA_STACK)
			st = &r->l.v[i];
		if (r->l.v[i].flags & PMF_VMAF_HEAP)
			heap = &r->l.v[i];
	}
	/* hashed where this process has it, as many bytes as it has: a
	 * larger vDSO in the image (another kernel, a damaged length) must
	 * not read past this one */
	const struct pmf_vma *vd = vdso ? cur_at(r, vdso) : NULL;
	if (vdso && (!vd || vd->end - vd->start != p->vdso_len))
		return pm__err(PM_ELAYOUT, "the vDSO here is %llu bytes, %llu "
					   "in the image (another kernel)",
			       (ull)(vd ? vd->end - vd->start : 0),
			       (ull)p->vdso_len);
	if (vdso) {
		unsigned char h[PM_SHA256_LEN];
		pm__sha256((const void *)(uintptr_t)vdso, (size_t)p->vdso_len,
			   h);
		if (memcmp(h, p->vdso_sha, sizeof h))
			return pm__err(PM_ELAYOUT, "the kernel's vDSO differs "
						   "from the image's (another "
						   "kernel)");
	}
	if (!st || st->end != p->stack_top)
		return pm__err(PM_ELAYOUT, "the stack ends at %llx, at %llx in "
					   "the image",
			       (ull)(st ? st->end : 0), (ull)p->stack_top);
	r->brk_old = (uint64_t)syscall(SYS_brk, 0);
	uint64_t brk_start = heap ? heap->start : r->brk_old;
	if (brk_start != p->brk_start)
		return pm__err(PM_ELAYOUT, "the break starts at %llx, at %llx "
					   "in the image",
			       (ull)brk_start, (ull)p->brk_start);
	return check_mappings(r);
}

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
	void *m = mmap((void *)(uintptr_t)lo, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE |
			       MAP_FIXED_NOREPLACE,
		       -1, 0);
	if (m == MAP_FAILED)
		return 0;
	if ((uintptr_t)m != lo) {
		munmap(m, len);
		return 0;
	}
	r->staging = m;
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
			return same_mapping(r, v, c);
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
 * are checked and in ascending order). */
static int high_fd(const struct pm__image *im)
{
	const struct pmf_fds *h = (const struct pmf_fds *)im->fds;
	const struct pmf_fd *rec = (const struct pmf_fd *)(h + 1);
	int top = h->nfds ? rec[h->nfds - 1].fd + 1 : 0;
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
		if (v->vclass != PMF_VMA_NAMED || cur_at(r, v->start))
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

		int hi = fcntl(fd, F_DUPFD_CLOEXEC, high_fd(im));
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

static void close_named(struct rs *r)
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

static int stage_pages(struct rs *r);

static int stage(struct rs *r, struct pm__plan **out)
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
	if ((rc = list_current(r)) || (rc = check_mappings(r)) ||
	    (rc = check_map_count(r)) || (rc = open_named(r)))
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
static int rseq_off(struct pm__plan *p)
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

/* ---- the whole resume ------------------------------------------------------ */

/* The kernel state (image_kstate.h): files opened and checked, written
 * files recreated in temporaries, in the staging area; the resume's own
 * descriptors (the image, the files of named mappings) kept open. */
static int prepare_kstate(struct rs *r, struct pm__plan *p)
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

static void undo(struct rs *r)
{
	if (r->ks)
		pm__ks_undo(r->ks);
	if (r->brk_moved)
		syscall(SYS_brk, r->brk_old);
	if (r->pages)
		munmap(r->pages, (size_t)(r->staging - r->pages) + r->staging_len);
	else if (r->staging)
		munmap(r->staging, r->staging_len);
	if (r->keyed)
		pm__wipe(&r->hm, sizeof r->hm);
	if (r->fd >= 0)
		close(r->fd);
	close_named(r);
	pm__image_close(&r->ck, &r->im);
	if (r->scratch)
		pm__scratch_free(r->scratch, r->scratch_len);
}

static int open_checked(struct rs *r, const char *path)
{
	int rc = pm__image_open(path, &r->ck, &r->im);
	if (rc)
		return rc;
	if (!r->im.rec)
		return pm__err(-EINVAL, "%s is a checkpoint, not a process "
					"image (pmalloc run --restore)",
			       path);
	const char *any = pm__env("PMALLOC_TRUST_ANY_OWNER");
	unsigned flags = any && !strcmp(any, "1") ? PM_RESTORE_ANY_OWNER : 0;
	if ((rc = pm__ckpt_check_trust(&r->ck, flags)))
		return rc;
	rc = pm__key_hmac(&r->hm, "resume");
	if (rc < 0)
		return rc;
	r->keyed = rc;
	if (r->keyed) { /* checked on the staged bytes (stage_pages) */
		if (!(r->ck.h.flags & PMF_FLAG_MAC))
			return pm__err(PM_EAUTH, "the image has no MAC and a "
						 "key is configured");
		return 0;
	}
	const char *v = pm__env("PMALLOC_RESUME_VERIFY");
	if (!(v && !strcmp(v, "0")) && (rc = pm__ckpt_verify_data(&r->ck)))
		return rc;
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

int pm__image_resume(const char *path)
{
	struct rs r;
	struct pm__plan *p = NULL;
	int rc;
	memset(&r, 0, sizeof r);
	r.fd = -1;
	r.ck.fd = -1;
	r.scratch_len = scratch_size();
	r.scratch = pm__scratch(r.scratch_len);
	if (!r.scratch)
		return pm__err(-ENOMEM, "no scratch memory");
	uintptr_t at = (uintptr_t)r.scratch;
	r.cur = (struct pm_object *)at;
	at += PMF_MAX_OBJECTS * sizeof(struct pm_object);
	r.l.v = (struct pmf_vma *)at;
	at += PM__IMAGE_MAX_VMAS * sizeof(struct pmf_vma);
	r.vfd = (int *)at;
	at += PM__IMAGE_MAX_VMAS * sizeof(int);
	r.l.str = (char *)at;
	at += PM__IMAGE_MAX_STRINGS;
	r.l.pm = (uint64_t *)((at + 7) & ~(uintptr_t)7);
	r.l.cap = PM__IMAGE_MAX_VMAS;
	r.l.scap = PM__IMAGE_MAX_STRINGS;
	r.l.current = 1;
	r.l.pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);

	if (!(rc = open_checked(&r, path)) && !(rc = check_process(&r))) {
		struct pm__ctx *ctx = (struct pm__ctx *)r.scratch; /* (64-aligned) */
		memcpy(ctx, r.im.cpu, sizeof *ctx);
		rc = check_cpu(&r, ctx);
	}
	if (!rc)
		rc = stage(&r, &p);
	if (!rc) {
		r.fd = fcntl(r.ck.fd, F_DUPFD_CLOEXEC, high_fd(&r.im));
		if (r.fd < 0)
			rc = pm__err(-errno, "cannot keep the image open");
	}
	if (!rc)
		rc = prepare_kstate(&r, p);
	if (!rc) {
		int nt = pm__thread_count();
		if (nt != 1)
			rc = pm__err(-EBUSY, "%d threads run here (a library "
					     "started one); the image has one",
				     nt);
	}
	if (rc) {
		if (r.l.pagemap >= 0)
			close(r.l.pagemap);
		undo(&r);
		return rc;
	}
	if (!rc)
		rc = rseq_off(p);
	if (rc) {
		if (r.l.pagemap >= 0)
			close(r.l.pagemap);
		undo(&r);
		return rc;
	}
	/* ---- the point of no return ---- */
	p->fd = r.fd;
	if (r.l.pagemap >= 0)
		close(r.l.pagemap);
	pm__image_close(&r.ck, &r.im);
	pm__image_apply(p);
}

int pm__resume_at_startup(void)
{
	char path[4096], line[1024];
	const char *v = pm__env("PMALLOC_RESUME");
	if (!v || !v[0])
		return 0;
	pm__env_copy(v, path, sizeof path);
	/* the region first, as a normal run has it before main(): the
	 * resume's scratch and the globals table it makes go after it, where
	 * a normal run puts pmalloc's own pages (a refusal then leaves the
	 * layout a normal run has) */
	pm__ensure_init();
	int rc = pm__image_resume(path);
	pm__env_remove("PMALLOC_RESUME"); /* not for our children */
	pm__say_line(line, sizeof line, "pmalloc: not resumed: %s: %s", path,
		     pm_errmsg());
	return rc;
}
