/*
 * image_write.c - pm_image(): the whole single-threaded process into a
 * file (docs/IMAGE.md section 3; layout in format.h).
 *
 *   pm_image(path)
 *     refuse: more than one thread (-EBUSY), address-space randomisation
 *             on (-ENOTSUP: the image could never be resumed)
 *     the image hooks (pm_at_image), in registration order
 *     one scratch mapping (left out of the image), every signal blocked
 *     pm__ctx_save(ctx)   -> 1: we are a resumed process (image_resume.c
 *                            did the rest): PM_RESUMED
 *     pm__image_write     -- runs in frames below ctx->rsp
 *     signal mask back; return 0 or the error
 *
 * The writer lists the loaded objects and the mappings (image_maps.c),
 * fixes the process facts (image_facts.c), copies the stack
 * [ctx->rsp, stack top), lays out records then pages, and writes the file
 * through ckpt_file.c (temp, fsync, rename, directory fsync), each piece
 * checksummed as it is written, with a MAC when a key is configured.
 * What it changes while it copies (its own frames below ctx->rsp, its
 * scratch, errno, pmalloc's counters) is dead or set back on resume.
 * No malloc, no stdio.
 */
#include "image.h"
#include "image_apply.h"
#include "image_kstate.h"
#include "sha256.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>
#include <sys/personality.h>

typedef unsigned long long ull;

#define PIECE (256u << 10)
#define MAX_RUNS (1u << 18)
#define STACK_CAP (64u << 20)
#define FILEDATA_CAP (128u << 20) /* saved contents of written files */
#define REC_FIXED ((PM__IMAGE_MAX_VMAS * sizeof(struct pmf_vma)) +           \
		   PM__IMAGE_MAX_STRINGS + sizeof(struct pm__ctx) +            \
		   sizeof(struct pmf_proc) + PM__KS_SCRATCH + 64)

struct run {
	uint64_t lo, hi;
};

/* One image's state, all in one scratch mapping. */
struct iw {
	struct pm__ctx ctx; /* first: 64-aligned */
	struct pm__ckpt_out out;
	unsigned char *map;
	size_t maplen;
	char *dir, *tmp;
	struct pm_object *objs;
	int nobj;
	struct pm__vmalist l;
	uint8_t *prefix;           /* header + metadata + table */
	struct pmf_section *sec;
	uint32_t nsec;
	unsigned char *rec;        /* records: [table_end, heap_off) */
	size_t rec_cap;
	struct run *runs;
	uint32_t nruns;
	unsigned char *piece;
	unsigned char *ks_mem;     /* the kernel state's capture */
	struct pm__ks_capture ks;
	uint64_t fd_bytes;         /* FILEDATA bytes (headers included) */
	struct pmf_proc proc;
	uint64_t stack_top;
	uint64_t table_end, heap_off, file_size, hbytes, gbytes;
	struct pm__hmac_sha256 hm;
	struct pm__sha256 body_ctx, *body;
	int from_signal;
};

/* ---- hooks (pm_at_image, pm_at_resume) -------------------------------- */

#define MAX_HOOKS 32
struct hook {
	void (*fn)(void *);
	void *arg;
};
static struct hook image_hooks[MAX_HOOKS], resume_hooks[MAX_HOOKS];
static unsigned n_image_hooks, n_resume_hooks;

static int hook_add(struct hook *h, unsigned *n, void (*fn)(void *),
		    void *arg)
{
	if (!fn)
		return pm__err(-EINVAL, "no hook function");
	if (*n == MAX_HOOKS)
		return pm__err(-ENOSPC, "more than %d hooks", MAX_HOOKS);
	h[*n].fn = fn;
	h[*n].arg = arg;
	++*n;
	return 0;
}

PM_EXPORT int pm_at_image(void (*fn)(void *), void *arg)
{
	return hook_add(image_hooks, &n_image_hooks, fn, arg);
}

PM_EXPORT int pm_at_resume(void (*fn)(void *), void *arg)
{
	return hook_add(resume_hooks, &n_resume_hooks, fn, arg);
}

/* ---- scratch ----------------------------------------------------------- */

static void *carve(uintptr_t *at, size_t n)
{
	void *p = (void *)*at;
	*at += (n + 63) & ~(size_t)63;
	return p;
}

