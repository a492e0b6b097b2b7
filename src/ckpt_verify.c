/*
 * ckpt_verify.c - a checkpoint file on disk: open it, read and parse its
 * prefix (header, metadata, table) into scratch memory, and verify every
 * section's checksums over the file's pages mapped in place (pread where
 * they cannot be); past PARALLEL_MIN of heap data, on two threads (the
 * halves joined with crc32c_combine).
 *
 * What the CLI's `info` and `verify` need, and the first step of a
 * restore.  Needs the parser, crc32c, util and the OS layer only: nothing
 * of the heap.  Scratch memory comes from pm__os_aux (past the region in
 * the library, anywhere in the CLI).
 */
#include "ckpt.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/syscall.h>

typedef unsigned long long ull;

int pm__pread_full(int fd, void *buf, size_t n, uint64_t off)
{
	unsigned char *p = buf;
	while (n) {
		ssize_t r = pread(fd, p, n, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return pm__err(PM_ETRUNC, "the file ends at %llu, "
						  "before its recorded end",
				       (ull)off);
		p += r;
		off += (uint64_t)r;
		n -= (size_t)r;
	}
	return 0;
}

void pm__ckpt_close(struct pm__ckpt *ck)
{
	if (ck->fd >= 0)
		close(ck->fd);
	pm__scratch_free(ck->map, ck->map_len);
	ck->fd = -1;
	ck->map = NULL;
}

int pm__ckpt_open(const char *path, struct pm__ckpt *ck)
{
	struct stat st;
	union {
		unsigned char b[PMF_HEADER_SIZE];
		uint64_t align;
	} head;
	int fd, rc;

	memset(ck, 0, sizeof *ck);
	ck->fd = -1;
	if (!path || !path[0])
		return pm__err(-EINVAL, "no checkpoint file name");
	/* O_NONBLOCK: a FIFO must not hang us; it is refused below */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		rc = -errno;
		return pm__err(rc, "cannot open %s", path);
	}
	if (fstat(fd, &st) != 0) {
		rc = -errno;
		close(fd);
		return pm__err(rc, "cannot stat %s", path);
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		rc = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
		return pm__err(rc, "%s is not a regular file", path);
	}
	uint64_t fsize = (uint64_t)st.st_size;
	size_t n = fsize < PMF_HEADER_SIZE ? (size_t)fsize : PMF_HEADER_SIZE;
	if ((rc = pm__pread_full(fd, head.b, n, 0)) ||
	    (rc = pm__ckpt_parse(head.b, n, fsize, PM__PARSE_HEADER, ck))) {
		close(fd);
		return rc;
	}
	uint64_t need = (ck->table_end + PM_PAGE - 1) & ~(PM_PAGE - 1);
	size_t maplen = (size_t)need + PM__CHUNK;
	void *map = pm__scratch(maplen);
	if (!map) {
		close(fd);
		return pm__err(-ENOMEM, "no memory to read %llu bytes of "
					"metadata",
			       (ull)need);
	}
	if ((rc = pm__pread_full(fd, map, (size_t)ck->table_end, 0)) ||
	    (rc = pm__ckpt_parse(map, (size_t)ck->table_end, fsize,
				 PM__PARSE_NO_DATA, ck))) {
		pm__scratch_free(map, maplen);
		close(fd);
		return rc;
	}
	ck->fd = fd;
	ck->map = map;
	ck->map_len = maplen;
	ck->chunk = (unsigned char *)map + need;
	return 0;
}

/* ---- reading for the checksums ------------------------------------------
 * Past MAP_MIN bytes, the pages are mapped from the file and checksummed
 * where the page cache holds them, not copied into a buffer first: for an
 * image in the cache that is about half the time of pread (measured: 230
 * MiB, pread 32-57 ms against 5-9 ms of MADV_POPULATE_READ, before the
 * checksum itself).  The populate reads every page first, so a read error
 * or a file shorter than its table comes back as an error code, not as a
 * fault in the middle of the checksum.  Only a file truncated between the
 * populate and the checksum faults (SIGBUS): while the checksums run, a
 * handler takes a SIGBUS raised in a thread inside that window back to
 * its sigsetjmp, and the file is refused as truncated.  Any other SIGBUS
 * goes to the disposition the process had (the handler puts it back and
 * the instruction faults again).  Kernels without MADV_POPULATE_READ
 * (before 5.14), and mappings that fail, read with pread as before. */
