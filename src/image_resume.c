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
 *   3. staging (image_stage.c): a gap free here and in the image gets
 *      the plan, the context, the stack bytes and the restorer's stack;
 *      the break is moved to the image's; the count of mappings is
 *      checked; the kernel state is prepared;
 *   4. one thread, checked last; then pm__image_apply.
 */
#include "image_resume.h"

#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <asm/prctl.h>
#include <sys/auxv.h>
#include <sys/resource.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>

typedef unsigned long long ull;

static size_t scratch_size(void)
{
	return PMF_MAX_OBJECTS * sizeof(struct pm_object) +
	       PM__IMAGE_MAX_VMAS * (sizeof(struct pmf_vma) + sizeof(int)) +
	       PM__IMAGE_MAX_STRINGS + PM__PAGEMAP_BATCH * 8 + 4096;
}

int pm__rs_list_current(struct rs *r)
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

const struct pmf_vma *pm__rs_cur_at(const struct rs *r, uint64_t start)
{
	for (uint32_t i = 0; i < r->l.n; i++)
		if (r->l.v[i].start == start)
			return &r->l.v[i];
	return NULL;
}

/* Is the image's named or kernel mapping v here, the same? */
int pm__rs_same_mapping(const struct rs *r, const struct pmf_vma *v,
			const struct pmf_vma *c)
{
	return c && c->end == v->end && c->prot == v->prot &&
	       c->vclass == v->vclass && c->offset == v->offset &&
	       (c->flags & PMF_VMAF_SHARED) == (v->flags & PMF_VMAF_SHARED) &&
	       c->dev == v->dev && c->inode == v->inode &&
	       !strcmp(cur_name(r, c), pm__image_name(&r->im, v->name));
}

/* The data segments of the objects loaded here (a writable private file
 * mapping, and the anonymous bss right after it) were writable when the
 * loader made them, as they are here: in the image they are writable too
 * (a program that made its own data read-only after main is refused, a
 * cache miss; a damaged protection would fault at the first store). */
static int check_data_segments(const struct rs *r)
{
	const struct pmf_vma *prev = NULL;
	for (uint32_t j = 0; j < r->l.n; prev = &r->l.v[j++]) {
		const struct pmf_vma *c = &r->l.v[j];
		if (!(c->prot & PMF_PROT_WRITE) || (c->flags & PMF_VMAF_SHARED))
			continue;
		int bss = !(c->flags & PMF_VMAF_FILE) && prev &&
			  prev->end == c->start &&
			  (prev->flags & PMF_VMAF_FILE) &&
			  (prev->prot & PMF_PROT_WRITE);
		if (!(c->flags & PMF_VMAF_FILE) && !bss)
			continue;
		int there = 0;
		for (uint32_t i = 0; i < r->im.nvma && !there; i++)
			there = r->im.vma[i].start < c->end &&
				r->im.vma[i].end > c->start;
		if (there && !pm__image_writable(&r->im, c->start,
						 c->end - c->start))
			return pm__err(PM_ECORRUPT, "image: the data of %s at "
						    "%llx-%llx is not writable "
						    "in the image",
				       cur_name(r, bss ? prev : c)[0]
					       ? cur_name(r, bss ? prev : c)
					       : "an object",
				       (ull)c->start, (ull)c->end);
	}
	return 0;
}

int pm__rs_check_mappings(struct rs *r)
{
	const struct pm__image *im = &r->im;
	int rc = check_data_segments(r);
	if (rc)
		return rc;
	for (uint32_t i = 0; i < im->nvma; i++) {
		const struct pmf_vma *v = &im->vma[i];
		if (v->vclass != PMF_VMA_NAMED && v->vclass != PMF_VMA_KERNEL)
			continue;
		const struct pmf_vma *c = pm__rs_cur_at(r, v->start);
		if (!c && v->vclass == PMF_VMA_NAMED)
			continue; /* mapped from its file (map_named) */
		if (!pm__rs_same_mapping(r, v, c))
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
		    (v->vclass != PMF_VMA_NAMED || pm__rs_cur_at(r, v->start)))
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
			    !pm__rs_same_mapping(r, c, pm__rs_cur_at(r, c->start)))
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

/* What pmalloc itself writes in the resumed memory must be writable
 * there: the restorer writes the thread id into the thread descriptor,
 * the inherited descriptors' table and the staging area's address into
 * pmalloc's state, and the allocator writes its region (which it maps
 * read-write or not at all).  A damaged protection would fault in the
 * restorer, after the point of no return, or at the first malloc. */