static size_t layout(struct iw *w, uintptr_t base)
{
	uintptr_t at = base;
	struct iw *self = carve(&at, sizeof *w);
	(void)self;
	w->dir = carve(&at, PM__CKPT_NAME_CAP);
	w->tmp = carve(&at, PM__CKPT_NAME_CAP);
	w->objs = carve(&at, PMF_MAX_OBJECTS * sizeof(struct pm_object));
	w->l.v = carve(&at, PM__IMAGE_MAX_VMAS * sizeof(struct pmf_vma));
	w->l.str = carve(&at, PM__IMAGE_MAX_STRINGS);
	w->l.pm = carve(&at, PM__PAGEMAP_BATCH * 8);
	w->prefix = carve(&at, PMF_HEADER_SIZE + sizeof(struct pmf_meta) +
				       PMF_MAX_OBJECTS *
					       sizeof(struct pmf_object) +
				       PMF_MAX_SECTIONS *
					       sizeof(struct pmf_section));
	w->runs = carve(&at, MAX_RUNS * sizeof(struct run));
	w->piece = carve(&at, PIECE);
	w->ks_mem = carve(&at, PM__KS_SCRATCH);
	w->rec_cap = REC_FIXED + STACK_CAP + FILEDATA_CAP;
	w->rec = carve(&at, w->rec_cap);
	return (size_t)(at - base);
}

static struct iw *iw_new(void)
{
	struct iw probe;
	memset(&probe, 0, sizeof probe);
	size_t len = layout(&probe, 0) + 64;
	unsigned char *m = pm__scratch(len);
	if (!m) {
		pm__err(-ENOMEM, "image: no scratch memory");
		return NULL;
	}
	struct iw *w = (struct iw *)(((uintptr_t)m + 63) & ~(uintptr_t)63);
	memset(w, 0, sizeof *w);
	layout(w, (uintptr_t)w);
	w->map = m;
	w->maplen = len;
	w->l.cap = PM__IMAGE_MAX_VMAS;
	w->l.scap = PM__IMAGE_MAX_STRINGS;
	w->l.skip_lo = (uintptr_t)m & ~(uintptr_t)(PM_PAGE - 1);
	w->l.skip_hi = ((uintptr_t)m + len + PM_PAGE - 1) & ~(uintptr_t)(PM_PAGE - 1);
	w->l.pagemap = -1;
	w->out.fd = w->out.dfd = -1;
	return w;
}

static void iw_free(struct iw *w)
{
	if (w->l.pagemap >= 0)
		close(w->l.pagemap);
	pm__scratch_free(w->map, w->maplen);
}

/* ---- layout ------------------------------------------------------------ */

static int run_cb(void *vctx, uint64_t lo, uint64_t hi)
{
	struct iw *w = vctx;
	if (w->nruns && w->runs[w->nruns - 1].hi == lo) {
		w->runs[w->nruns - 1].hi = hi;
		return 0;
	}
	if (w->nruns == MAX_RUNS)
		return pm__err(-E2BIG, "image: more than %u runs of pages",
			       MAX_RUNS);
	w->runs[w->nruns].lo = lo;
	w->runs[w->nruns].hi = hi;
	w->nruns++;
	return 0;
}

/* Runs of one mapping go into one run list; runs never span two
 * mappings (a reader requires each PAGES section inside one). */
static int find_runs(struct iw *w)
{
	for (uint32_t i = 0; i < w->l.n; i++) {
		uint32_t before = w->nruns;
		/* a boundary: no merge with the previous mapping's last run */
		struct run keep = {0, 0};
		if (before) {
			keep = w->runs[before - 1];
			w->runs[before - 1].hi = keep.hi | 1; /* cannot match */
		}
		int rc = pm__image_runs(&w->l, &w->l.v[i], run_cb, w);
		if (before)
			w->runs[before - 1] = keep;
		if (rc)
			return rc;
	}
	/* too many for a resume to map: merge small gaps inside a mapping */
	for (uint64_t gap = 2 * PM_PAGE; w->nruns > PMF_MAX_HEAP_SECTIONS;
	     gap *= 2) {
		uint32_t n = 0, j = 0;
		for (uint32_t i = 0; i < w->nruns; i++) {
			struct run r = w->runs[i];
			while (w->l.v[j].end <= r.lo)
				j++;
			if (n && r.lo - w->runs[n - 1].hi <= gap &&
			    w->runs[n - 1].hi > w->l.v[j].start)
				w->runs[n - 1].hi = r.hi;
			else
				w->runs[n++] = r;
		}
		w->nruns = n;
	}
	return 0;
}