#define MAP_MIN (1UL << 20)
#define MAP_WINDOW (64UL << 20)

static __thread sigjmp_buf *bus_env; /* this thread is inside a window */
static __thread uintptr_t bus_lo, bus_hi; /* ... which is [lo, hi) */
/* The disposition before, as the kernel holds it (libc's sigaction would
 * add its own flags when putting it back: a resume refused after the
 * pass must leave the process as it found it). */
static struct {
	void *handler;
	unsigned long flags;
	void *restorer;
	uint64_t mask;
} bus_old;
static int bus_busy; /* one pass at a time guards (the others read):
		      * a second pass would take pmalloc's handler for the
		      * disposition before, and put it back last */
static sigset_t bus_mask; /* the thread's mask before (SIGBUS unblocked:
			   * a fault with SIGBUS blocked kills) */

static void bus_restore(void)
{
	syscall(SYS_rt_sigaction, SIGBUS, &bus_old, NULL, sizeof bus_old.mask);
}

/* A fault on this thread's window is the file truncated under the pass.
 * Anything else is not ours: the disposition before is put back; a fault
 * comes again when the instruction is retried, a signal that was sent
 * (kill, sigqueue: no instruction to retry) is queued again to this
 * thread, where it waits for this handler to return. */
static void on_bus(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	int fault = si->si_code > 0 && si->si_code != SI_KERNEL;
	if (bus_env && fault && (uintptr_t)si->si_addr >= bus_lo &&
	    (uintptr_t)si->si_addr < bus_hi)
		siglongjmp(*bus_env, 1);
	int e = errno;
	bus_restore();
	if (!fault)
		syscall(SYS_rt_tgsigqueueinfo, getpid(), syscall(SYS_gettid),
			sig, si);
	errno = e;
}

/* 1 when this pass guards (windows allowed), else 0 (pread only). */
static int bus_guard(int on)
{
	if (!on) {
		pthread_sigmask(SIG_SETMASK, &bus_mask, NULL);
		bus_restore();
		__atomic_store_n(&bus_busy, 0, __ATOMIC_RELEASE);
		return 0;
	}
	if (__atomic_exchange_n(&bus_busy, 1, __ATOMIC_ACQUIRE))
		return 0; /* another thread's pass guards */
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_bus;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	sigset_t bus, pending;
	sigemptyset(&bus);
	sigaddset(&bus, SIGBUS);
	/* a SIGBUS blocked and pending stays so: unblocking it would
	 * deliver it, to the handler of the pass */
	int ok = !sigpending(&pending) && !sigismember(&pending, SIGBUS) &&
		 !syscall(SYS_rt_sigaction, SIGBUS, NULL, &bus_old,
			  sizeof bus_old.mask);
	if (ok && sigaction(SIGBUS, &sa, NULL))
		ok = 0;
	else if (ok && pthread_sigmask(SIG_UNBLOCK, &bus, &bus_mask)) {
		bus_restore();
		ok = 0;
	}
	if (!ok)
		__atomic_store_n(&bus_busy, 0, __ATOMIC_RELEASE);
	return ok;
}

/* What reads one range of the file for its checksums: a window of it
 * mapped (up to MAP_WINDOW, never past `end`), or a buffer for pread. */
struct reader {
	int fd;
	unsigned char *buf; /* PM__CHUNK bytes */
	uint64_t end;       /* no window reaches past this offset */
	int mapped;         /* windows allowed (0 after one could not be) */
	unsigned char *map; /* the window: [base, base + len) of the file */
	uint64_t base;
	size_t len;
};

static void reader_init(struct reader *r, int fd, unsigned char *buf,
			uint64_t lo, uint64_t end, int guarded)
{
	memset(r, 0, sizeof *r);
	r->fd = fd;
	r->buf = buf;
	r->end = end;
	r->mapped = guarded && end - lo >= MAP_MIN;
}

static void reader_drop(struct reader *r)
{
	if (r->map)
		pm__os_aux_free(r->map, r->len);
	r->map = NULL;
}