static int check_own_writes(const struct rs *r)
{
	const struct pm__image *im = &r->im;
	size_t inh_len;
	void *inh = pm__ks_inherited_table(&inh_len);
	const struct {
		uint64_t a, n;
		const char *what;
	} need[] = {
		{im->proc->fsbase + im->proc->tid_off, 4, "thread id"},
		{(uintptr_t)inh, inh_len ? inh_len : 1, "descriptor table"},
		{(uintptr_t)pm__image_staging, sizeof pm__image_staging,
		 "state"},
		{(uintptr_t)&pm__region, sizeof pm__region, "state"},
	};
	for (size_t k = 0; k < sizeof need / sizeof need[0]; k++)
		if (!pm__image_writable(im, need[k].a, need[k].n))
			return pm__err(PM_ECORRUPT, "image: pmalloc's %s at %llx "
						    "is not in writable memory "
						    "of the image",
				       need[k].what, (ull)need[k].a);
	uint64_t lo = r->ck.h.base, hi = r->ck.h.base + r->ck.h.size;
	for (uint32_t i = 0; i < im->nvma; i++) {
		const struct pmf_vma *v = &im->vma[i];
		if (v->end <= lo || v->start >= hi)
			continue;
		if (v->vclass != PMF_VMA_COPIED ||
		    (v->prot && v->prot != (PMF_PROT_READ | PMF_PROT_WRITE)))
			return pm__err(PM_ECORRUPT, "image: mapping %u "
						    "(%llx-%llx) in pmalloc's "
						    "region is not read-write "
						    "or inaccessible memory",
				       i, (ull)v->start, (ull)v->end);
	}
	return 0;
}

static int check_process(struct rs *r)
{
	const struct pmf_proc *p = r->im.proc;
	int rc;
	r->ncur = pm__objects(r->cur, PMF_MAX_OBJECTS);
	if ((rc = pm__rs_check_objects(r)))
		return rc;
	if ((rc = check_cmdline(r)) || (rc = check_own_writes(r)))
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
	if ((rc = pm__rs_list_current(r)))
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
	const struct pmf_vma *vd = vdso ? pm__rs_cur_at(r, vdso) : NULL;
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
	return pm__rs_check_mappings(r);
}

/* ---- the whole resume ------------------------------------------------------ */

static void undo(struct rs *r)
{
	if (r->ks)
		pm__ks_undo(r->ks);
	if (r->brk_moved)
		syscall(SYS_brk, r->brk_old);
	if (r->pages)
		pm__os_unmap(r->pages,
			     (size_t)(r->staging - r->pages) + r->staging_len);
	else if (r->staging)
		pm__os_unmap(r->staging, r->staging_len);
	if (r->keyed)
		pm__wipe(&r->hm, sizeof r->hm);
	if (r->fd >= 0)
		close(r->fd);
	pm__rs_close_named(r);
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
	if ((rc = pm__ckpt_region_header(&r->ck)))
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
		rc = pm__rs_stage(&r, &p);
	if (!rc) {
		r.fd = fcntl(r.ck.fd, F_DUPFD_CLOEXEC, pm__rs_high_fd(&r.im));
		if (r.fd < 0)
			rc = pm__err(-errno, "cannot keep the image open");
	}
	if (!rc)
		rc = pm__rs_prepare_kstate(&r, p);
	if (!rc) {
		/* the checksums' helper thread, joined, may still count for
		 * a moment: it woke its joiner before it left the group */
		int nt = pm__thread_count();
		for (int i = 0; r.ck.helper_ran && nt > 1 && i < 400; i++) {
			usleep(250);
			nt = pm__thread_count();
		}
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
		rc = pm__rs_rseq_off(p);
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
	/* Signals sent while the image is checked and put in place (a
	 * second or more for a large one) wait: the image's handlers do
	 * not exist yet, and the program's trigger signal, say, would end
	 * the process by its default action.  A resume installs the
	 * image's mask last, and they are delivered to the image's
	 * handlers; a refusal puts this mask back, and they are delivered
	 * as in any run.  The faults a check can take stay open. */
	sigset_t hold, before;
	sigfillset(&hold);
	sigdelset(&hold, SIGBUS);
	sigdelset(&hold, SIGSEGV);
	sigdelset(&hold, SIGFPE);
	sigdelset(&hold, SIGILL);
	sigdelset(&hold, SIGTRAP);
	int held = !sigprocmask(SIG_BLOCK, &hold, &before);
	int rc = pm__image_resume(path);
	pm__env_remove("PMALLOC_RESUME"); /* not for our children */
	pm__say_line(line, sizeof line, "pmalloc: not resumed: %s: %s", path,
		     pm_errmsg());
	if (held) /* (the line first: a held signal may end the process) */
		sigprocmask(SIG_SETMASK, &before, NULL);
	return rc;
}