static struct pmf_section *rec_sec(struct iw *w, uint32_t kind,
				   uint64_t addr, const void *data,
				   uint64_t len, uint64_t *cur)
{
	struct pmf_section *s = &w->sec[w->nsec++];
	s->kind = kind;
	s->addr = addr;
	s->len = len;
	s->data_off = *cur;
	memcpy(w->rec + (*cur - w->table_end), data, (size_t)len);
	s->data_crc = pm__crc32c(0, data, (size_t)len);
	*cur += (len + 7) & ~7ull;
	w->gbytes += len;
	return s;
}

struct fd_sink {
	unsigned char *at;
	uint64_t room;
	uint32_t crc;
};

static int fd_sink_cb(void *ctx, const void *p, size_t n)
{
	struct fd_sink *k = ctx;
	if (n > k->room)
		return -EFBIG;
	memcpy(k->at, p, n);
	k->crc = pm__crc32c(k->crc, p, n);
	k->at += n;
	k->room -= n;
	return 0;
}

/* The FILEDATA sections: each written file's header and bytes, read from
 * its descriptor into the records. */
static int lay_out_filedata(struct iw *w, uint64_t *cur)
{
	for (uint32_t i = 0; i < w->ks.nfiledata; i++) {
		struct pmf_filedata head;
		int rc = pm__ks_filedata(&w->ks, i, &head);
		if (rc)
			return pm__err(rc, "image: file data %u", i);
		uint64_t used = *cur - w->table_end;
		uint64_t len = sizeof head + head.len;
		if (len > w->rec_cap - used ||
		    w->fd_bytes + len > FILEDATA_CAP)
			return pm__err(-EFBIG, "image: the files being written "
					       "hold more than %u bytes",
				       FILEDATA_CAP);
		struct fd_sink k = {w->rec + used, w->rec_cap - used, 0};
		fd_sink_cb(&k, &head, sizeof head);
		rc = pm__ks_copy_file(head.fd, head.len, w->piece, PIECE,
				      fd_sink_cb, &k);
		if (rc)
			return pm__err(rc < 0 ? rc : -EIO,
				       "image: cannot save the contents of "
				       "fd %d",
				       head.fd);
		struct pmf_section *s = &w->sec[w->nsec++];
		s->kind = PMF_SEC_FILEDATA;
		s->len = len;
		s->data_off = *cur;
		s->data_crc = k.crc;
		/* the padding to 8 is zero (the scratch is fresh) */
		*cur += (len + 7) & ~7ull;
		w->gbytes += len;
		w->fd_bytes += len;
	}
	return 0;
}