/* A window holding offset a: 0, 1 (none: read instead), or an error. */
static int reader_window(struct reader *r, uint64_t a)
{
	reader_drop(r);
	r->base = a & ~(uint64_t)(PM_PAGE - 1);
	uint64_t n = r->end - r->base;
	r->len = n < MAP_WINDOW ? (size_t)n : MAP_WINDOW;
	r->map = pm__os_aux_file(r->fd, r->base, r->len);
	if (!r->map)
		return 1;
	int e = -pm__os_populate_read(r->map, r->len);
	if (e) {
		reader_drop(r);
		if (e == EINVAL || e == ENOMEM || e == EAGAIN || e == ENOSYS)
			return 1;
		return e == EFAULT ? PM_ETRUNC : -e; /* EFAULT: past the end */
	}
	return 0;
}

/* crc of n bytes at offset `at` of the window: 0, or -1 if the file was
 * truncated under it (the window is then dropped). */
static __attribute__((noinline)) int crc_window(struct reader *r, size_t at,
						size_t n, uint32_t *crc)
{
	sigjmp_buf env;
	if (sigsetjmp(env, 1)) {
		bus_env = NULL;
		reader_drop(r);
		return -1;
	}
	bus_lo = (uintptr_t)r->map;
	bus_hi = bus_lo + r->len;
	bus_env = &env;
	*crc = pm__crc32c(*crc, r->map + at, n);
	bus_env = NULL;
	return 0;
}

/* crc of [a, b) of the file, continued from *crc.  Returns 0 or an error
 * code without a message (PM_ETRUNC for a file that ends before b). */
static int crc_span(struct reader *r, uint64_t a, uint64_t b, uint32_t *crc)
{
	while (a < b) {
		if (r->mapped && !(r->map && a >= r->base &&
				   a < r->base + r->len)) {
			int rc = reader_window(r, a);
			if (rc < 0 || rc > 1)
				return rc;
			r->mapped = rc == 0;
		}
		if (r->mapped) {
			uint64_t stop = r->base + r->len < b ? r->base + r->len
							     : b;
			if (crc_window(r, a - r->base, (size_t)(stop - a), crc))
				return PM_ETRUNC;
			a = stop;
			continue;
		}
		size_t n = b - a < PM__CHUNK ? (size_t)(b - a) : PM__CHUNK;
		for (size_t got = 0; got < n;) {
			ssize_t k = pread(r->fd, r->buf + got, n - got,
					  (off_t)(a + got));
			if (k < 0 && errno == EINTR)
				continue;
			if (k < 0)
				return -errno;
			if (k == 0)
				return PM_ETRUNC;
			got += (size_t)k;
		}
		*crc = pm__crc32c(*crc, r->buf, n);
		a += n;
	}
	return 0;
}

static int read_error(int rc)
{
	if (rc == PM_ETRUNC)
		return pm__err(rc, "the file ends before its recorded end");
	return pm__err(rc, "cannot read the checkpoint file: %s",
		       pm_strerror(rc));
}

/* crc of [off, off+len) of the file. */
static int crc_file(struct pm__ckpt *ck, uint64_t off, uint64_t len,
		    uint32_t *out)
{
	struct reader r;
	uint32_t crc = 0;
	reader_init(&r, ck->fd, ck->chunk, off, off + len, ck->guarded);
	int rc = crc_span(&r, off, off + len, &crc);
	reader_drop(&r);
	if (rc)
		return read_error(rc);
	*out = crc;
	return 0;
}

/* ---- the heap data's checksums, on two cores ---------------------------
 * The heap sections are one contiguous range of the file.  Past a size
 * where a thread pays for itself, a helper thread checks the upper half
 * while this one checks the lower: each computes, for every section, the
 * crc of the part of it inside its half, and the two are joined with
 * pm__crc32c_combine.  Reading and checksumming then take about one read
 * pass in wall time, not two.  The helper is joined before anything else
 * happens, so a restore still sees one thread. */
#define PARALLEL_MIN (64UL << 20)

struct crc_half {
	const struct pm__ckpt *ck;
	unsigned char *buf; /* PM__CHUNK bytes */
	uint64_t lo, hi;    /* file range */
	uint32_t *part;     /* per section: crc of its bytes in [lo, hi) */
	int rc;
};