static int lay_out(struct iw *w)
{
	uint64_t msize = sizeof(struct pmf_meta) +
			 (uint64_t)w->nobj * sizeof(struct pmf_object);
	uint32_t nrec = 5 + (w->ks.signals ? 1 : 0) + (w->ks.fds ? 1 : 0) +
			w->ks.nfiledata;
	w->nsec = 0;
	w->sec = (struct pmf_section *)(w->prefix + PMF_HEADER_SIZE + msize);
	w->table_end = PMF_HEADER_SIZE + msize +
		       (uint64_t)(nrec + w->nruns) * sizeof(struct pmf_section);
	uint64_t stack_len = w->stack_top - w->ctx.rsp;
	if (stack_len > STACK_CAP)
		return pm__err(-E2BIG, "image: %llu bytes of stack (at most "
				       "%u)",
			       (ull)stack_len, STACK_CAP);
	/* the strings padded to 8 with NULs */
	while (w->l.slen & 7)
		w->l.str[w->l.slen++] = '\0';
	uint64_t cur = w->table_end;
	rec_sec(w, PMF_SEC_VMAS, 0, w->l.v, w->l.n * sizeof(struct pmf_vma),
		&cur);
	rec_sec(w, PMF_SEC_STRINGS, 0, w->l.str, w->l.slen, &cur);
	/* the stack last of all the copies: nothing of the writer's above
	 * ctx.rsp changes after this */
	unsigned char *sdst = w->rec + (cur - w->table_end);
	struct pmf_section *st = &w->sec[w->nsec++];
	st->kind = PMF_SEC_STACK;
	st->addr = w->ctx.rsp;
	st->len = stack_len;
	st->data_off = cur;
	memcpy(sdst, (const void *)(uintptr_t)w->ctx.rsp, (size_t)stack_len);
	st->data_crc = pm__crc32c(0, sdst, (size_t)stack_len);
	cur += stack_len;
	w->gbytes += stack_len;
	rec_sec(w, PMF_SEC_CPU, 0, &w->ctx, sizeof w->ctx, &cur);
	rec_sec(w, PMF_SEC_PROC, 0, &w->proc, sizeof w->proc, &cur);
	if (w->ks.signals)
		rec_sec(w, PMF_SEC_SIGNALS, 0, w->ks.signals,
			w->ks.signals_len, &cur);
	if (w->ks.fds)
		rec_sec(w, PMF_SEC_FDS, 0, w->ks.fds, w->ks.fds_len, &cur);
	int rc = lay_out_filedata(w, &cur);
	if (rc)
		return rc;
	w->heap_off = (cur + PM_PAGE - 1) & ~(uint64_t)(PM_PAGE - 1);
	uint64_t off = w->heap_off;
	for (uint32_t i = 0; i < w->nruns; i++) {
		struct pmf_section *s = &w->sec[w->nsec++];
		s->kind = PMF_SEC_PAGES;
		s->addr = w->runs[i].lo;
		s->len = w->runs[i].hi - w->runs[i].lo;
		s->data_off = off;
		off += s->len;
		w->hbytes += s->len;
	}
	w->file_size = off;
	return 0;
}

/* ---- writing ----------------------------------------------------------- */

static int out_write(struct iw *w, const void *buf, size_t n, uint64_t off)
{
	if (w->body)
		pm__sha256_update(w->body, buf, n);
	int rc = pm__ckpt_out_write(&w->out, buf, n, off);
	return rc ? pm__ckpt_out_failed(&w->out, rc) : 0;
}

/* n bytes of memory at addr to the file at off, summed into *crc (and
 * the MAC's hash).  Straight from memory: nothing else runs (one thread,
 * every signal blocked), so the bytes the kernel copies are the ones
 * summed next, while still in the cache; a page that cannot be read (a
 * file mapping past its file's end) fails the write, not the process.
 * Except the thread's descriptor: glibc writes in it during the write
 * itself (pwrite is a cancellation point, and in a process that ever had
 * a second thread glibc sets the cancellation type in the descriptor
 * around the system call; the kernel also writes its rseq area on a
 * return to user space), so its pages and the TLS page below them (errno)
 * go through w->piece: the copy is what is written and summed. */
static int put_pages(struct iw *w, uint64_t addr, size_t n, uint64_t off,
		     uint32_t *crc)
{
	uint64_t tcb = ((uint64_t)(uintptr_t)__builtin_thread_pointer() &
			~(uint64_t)(PM_PAGE - 1)) - PM_PAGE;
	uint64_t tcb_end = tcb + 3 * PM_PAGE; /* and the TLS page below */
	while (n) {
		const void *src = (const void *)(uintptr_t)addr;
		size_t k = n;
		if (addr >= tcb && addr < tcb_end) {
			k = tcb_end - addr < k ? (size_t)(tcb_end - addr) : k;
			memcpy(w->piece, src, k);
			src = w->piece;
		} else if (addr < tcb && addr + k > tcb) {
			k = (size_t)(tcb - addr);
		}
		int rc = pm__ckpt_out_write(&w->out, src, k, off);
		if (rc == -EFAULT)
			return pm__err(-EFAULT, "image: cannot read %llx+%zu",
				       (ull)addr, k);
		if (rc)
			return pm__ckpt_out_failed(&w->out, rc);
		*crc = pm__crc32c(*crc, src, k);
		if (w->body)
			pm__sha256_update(w->body, src, k);
		addr += k;
		off += k;
		n -= k;
	}
	return 0;
}

static int write_pages(struct iw *w)
{
	int rc = out_write(w, w->rec, (size_t)(w->heap_off - w->table_end),
			   w->table_end);
	for (uint32_t i = 0; i < w->nsec && !rc; i++) {
		struct pmf_section *s = &w->sec[i];
		if (s->kind != PMF_SEC_PAGES)
			continue;
		uint32_t crc = 0;
		for (uint64_t at = 0; at < s->len && !rc; at += PIECE) {
			size_t n = s->len - at < PIECE ? (size_t)(s->len - at)
						       : PIECE;
			rc = put_pages(w, s->addr + at, n, s->data_off + at,
				       &crc);
		}
		s->data_crc = crc;
	}
	return rc;
}

static int write_prefix(struct iw *w)
{
	struct pmf_header *h = (struct pmf_header *)w->prefix;
	struct pmf_meta *meta = (struct pmf_meta *)(h + 1);
	uint64_t msize = sizeof(struct pmf_meta) +
			 (uint64_t)w->nobj * sizeof(struct pmf_object);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	pm__ckpt_header_heap(h, PMF_VERSION_IMAGE, PMF_KIND_IMAGE);
	h->file_size = w->file_size;
	h->time_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	h->meta_off = PMF_HEADER_SIZE;
	h->meta_size = msize;
	h->table_off = PMF_HEADER_SIZE + msize;
	h->nsections = w->nsec;
	h->nobjects = (uint32_t)w->nobj;
	h->heap_bytes = w->hbytes;
	h->globals_bytes = w->gbytes;
	h->heap_off = w->heap_off;
	pm__ckpt_meta(meta, (struct pmf_object *)(meta + 1), w->objs, w->nobj);
	h->meta_crc = pm__crc32c(0, meta, (size_t)msize);
	h->table_crc = pm__crc32c(0, w->sec, w->nsec * sizeof *w->sec);
	if (w->body) {
		unsigned char bh[PM_SHA256_LEN];
		h->flags |= PMF_FLAG_MAC;
		pm__sha256_final(w->body, bh);
		pm__ckpt_mac(&w->hm, w->prefix, w->table_end, bh, h->mac);
		w->body = NULL;
	}
	h->header_crc = pm__crc32c(0, h, PMF_HEADER_CRC_OFF);
	int rc = pm__ckpt_out_write(&w->out, w->prefix, (size_t)w->table_end, 0);
	return rc ? pm__ckpt_out_failed(&w->out, rc) : 0;
}

static int collect(struct iw *w)
{
	w->nobj = w->from_signal ? pm__objects_nolock(w->objs, PMF_MAX_OBJECTS)
				 : pm__objects(w->objs, PMF_MAX_OBJECTS);
	if (w->nobj == -EAGAIN)
		return pm__err(-EAGAIN, "image: the loader is loading or "
					"unloading a library; try again");
	if (w->nobj < 1)
		return pm__err(-ENOENT, "image: cannot list loaded objects");
	w->l.pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	/* the kernel state first: it drops stdio's read-ahead (fflush),
	 * which changes memory the image copies afterwards */
	int skip[1] = {w->l.pagemap};
	int rc = pm__ks_capture(w->ks_mem, PM__KS_SCRATCH, skip,
				w->l.pagemap >= 0, w->from_signal ? PM__KS_FROM_SIGNAL : 0,
				&w->ks);
	if (rc == -ENOSPC)
		rc = pm__err(-E2BIG, "image: the descriptor table needs %zu "
				     "bytes of records (at most %u)",
			     w->ks.need, PM__KS_SCRATCH);
	if (!rc)
		rc = pm__image_vmas(&w->l);
	if (!rc)
		rc = pm__image_facts(&w->proc, &w->l, &w->ctx);
	if (!rc)
		w->stack_top = w->proc.stack_top;
	if (!rc)
		rc = find_runs(w);
	return rc;
}

static int write_file(struct iw *w)
{
	int rc = pm__key_hmac(&w->hm, "image");
	if (rc < 0)
		return rc;
	if (rc > 0) {
		w->body = &w->body_ctx;
		pm__sha256_init(w->body);
	}
	if (!(rc = pm__ckpt_out_open(&w->out, w->dir, w->tmp))) {
		rc = pm__ckpt_out_reserve(&w->out, w->file_size);
		if (rc)
			rc = pm__ckpt_out_failed(&w->out, rc);
	}
	if (!rc && !(rc = write_pages(w)) && !(rc = write_prefix(w)))
		rc = pm__ckpt_out_commit(&w->out);
	if (w->body) {
		pm__wipe(&w->hm, sizeof w->hm);
		pm__wipe(w->body, sizeof *w->body);
		w->body = NULL;
	}
	return rc;
}