static void crc_heap_range(struct crc_half *j)
{
	const struct pm__ckpt *ck = j->ck;
	struct reader r;
	reader_init(&r, ck->fd, j->buf, j->lo, j->hi, ck->guarded);
	j->rc = 0;
	for (uint32_t i = 0; i < ck->h.nsections; i++) {
		const struct pmf_section *s = &ck->sec[i];
		j->part[i] = 0; /* the crc of nothing */
		if (!PM__PAGED(s->kind))
			continue;
		uint64_t a = s->data_off > j->lo ? s->data_off : j->lo;
		uint64_t b = s->data_off + s->len < j->hi ? s->data_off + s->len
							  : j->hi;
		uint32_t crc = 0;
		if (a < b && (j->rc = crc_span(&r, a, b, &crc)))
			break;
		j->part[i] = crc;
	}
	reader_drop(&r);
}

static void *crc_half_thread(void *arg)
{
	crc_heap_range(arg);
	return NULL;
}

/* 1 if the heap sections were checked here (rc set), 0 if the caller must
 * check them one by one. */
static int verify_heap_parallel(struct pm__ckpt *ck, int *rc)
{
	uint64_t lo = ck->h.heap_off, hi = ck->h.file_size;
	if (hi - lo < PARALLEL_MIN)
		return 0;
	size_t nsec = ck->h.nsections;
	size_t len = 2 * nsec * sizeof(uint32_t) + PM__CHUNK;
	unsigned char *m = pm__scratch(len);
	if (!m)
		return 0;
	uint64_t mid = lo + (hi - lo) / 2;
	struct crc_half down = {ck, ck->chunk, lo, mid, (uint32_t *)m, 0};
	struct crc_half up = {ck, m + 2 * nsec * sizeof(uint32_t), mid, hi,
			      (uint32_t *)m + nsec, 0};
	pthread_t t;
	if (pthread_create(&t, NULL, crc_half_thread, &up)) {
		pm__scratch_free(m, len);
		return 0;
	}
	crc_heap_range(&down);
	pthread_join(t, NULL);
	ck->helper_ran = 1;
	*rc = down.rc ? down.rc : up.rc;
	if (*rc)
		*rc = read_error(*rc);
	for (uint32_t i = 0; i < nsec && !*rc; i++) {
		const struct pmf_section *s = &ck->sec[i];
		if (!PM__PAGED(s->kind))
			continue;
		uint64_t end = s->data_off + s->len;
		uint64_t upper = end <= mid ? 0
				 : s->data_off >= mid ? s->len
						      : end - mid;
		uint32_t c = pm__crc32c_combine(down.part[i], up.part[i], upper);
		if (c != s->data_crc)
			*rc = pm__ckpt_bad_section(i, s,
						   "data checksum mismatch");
	}
	pm__scratch_free(m, len);
	return 1;
}

/* Who may have written the file (the trust model, docs/FORMAT.md): root,
 * or the user running us; and nobody else may write to it.  In a program
 * with privileges its user lacks (AT_SECURE), the user who started it is
 * the one not to trust: a setuid program accepts its effective user's
 * files (or root's), a setgid or file-capability program (same user,
 * more rights) root's only.  Checked on the open descriptor, so it is the
 * file that will be used. */