/* ---- pm_image ----------------------------------------------------------- */

/* The staging area a resume leaves mapped (image_resume.c sets it in the
 * resumed process's memory; pm_image unmaps it after the return). */
uint64_t pm__image_staging[2];

static int aslr_off(void)
{
	int pers = personality(0xffffffff);
	if (pers != -1 && (pers & ADDR_NO_RANDOMIZE))
		return 1;
	return pm__os_sysctl("/proc/sys/kernel/randomize_va_space", 2) == 0;
}

__attribute__((noinline)) static int image_body(struct iw *w,
						const char *path)
{
	(void)path; /* checked and kept in w->out by pm__ckpt_out_check */
	int rc = collect(w);
	if (!rc)
		rc = lay_out(w);
	if (!rc)
		rc = write_file(w);
	return rc;
}

PM_EXPORT int pm_image(const char *path)
{
	return pm__image_take(path, 0);
}

/* pm_image, and the signal trigger (image_trigger.c) with from_signal:
 * then no hooks (they may allocate), no loader lock, no heap walk (the
 * interrupted code may be inside malloc: its pages are saved as they
 * are, and the resumed process finishes what it was doing). */
int pm__image_take(const char *path, int from_signal)
{
	int saved_errno = errno;
	if (!path || !path[0])
		return pm__err(-EINVAL, "image: no file name");
	if (pm__ensure_init() || !pm__region)
		return pm__err(PM_ENOHEAP, "image: the heap is not available");
	int nt = pm__thread_count();
	if (nt != 1)
		return pm__err(-EBUSY, "image: the process has %d threads; an "
				       "image holds one",
			       nt);
	/* child processes (running, or ended and not waited for): a
	 * resumed process has none, and its wait for them fails (ECHILD) */
	siginfo_t ch;
	memset(&ch, 0, sizeof ch);
	if (waitid(P_ALL, 0, &ch, WEXITED | WNOHANG | WNOWAIT) == 0) {
		errno = saved_errno;
		if (ch.si_pid)
			return pm__err(-EBUSY, "image: child process %d has "
					       "ended and was not waited for; "
					       "a resumed process has no "
					       "children",
				       (int)ch.si_pid);
		return pm__err(-EBUSY, "image: the process has a child "
				       "process; a resumed process has no "
				       "children (wait for it first)");
	}
	if (!aslr_off())
		return pm__err(-ENOTSUP, "image: address-space randomisation "
					 "is on, so no later run could resume "
					 "the image (run the program with "
					 "pmalloc run)");
	for (unsigned i = 0; i < n_image_hooks && !from_signal; i++)
		image_hooks[i].fn(image_hooks[i].arg);

	struct iw *volatile w = iw_new();
	if (!w)
		return -ENOMEM;
	w->from_signal = from_signal;
	w->l.no_heap_walk = from_signal;
	int rc = pm__ckpt_out_check(&w->out, path);
	if (rc) {
		iw_free(w);
		return rc;
	}
	sigset_t all, old;
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	rc = pm__ctx_init(&w->ctx);
	if (!rc)
		rc = pm__ctx_save(&w->ctx);
	if (rc == 1) {
		/* resumed: the restorer left its staging area mapped */
		if (pm__image_staging[1])
			pm__os_unmap((void *)pm__image_staging[0],
				     pm__image_staging[1]);
		pm__image_staging[0] = pm__image_staging[1] = 0;
		pm__image_trigger_resumed();
		sigprocmask(SIG_SETMASK, &old, NULL);
		for (unsigned i = n_resume_hooks; i-- > 0 && !from_signal;)
			resume_hooks[i].fn(resume_hooks[i].arg);
		errno = saved_errno;
		return PM_RESUMED;
	}
	if (!rc) {
		/* The context keeps the all-blocked mask: the restorer
		 * installs it, and the program's own (`old`, on the saved
		 * stack) comes back above, after the trigger knows its new
		 * pid.  Signals held during the resume, or pending at the
		 * image, are delivered only then: the trigger's handler,
		 * run before, took the resumed process for a forked child
		 * and let the signal's default action end it. */
		w->proc.saved_errno = (uint64_t)saved_errno;
		rc = image_body(w, path);
	}
	pm__ckpt_out_close(&w->out, rc);
	iw_free(w);
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (!rc)
		errno = saved_errno;
	return rc;
}