int pm__ckpt_check_trust(const struct pm__ckpt *ck, unsigned flags)
{
	struct stat st;
	if (flags & PM_RESTORE_ANY_OWNER)
		return 0;
	if (fstat(ck->fd, &st) != 0)
		return pm__err(-errno, "cannot stat the checkpoint file");
	uid_t ruid = getuid(), euid = geteuid();
	int secure = pm__secure();
	int user_ok = !secure || euid != ruid;
	uid_t me = secure ? euid : ruid;
	if (st.st_uid != 0 && (!user_ok || st.st_uid != me)) {
		if (!user_ok)
			return pm__err(PM_EUNTRUSTED,
				       "the file is owned by uid %u, not root: "
				       "this program runs with privileges its "
				       "user lacks (setgid or file "
				       "capabilities), so only root's files are "
				       "restored",
				       (unsigned)st.st_uid);
		return pm__err(PM_EUNTRUSTED,
			       "the file is owned by uid %u, not by uid %u "
			       "(this %s) or root: restoring it would run what "
			       "another user wrote (PMALLOC_TRUST_ANY_OWNER=1 "
			       "accepts)",
			       (unsigned)st.st_uid, (unsigned)me,
			       secure ? "program's effective user"
				      : "process's user");
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		return pm__err(PM_EUNTRUSTED,
			       "the file is writable by %s (mode %o): anyone "
			       "who can write it can run code here "
			       "(PMALLOC_TRUST_ANY_OWNER=1 accepts)",
			       (st.st_mode & S_IWOTH) ? "others" : "its group",
			       (unsigned)(st.st_mode & 07777));
	return 0;
}

static int verify_sections(struct pm__ckpt *ck);

/* The region header: at the start of a checkpoint's first heap section;
 * in an image, at the start of the run of pages at the region's base (the
 * writer always saves that page: the header is live).  A run moved off
 * it, or a header that disagrees with the file's, would resume a heap
 * whose first malloc aborts. */
_Static_assert(sizeof(struct pm_region) <= PM__CHUNK, "a region header in the chunk");
int pm__ckpt_region_header(struct pm__ckpt *ck)
{
	const uint64_t hs = sizeof(struct pm_region), base = ck->h.base;
	int rc;
	if (ck->h.kind != PMF_KIND_IMAGE) {
		for (uint32_t i = 0; i < ck->h.nsections; i++) {
			const struct pmf_section *s = &ck->sec[i];
			if (s->kind != PMF_SEC_HEAP)
				continue;
			size_t n = s->len < PM__CHUNK ? (size_t)s->len
						      : PM__CHUNK;
			if ((rc = pm__pread_full(ck->fd, ck->chunk, n,
						 s->data_off)))
				return rc;
			return pm__ckpt_check_region(ck, ck->chunk, n);
		}
		return 0;
	}
	/* an image: the header's bytes as a resume would map them, from the
	 * runs over [base, base + hs); a page no run holds reads as zero,
	 * but the first one must be there */
	unsigned char *b = ck->chunk;
	int first = 0;
	memset(b, 0, hs);
	for (uint32_t i = 0; i < ck->h.nsections; i++) {
		const struct pmf_section *s = &ck->sec[i];
		if (s->kind != PMF_SEC_PAGES || s->addr + s->len <= base ||
		    s->addr >= base + hs)
			continue;
		uint64_t lo = s->addr > base ? s->addr : base;
		uint64_t hi = s->addr + s->len < base + hs ? s->addr + s->len
							    : base + hs;
		first |= s->addr <= base;
		if ((rc = pm__pread_full(ck->fd, b + (lo - base),
					 (size_t)(hi - lo),
					 s->data_off + (lo - s->addr))))
			return rc;
	}
	if (!first)
		return pm__err(PM_ECORRUPT, "image: no page saved at the "
					    "region's base 0x%llx (its header)",
			       (unsigned long long)base);
	return pm__ckpt_check_region(ck, b, (size_t)hs);
}

int pm__ckpt_verify_data(struct pm__ckpt *ck)
{
	size_t pad = (size_t)(ck->h.heap_off - ck->globals_end);
	int rc = pm__pread_full(ck->fd, ck->chunk, pad, ck->globals_end);
	if (rc)
		return rc;
	if (!pm__ckpt_zero(ck->chunk, pad))
		return pm__ckpt_bad_padding(ck);
	if ((rc = pm__ckpt_region_header(ck)))
		return rc;
	ck->guarded = bus_guard(1);
	rc = verify_sections(ck);
	if (ck->guarded)
		ck->guarded = bus_guard(0);
	return rc;
}

static int verify_sections(struct pm__ckpt *ck)
{
	int rc = 0;
	int heap_done = verify_heap_parallel(ck, &rc);
	if (rc)
		return rc;
	for (uint32_t i = 0; i < ck->h.nsections; i++) {
		const struct pmf_section *s = &ck->sec[i];
		uint32_t c = 0;
		int heap = PM__PAGED(s->kind);
		if (heap && heap_done)
			continue;
		rc = crc_file(ck, s->data_off, s->len, &c);
		if (rc)
			return rc;
		if (c != s->data_crc)
			return pm__ckpt_bad_section(i, s,
						    "data checksum mismatch");
		if (heap || ck->h.kind == PMF_KIND_IMAGE)
			continue;
		if ((rc = crc_file(ck, s->keep_off, pmf_keep_bytes(s->len),
				   &c)))
			return rc;
		if (c != s->keep_crc)
			return pm__ckpt_bad_section(i, s,
						    "keep bitmap checksum "
						    "mismatch");
	}
	return 0;
}
