/*
 * ckpt_write.c - writing a checkpoint file (layout in format.h).
 *
 * The order of events, and why:
 *   1. open the target's directory; remove temporary files that dead
 *      writers left for the same target (before anything is reserved: a
 *      killed writer's temp on a nearly full disk must not make every
 *      later checkpoint fail with ENOSPC);
 *   2. create `.NAME.tmp.PID.RRRRRRRRRRRRRRRR` beside the target (R: 16 hex
 *      digits from getrandom, so nobody can squat the names; O_EXCL |
 *      O_NOFOLLOW), flock it (a live writer's temp is never taken for
 *      stale), fchmod it to 0600 or the replaced target's mode plus owner
 *      rw (whatever the umask).  The target is never modified in place,
 *      because a restored process may have it mapped (a rewritten mapped
 *      file shows new bytes, a truncated one raises SIGBUS);
 *   3. list loaded objects and globals spans BEFORE quiescing: listing
 *      objects takes the loader's lock, and a thread inside dlopen() holds
 *      that lock while it waits for malloc;
 *   4. quiesce the heap; find the heap spans (free interiors skipped by
 *      pm__heap_spans, pages never touched skipped with /proc/self/pagemap);
 *      compute the keep bitmaps; fix the layout; compare the size with
 *      RLIMIT_FSIZE; fallocate (a full disk is found before anything is
 *      written);
 *   5. write globals and heap straight from memory, 1 MiB at a time, each
 *      piece checksummed just before it is written (one pass over memory);
 *   6. resume the heap: the file's bytes are in the page cache now, the rest
 *      (header, table, fsync) does not need other threads stopped;
 *   7. write header, metadata and table at offset 0; fsync; rename (still
 *      holding the lock); fsync the directory (PM_EDIRSYNC if that fails:
 *      the new file is in place).  On any error before the rename the
 *      temp file is unlinked.
 * SIGXFSZ is blocked on the writing thread throughout, and one that the
 * writes raised is consumed: a file size limit gives -EFBIG, not death.
 *
 * No stdio, no malloc; all scratch memory is one private anonymous mapping.
 */
#include "ckpt.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h> /* renameat() only: no streams here */
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <signal.h>
#include <dirent.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/utsname.h>

typedef unsigned long long ull;

/* Most heap sections a file gets: a restore maps each one (plus the gap
 * after it), and the kernel's default limit is 65530 mappings. */
#define MAX_HEAP_SECTIONS PMF_MAX_HEAP_SECTIONS

static unsigned tmp_counter PM_STATE;

struct run {
	uint64_t lo, hi;
};

struct wctx {
	struct run *runs;     /* heap byte ranges to save, address order */
	size_t nruns, maxruns;
	struct run *files;    /* file-backed mappings inside the region */
	size_t nfiles, maxfiles;
	int pagemap;          /* fd of /proc/self/pagemap, or -1 */
	uint64_t *pm;         /* pagemap entries buffer */
	uintptr_t must_lo, must_hi; /* always saved: the region header */
	int err;
};
#define PM_ENTRIES 4096
#define MAX_FILES 65536
/* Checksummed, then written while still in the cache (64 KiB to 4 MiB
 * measured alike). */
#define WRITE_PIECE (256u << 10)
#define NAME_CAP 4200

static int pwrite_all(int fd, const void *buf, size_t n, uint64_t off)
{
	const char *p = buf;
	while (n) {
		ssize_t w = pwrite(fd, p, n, (off_t)off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		if (w == 0)
			return -ENOSPC;
		p += w;
		off += (uint64_t)w;
		n -= (size_t)w;
	}
	return 0;
}

static void add_run(struct wctx *w, uint64_t lo, uint64_t hi)
{
	hi = (hi + PM_PAGE - 1) & ~(PM_PAGE - 1);
	if (w->nruns && w->runs[w->nruns - 1].hi == lo) {
		w->runs[w->nruns - 1].hi = hi;
		return;
	}
	if (w->nruns == w->maxruns) {
		w->err = -ENOMEM;
		return;
	}
	w->runs[w->nruns].lo = lo;
	w->runs[w->nruns].hi = hi;
	w->nruns++;
}

static int in_files(const struct wctx *w, uint64_t a)
{
	for (size_t i = 0; i < w->nfiles; i++)
		if (a >= w->files[i].lo && a < w->files[i].hi)
			return 1;
	return 0;
}

/* A page must be saved unless it was never touched: neither present nor
 * swapped (it reads as zero) and not backed by a checkpoint file (whose
 * unread pages are not present either, yet hold data). */
static int span_cb(void *vctx, uintptr_t lo, uintptr_t hi)
{
	struct wctx *w = vctx;
	if (w->pagemap < 0) {
		add_run(w, lo, hi);
		return w->err;
	}
	uintptr_t run_lo = 0;
	int in_run = 0;
	for (uintptr_t at = lo; at < hi;) {
		size_t n = (hi - at) / PM_PAGE;
		if (n > PM_ENTRIES)
			n = PM_ENTRIES;
		ssize_t r = pread(w->pagemap, w->pm, n * 8,
				  (off_t)(at / PM_PAGE * 8));
		if (r != (ssize_t)(n * 8)) {
			/* cannot tell: save everything from here */
			if (!in_run)
				run_lo = at, in_run = 1;
			break;
		}
		for (size_t i = 0; i < n; i++, at += PM_PAGE) {
			uint64_t e = w->pm[i];
			int need = (e >> 62) != 0 ||
				   (at >= w->must_lo && at < w->must_hi) ||
				   (w->nfiles && in_files(w, at));
			if (need && !in_run)
				run_lo = at, in_run = 1;
			else if (!need && in_run)
				add_run(w, run_lo, at), in_run = 0;
		}
	}
	if (in_run)
		add_run(w, run_lo, hi);
	return w->err;
}

static int files_cb(void *vctx, uintptr_t lo, uintptr_t hi,
		    const char *perms, const char *path)
{
	struct wctx *w = vctx;
	(void)perms;
	uintptr_t b = pm__region->base, e = pm__region->tbase;
	if (hi <= b || lo >= e || !path[0] || path[0] == '[')
		return 0;
	if (w->nfiles == w->maxfiles) {
		w->err = -ENOMEM;
		return 1;
	}
	w->files[w->nfiles].lo = lo < b ? b : lo;
	w->files[w->nfiles].hi = hi > e ? e : hi;
	w->nfiles++;
	return 0;
}

/* Too many runs for a restore to map: merge across the smallest gaps,
 * doubling the gap accepted until few enough remain. */
static void merge_runs(struct wctx *w)
{
	/* A one- or two-page hole costs a restore more (two mappings) than
	 * writing it: always merge those. */
	uint64_t gap = 2 * PM_PAGE;
	for (int first = 1; first || w->nruns > MAX_HEAP_SECTIONS; first = 0) {
		size_t n = 0;
		for (size_t i = 0; i < w->nruns; i++) {
			if (n && w->runs[i].lo - w->runs[n - 1].hi <= gap)
				w->runs[n - 1].hi = w->runs[i].hi;
			else
				w->runs[n++] = w->runs[i];
		}
		w->nruns = n;
		gap *= 2;
	}
}

/* Data written from memory, a piece at a time: each piece is first copied
 * into a cache-sized scratch buffer, then checksummed and written from the
 * copy.  Other threads of the program may be writing the memory meanwhile
 * (only the allocator is quiesced), and the loader may fill a lazy GOT
 * slot in the middle of a checkpoint: the crc must describe exactly the
 * bytes written, whatever the memory does. */
/* Copy n bytes that another thread may unmap meanwhile (JIT code a
 * library frees): EFAULT instead of a crash. */
static int copy_checked(void *dst, const void *src, size_t n)
{
	struct iovec l = {dst, n}, r = {(void *)(uintptr_t)src, n};
	ssize_t got = process_vm_readv(getpid(), &l, 1, &r, 1, 0);
	if (got == (ssize_t)n)
		return 0;
	if (got < 0 && errno != EFAULT) { /* not allowed here (a seccomp
					   * filter): copy and trust it */
		memcpy(dst, src, n);
		return 0;
	}
	return -EFAULT;
}

/* pmalloc's own state (PM_STATE) when libpmalloc.a is linked into the
 * executable: inside the data section, yet it describes this process (a
 * restore keeps the live words) and may hold the checkpoint key, so the
 * file gets zeros there. */
extern char __start_pm_state[] __attribute__((visibility("hidden"), weak));
extern char __stop_pm_state[] __attribute__((visibility("hidden"), weak));

static void blank_own_state(unsigned char *piece, uintptr_t at, size_t n)
{
	uintptr_t sl = (uintptr_t)__start_pm_state;
	uintptr_t sh = (uintptr_t)__stop_pm_state;
	if (!sl || sh <= sl || at >= sh || at + n <= sl)
		return;
	uintptr_t lo = at > sl ? at : sl, hi = at + n < sh ? at + n : sh;
	memset(piece + (lo - at), 0, hi - lo);
}

static int write_mem(int fd, const void *src, uint64_t len, uint64_t off,
		     uint32_t *crc_out, unsigned char *piece, int checked,
		     struct pm__sha256 *body)
{
	const unsigned char *p = src;
	uint32_t crc = 0;
	while (len) {
		size_t n = len < WRITE_PIECE ? (size_t)len : WRITE_PIECE;
		if (!checked)
			memcpy(piece, p, n);
		else if (copy_checked(piece, p, n))
			return pm__err(-EFAULT, "checkpoint: the code mapping "
						"at %p went away while it was "
						"copied",
				       (const void *)p);
		blank_own_state(piece, (uintptr_t)p, n);
		crc = pm__crc32c(crc, piece, n);
		if (body) /* a key: the MAC's hash of the body, same bytes */
			pm__sha256_update(body, piece, n);
		int rc = pwrite_all(fd, piece, n, off);
		if (rc)
			return rc;
		p += n;
		off += n;
		len -= n;
	}
	*crc_out = crc;
	return 0;
}

/* n zero bytes into the body hash (the padding before heap_off). */
static void mac_zeros(struct pm__sha256 *body, uint64_t n)
{
	static const unsigned char zero[256];
	while (n) {
		size_t k = n < sizeof zero ? (size_t)n : sizeof zero;
		pm__sha256_update(body, zero, k);
		n -= k;
	}
}

static void copy_str(char *dst, size_t cap, const char *src)
{
	size_t i;
	for (i = 0; src[i] && i + 1 < cap; i++)
		dst[i] = src[i];
	dst[i] = '\0';
}

/* Scratch layout (one mapping). */
struct scratch {
	struct pm_object *objs;
	struct pm_gspan *gspans;
	struct run *runs, *files;
	uint64_t *pm;
	char *tmp, *dir;
	uint8_t *prefix;   /* header + metadata + table, built in place */
	uint8_t *keep;     /* keep bitmaps of the globals spans */
	unsigned char *piece; /* WRITE_PIECE bytes: the copy being written */
	size_t prefix_cap, keep_cap, maxruns;
};

static void *carve(uintptr_t *at, size_t n)
{
	void *p = (void *)*at;
	*at += (n + 63) & ~(size_t)63;
	return p;
}

/* Lays the scratch out from base (0: only to learn the size). */
static size_t scratch_layout(struct scratch *s, uintptr_t base)
{
	uintptr_t at = base;
	s->objs = carve(&at, PMF_MAX_OBJECTS * sizeof(struct pm_object));
	s->gspans = carve(&at, PM_GSPAN_MAX * sizeof(struct pm_gspan));
	s->runs = carve(&at, s->maxruns * sizeof(struct run));
	s->files = carve(&at, MAX_FILES * sizeof(struct run));
	s->pm = carve(&at, PM_ENTRIES * 8);
	s->tmp = carve(&at, NAME_CAP);
	s->dir = carve(&at, NAME_CAP);
	s->prefix = carve(&at, s->prefix_cap);
	s->keep = carve(&at, s->keep_cap);
	s->piece = carve(&at, WRITE_PIECE);
	return (size_t)(at - base);
}

/* "DIR" of path into dir; *base: the last component, inside path. */
static int split_path(const char *path, char *dir, const char **base)
{
	size_t len = strlen(path);
	const char *slash = strrchr(path, '/');
	*base = slash ? slash + 1 : path;
	if (!**base)
		return pm__err(-EISDIR, "checkpoint: %s names a directory",
			       path);
	if (len > 4000)
		return pm__err(-ENAMETOOLONG, "checkpoint: path too long");
	if (slash) {
		size_t dl = slash == path ? 1 : (size_t)(slash - path);
		memcpy(dir, path, dl);
		dir[dl] = '\0';
	} else {
		memcpy(dir, ".", 2);
	}
	return 0;
}

/* Temporary names: ".BASE.tmp.PID.R" with R RAND_HEX hex digits.  The
 * random part makes the names unguessable, so another user who can write
 * the directory cannot block checkpoints by creating them first; the pid
 * is for people reading the directory and for the stale test where locks
 * are not available. */
#define RAND_HEX 16
#define TMP_TRIES 128

static void random_hex(char *out)
{
	unsigned char b[RAND_HEX / 2];
	if (getrandom(b, sizeof b, GRND_NONBLOCK) != (ssize_t)sizeof b) {
		/* no getrandom (seccomp, an old kernel, early boot): clock,
		 * pid and a counter, mixed.  Guessable, but never worse
		 * than the old fixed names, and the tries go on */
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^
			     ((uint64_t)getpid() << 40) ^
			     (uint64_t)__atomic_fetch_add(&tmp_counter, 1,
							  __ATOMIC_RELAXED) *
				     0x9e3779b97f4a7c15ull;
		x ^= x >> 31;
		x *= 0xbf58476d1ce4e5b9ull;
		x ^= x >> 29;
		memcpy(b, &x, sizeof b);
	}
	for (size_t i = 0; i < sizeof b; i++) {
		out[2 * i] = "0123456789abcdef"[b[i] >> 4];
		out[2 * i + 1] = "0123456789abcdef"[b[i] & 15];
	}
	out[RAND_HEX] = '\0';
}

/* tmp = the directory part of path (as given) + ".BASE.tmp.PID.R". */
static void tmp_name(char *tmp, const char *path, const char *base)
{
	char r[RAND_HEX + 1];
	random_hex(r);
	size_t dl = (size_t)(base - path);
	memcpy(tmp, path, dl);
	pm__fmt(tmp + dl, NAME_CAP - dl, ".%s.tmp.%d.%s", base, (int)getpid(),
		r);
}

/* Parse a decimal number at *s; returns -1 if there is none. */
static long decimal(const char **s)
{
	long v = 0;
	const char *p = *s;
	if (*p < '0' || *p > '9')
		return -1;
	while (*p >= '0' && *p <= '9' && v < (1L << 40))
		v = v * 10 + (*p++ - '0');
	*s = p;
	return v;
}

/* The pid in name if it is a temporary name of target base: the shape
 * above (*old = 0), or ".BASE.tmp.PID.N" of writers before it (*old = 1,
 * they took no lock); 0 otherwise. */
static long temp_pid(const char *q, const char *base, size_t bl, int *old)
{
	if (q[0] != '.' || strncmp(q + 1, base, bl) ||
	    strncmp(q + 1 + bl, ".tmp.", 5))
		return 0;
	q += 1 + bl + 5;
	long pid = decimal(&q);
	if (pid <= 0 || *q++ != '.')
		return 0;
	const char *r = q;
	while ((*q >= '0' && *q <= '9') || (*q >= 'a' && *q <= 'f'))
		q++;
	if (*q)
		return 0;
	if (q - r == RAND_HEX) {
		*old = 0;
		return pid;
	}
	*old = 1;
	return decimal(&r) >= 0 && !*r ? pid : 0;
}

static int pid_gone(long pid)
{
	return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

/* Remove the temp file `name` if its writer is gone.  A live writer holds
 * an exclusive flock on its temp from just after creating it until after
 * the rename, so a temp whose lock can be taken is nobody's; where flock
 * is not available (and for the old names, which were never locked) the
 * pid is the test: a live pid, even an unrelated one, keeps its file.
 * Only regular files we can open are touched (another user's temp is
 * theirs to clean).  The lock is held across the unlink: a writer that
 * created this name an instant before locking it finds the lock taken or
 * its file unlinked, and takes another name. */
static void remove_if_stale(int dfd, const char *name, long pid, int old)
{
	struct stat a, b;
	if (fstatat(dfd, name, &a, AT_SYMLINK_NOFOLLOW) || !S_ISREG(a.st_mode))
		return;
	if (old) {
		if (pid_gone(pid))
			unlinkat(dfd, name, 0);
		return;
	}
	int fd = openat(dfd, name,
			O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY |
				O_CLOEXEC);
	if (fd < 0)
		return;
	int gone = flock(fd, LOCK_EX | LOCK_NB) == 0 ||
		   (errno != EWOULDBLOCK && pid_gone(pid));
	if (gone && fstat(fd, &b) == 0 &&
	    fstatat(dfd, name, &a, AT_SYMLINK_NOFOLLOW) == 0 &&
	    a.st_ino == b.st_ino && a.st_dev == b.st_dev)
		unlinkat(dfd, name, 0);
	close(fd);
}

/* A writer killed mid-checkpoint leaves its temp behind; on a nearly full
 * disk that file holds the space the next checkpoint needs, so this runs
 * before anything is reserved.  Only temps of the same target: those of
 * other targets are their writers' business. */
static void remove_stale_temps(int dfd, const char *base)
{
	size_t bl = strlen(base);
	char buf[8192];
	for (;;) {
		ssize_t n = getdents64(dfd, buf, sizeof buf);
		if (n <= 0)
			return;
		for (ssize_t off = 0; off < n;) {
			struct dirent64 *d = (struct dirent64 *)(buf + off);
			off += d->d_reclen;
			int old = 0;
			long pid = temp_pid(d->d_name, base, bl, &old);
			if (pid > 0)
				remove_if_stale(dfd, d->d_name, pid, old);
		}
	}
}

/* Create the temp file (in dfd, name written into tmp + base_at) and lock
 * it.  Returns the fd or a negative errno. */
static int create_temp(int dfd, char *tmp, const char *path,
		       const char *base)
{
	size_t base_at = (size_t)(base - path);
	int rc = -EEXIST;
	for (int tries = 0; tries < TMP_TRIES; tries++) {
		tmp_name(tmp, path, base);
		int fd = openat(dfd, tmp + base_at,
				O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW |
					O_CLOEXEC,
				0600);
		if (fd < 0) {
			rc = -errno;
			if (errno == EEXIST || errno == EINTR)
				continue;
			break;
		}
		/* EWOULDBLOCK: a cleaner is looking at it right now; any
		 * other failure (no flock here): go on unlocked, the pid in
		 * the name protects the file */
		if (flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK) {
			unlinkat(dfd, tmp + base_at, 0);
			close(fd);
			continue;
		}
		struct stat st;
		if (fstat(fd, &st) == 0 && st.st_nlink == 0) {
			close(fd); /* a cleaner removed it before the lock */
			continue;
		}
		return fd;
	}
	return rc;
}

/* SIGXFSZ is blocked on the writing thread while the file is written:
 * with a file size limit (ulimit -f) a write past it fails with EFBIG and
 * raises SIGXFSZ, whose default action kills the process.  On the way out
 * a SIGXFSZ that became pending meanwhile is consumed (the writes raised
 * it); one that was pending before (blocked by the caller) is left. */
struct xfsz {
	sigset_t old;
	int was_pending;
};

static void xfsz_block(struct xfsz *x)
{
	sigset_t set, pend;
	sigemptyset(&set);
	sigaddset(&set, SIGXFSZ);
	x->was_pending = sigpending(&pend) == 0 && sigismember(&pend, SIGXFSZ);
	pthread_sigmask(SIG_BLOCK, &set, &x->old);
}

static void xfsz_restore(struct xfsz *x)
{
	sigset_t set, pend;
	sigemptyset(&set);
	sigaddset(&set, SIGXFSZ);
	if (!x->was_pending && sigpending(&pend) == 0 &&
	    sigismember(&pend, SIGXFSZ)) {
		struct timespec zero = {0, 0};
		sigtimedwait(&set, NULL, &zero);
	}
	pthread_sigmask(SIG_SETMASK, &x->old, NULL);
}

int pm__ckpt_write(const char *path)
{
	struct scratch s;
	struct wctx w;
	struct pm__hmac_sha256 hm;
	struct pm__sha256 body_ctx, *body = NULL;
	unsigned char *map = NULL;
	size_t maplen = 0;
	int fd = -1, rc, quiesced = 0, created = 0;
	int dfd = -1, xfsz_on = 0;
	struct xfsz xf;
	const char *base = path, *tmpbase = NULL;

	if (!path || !path[0])
		return pm__err(-EINVAL, "checkpoint: no file name");
	if (pm__ensure_init() || !pm__region)
		return pm__err(PM_ENOHEAP, "checkpoint: the heap is not "
					   "available");
	/* The file is replaced by rename: only a regular file (or nothing)
	 * may be there.  A device, fifo or directory is refused before any
	 * work; so is a symbolic link, which rename would replace rather
	 * than follow. */
	struct stat st;
	int have_target = lstat(path, &st) == 0;
	if (have_target && !S_ISREG(st.st_mode))
		return pm__err(S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL,
			       "checkpoint: %s is %s, not a regular file", path,
			       S_ISDIR(st.st_mode)   ? "a directory"
			       : S_ISLNK(st.st_mode) ? "a symbolic link (give "
						       "the path it points to)"
						     : "a device, fifo or socket");

	/* size the scratch: runs are at most one per two pages */
	memset(&s, 0, sizeof s);
	s.maxruns = (pm__region->tbase - pm__region->base) / PM_PAGE / 2 + 2;
	s.prefix_cap = PMF_HEADER_SIZE + sizeof(struct pmf_meta) +
		       PMF_MAX_OBJECTS * sizeof(struct pmf_object) +
		       (MAX_HEAP_SECTIONS + PM_GSPAN_MAX) *
			       sizeof(struct pmf_section);
	s.keep_cap = 0; /* known after the spans are listed */
	size_t fixed = scratch_layout(&s, 0);
	/* globals keep bitmaps: sized from the spans, listed into a stack
	 * array first so that the scratch is mapped once */
	struct pm_gspan gs[PM_GSPAN_MAX];
	int ngs = pm__globals_spans(gs, PM_GSPAN_MAX);
	if (ngs < 0)
		return ngs;
	int ncode = pm__code_spans(gs + ngs, PM_GSPAN_MAX - ngs);
	if (ncode < 0)
		return ncode;
	ngs += ncode;
	for (int i = 0; i < ngs; i++)
		s.keep_cap += pmf_keep_bytes(gs[i].hi - gs[i].lo);
	maplen = fixed + s.keep_cap + 64;
	map = pm__scratch(maplen);
	if (!map)
		return pm__err(-ENOMEM, "checkpoint: no scratch memory");
	scratch_layout(&s, (uintptr_t)map);
	memcpy(s.gspans, gs, (size_t)ngs * sizeof *gs);

	/* a key (pm_key_set, PMALLOC_KEY_FILE): the file gets a MAC; the
	 * body is hashed as it is written */
	if ((rc = pm__key_hmac(&hm, "checkpoint")) < 0)
		goto out;
	if (rc > 0) {
		body = &body_ctx;
		pm__sha256_init(body);
	}

	/* The directory: the temp's creation, the stale temps, the rename
	 * and the final fsync all go through dfd.  A directory that can be
	 * written but not read gets an O_PATH fd: no cleanup then, and no
	 * directory sync (PM_EDIRSYNC). */
	if ((rc = split_path(path, s.dir, &base)))
		goto out;
	dfd = open(s.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 && errno == EACCES)
		dfd = open(s.dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		rc = -errno;
		rc = pm__err(rc, "checkpoint: cannot open the directory %s: %s",
			     s.dir, pm_strerror(rc));
		goto out;
	}
	remove_stale_temps(dfd, base);
	xfsz_block(&xf);
	xfsz_on = 1;
	tmpbase = s.tmp + (base - path);
	fd = create_temp(dfd, s.tmp, path, base);
	if (fd < 0) {
		rc = pm__err(fd, "checkpoint: cannot create %s: %s", s.tmp,
			     pm_strerror(fd));
		fd = -1;
		goto out;
	}
	created = 1;
	/* Whatever the umask, the owner can read and write the file: a new
	 * one gets 0600, a replaced one keeps the target's read and execute
	 * bits, never group or other write (a restore refuses such files). */
	mode_t mode = have_target ? (st.st_mode & 0755) | 0600 : 0600;
	if (fchmod(fd, mode) != 0) {
		rc = -errno;
		char oct[5] = {'0', (char)('0' + (mode >> 6 & 7)),
			       (char)('0' + (mode >> 3 & 7)),
			       (char)('0' + (mode & 7)), '\0'};
		rc = pm__err(rc, "checkpoint: cannot set mode %s on %s: %s",
			     oct, s.tmp, pm_strerror(rc));
		goto out;
	}
	int nobj = pm__objects(s.objs, PMF_MAX_OBJECTS);
	pm__tsd_record(); /* into the region header: part of the image */
	if (nobj < 1) {
		rc = pm__err(-ENOENT, "checkpoint: cannot list loaded objects");
		goto out;
	}

	memset(&w, 0, sizeof w);
	w.runs = s.runs;
	w.maxruns = s.maxruns;
	w.files = s.files;
	w.maxfiles = MAX_FILES;
	w.pm = s.pm;
	w.pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	w.must_lo = pm__region->base;
	w.must_hi = pm__region->base +
		    ((sizeof(struct pm_region) + PM_PAGE - 1) & ~(PM_PAGE - 1));

	/* ---- quiesced: nothing below may allocate or take a lock that a
	 * thread holds while it waits for malloc ---- */
	pm__heap_quiesce();
	quiesced = 1;
	struct pm_region *reg = pm__region;
	reg->checkpoints++;
	if (pm__os_region_has_files)
		pm__os_maps(files_cb, &w);
	if (!w.err)
		pm__heap_spans(span_cb, &w);
	if (w.pagemap >= 0)
		close(w.pagemap);
	if (w.err) {
		rc = pm__err(w.err, "checkpoint: too many heap spans");
		goto out;
	}
	merge_runs(&w);

	/* the layout */
	struct pmf_header *h = (struct pmf_header *)s.prefix;
	struct pmf_meta *meta = (struct pmf_meta *)(s.prefix + PMF_HEADER_SIZE);
	struct pmf_object *fo = (struct pmf_object *)(meta + 1);
	uint32_t nsec = (uint32_t)(ngs + (int)w.nruns);
	uint64_t msize = sizeof *meta + (uint64_t)nobj * sizeof *fo;
	struct pmf_section *sec =
		(struct pmf_section *)(s.prefix + PMF_HEADER_SIZE + msize);
	uint64_t table_end = PMF_HEADER_SIZE + msize + nsec * sizeof *sec;
	uint64_t cur = table_end, gbytes = 0, hbytes = 0;
	uint8_t *keep = s.keep;
	memset(s.prefix, 0, (size_t)table_end);
	for (int i = 0; i < ngs; i++) {
		uint64_t len = s.gspans[i].hi - s.gspans[i].lo;
		uint32_t k = s.gspans[i].kind;
		sec[i].kind = k == PM_GSPAN_DATA	 ? PMF_SEC_DATA
			      : k == PM_GSPAN_PERSISTENT ? PMF_SEC_PERSISTENT
			      : k == PM_GSPAN_CODE	 ? PMF_SEC_CODE
							 : PMF_SEC_REGISTERED;
		sec[i].flags = k == PM_GSPAN_CODE ? s.gspans[i].prot : 0;
		sec[i].addr = s.gspans[i].lo;
		sec[i].len = len;
		sec[i].data_off = cur;
		sec[i].keep_off = cur + len;
		memset(keep, 0, pmf_keep_bytes(len));
		if (k != PM_GSPAN_CODE) /* code is copied whole */
			pm__globals_keep_mask(s.gspans[i].lo, s.gspans[i].hi,
					      keep, pm__transient_live);
		sec[i].keep_crc = pm__crc32c(0, keep, pmf_keep_bytes(len));
		keep += pmf_keep_bytes(len);
		cur += len + pmf_keep_bytes(len);
		gbytes += len;
	}
	uint64_t heap_off = (cur + PM_PAGE - 1) & ~(PM_PAGE - 1);
	cur = heap_off;
	for (size_t i = 0; i < w.nruns; i++) {
		struct pmf_section *x = &sec[ngs + (int)i];
		x->kind = PMF_SEC_HEAP;
		x->addr = w.runs[i].lo;
		x->len = w.runs[i].hi - w.runs[i].lo;
		x->data_off = cur;
		cur += x->len;
		hbytes += x->len;
	}
	uint64_t file_size = cur;

	/* a file size limit (ulimit -f): -EFBIG before a byte is written
	 * (fallocate past it would raise SIGXFSZ too) */
	struct rlimit fl;
	if (getrlimit(RLIMIT_FSIZE, &fl) == 0 && fl.rlim_cur != RLIM_INFINITY &&
	    file_size > (uint64_t)fl.rlim_cur) {
		pm__heap_resume();
		quiesced = 0;
		rc = pm__err(-EFBIG, "checkpoint: %s needs %llu bytes, more "
				     "than the file size limit (ulimit -f) "
				     "of %llu",
			     path, (ull)file_size, (ull)fl.rlim_cur);
		goto out;
	}

	/* a full disk shows here, before a byte is written */
	rc = fallocate(fd, 0, 0, (off_t)file_size) ? errno : 0;
	if (rc && rc != EOPNOTSUPP && rc != ENOSYS) {
		pm__heap_resume();
		quiesced = 0;
		rc = pm__err(-rc, "checkpoint: cannot reserve %llu bytes for "
				  "%s: %s",
			     (ull)file_size, s.tmp, pm_strerror(-rc));
		goto out;
	}

	/* the data, straight from memory */
	keep = s.keep;
	for (int i = 0; i < ngs; i++) {
		uint64_t kb = pmf_keep_bytes(sec[i].len);
		if ((rc = write_mem(fd, (const void *)(uintptr_t)sec[i].addr,
				    sec[i].len, sec[i].data_off,
				    &sec[i].data_crc, s.piece,
				    sec[i].kind == PMF_SEC_CODE, body)) ||
		    (rc = pwrite_all(fd, keep, (size_t)kb, sec[i].keep_off)))
			goto werr;
		if (body)
			pm__sha256_update(body, keep, (size_t)kb);
		keep += kb;
	}
	if (body) { /* the zeros from the globals' end to heap_off */
		uint64_t gend = table_end;
		if (ngs)
			gend = sec[ngs - 1].keep_off +
			       pmf_keep_bytes(sec[ngs - 1].len);
		mac_zeros(body, heap_off - gend);
	}
	for (uint32_t i = (uint32_t)ngs; i < nsec; i++)
		if ((rc = write_mem(fd, (const void *)(uintptr_t)sec[i].addr,
				    sec[i].len, sec[i].data_off,
				    &sec[i].data_crc, s.piece, 0, body)))
			goto werr;

	/* the header's facts, taken while still quiesced */
	memcpy(h->magic, PMF_MAGIC, PMF_MAGIC_LEN);
	h->version = PMF_VERSION;
	h->header_size = PMF_HEADER_SIZE;
	h->page_size = (uint32_t)PM_PAGE;
	h->base = reg->base;
	h->size = reg->size;
	h->tbase = reg->tbase;
	h->top_end = reg->p.top_end;
	h->live_bytes = reg->p.live_bytes;
	h->checkpoints = reg->checkpoints;
	pm__heap_resume();
	quiesced = 0;

	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	h->file_size = file_size;
	h->time_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	h->meta_off = PMF_HEADER_SIZE;
	h->meta_size = msize;
	h->table_off = PMF_HEADER_SIZE + msize;
	h->nsections = nsec;
	h->nobjects = (uint32_t)nobj;
	h->heap_bytes = hbytes;
	h->globals_bytes = gbytes;
	h->heap_off = heap_off;
	copy_str(meta->creator, sizeof meta->creator,
		 "pmalloc " PMALLOC_VERSION_STRING);
	struct utsname un;
	if (uname(&un) == 0)
		copy_str(meta->host, sizeof meta->host, un.nodename);
	meta->pid = (uint32_t)getpid();
	meta->uid = (uint32_t)getuid();
	meta->nthreads = (uint32_t)pm__thread_count();
	for (int i = 0; i < nobj; i++) {
		fo[i].load = s.objs[i].load;
		fo[i].size = s.objs[i].size;
		fo[i].mtime = s.objs[i].mtime;
		fo[i].build_id_len = s.objs[i].build_id_len;
		if (fo[i].build_id_len > sizeof s.objs[i].build_id)
			fo[i].build_id_len = sizeof s.objs[i].build_id;
		memcpy(fo[i].build_id, s.objs[i].build_id,
		       fo[i].build_id_len);
		copy_str(fo[i].path, sizeof fo[i].path, s.objs[i].path);
	}
	h->meta_crc = pm__crc32c(0, meta, (size_t)msize);
	h->table_crc = pm__crc32c(0, sec, nsec * sizeof *sec);
	if (body) { /* the MAC, over everything but itself and the crc */
		unsigned char bh[PM_SHA256_LEN];
		h->flags |= PMF_FLAG_MAC;
		pm__sha256_final(body, bh);
		pm__ckpt_mac(&hm, s.prefix, table_end, bh, h->mac);
		body = NULL;
	}
	h->header_crc = pm__crc32c(0, h, PMF_HEADER_CRC_OFF);
	if ((rc = pwrite_all(fd, s.prefix, (size_t)table_end, 0)))
		goto werr;
	if (fsync(fd) != 0) {
		rc = -errno;
		goto werr;
	}
	/* renamed before the close, so the lock is held until the name is
	 * gone: no cleaner can take the temp for stale */
	if (renameat(dfd, tmpbase, dfd, base) != 0) {
		rc = -errno;
		rc = pm__err(rc, "checkpoint: cannot rename %s to %s: %s",
			     s.tmp, path, pm_strerror(rc));
		goto out;
	}
	created = 0; /* nothing to unlink any more */
	/* the data is on disk (fsync succeeded): an error of close could
	 * only repeat what fsync said */
	close(fd);
	fd = -1;
	/* the new file is in place whatever happens now; without the
	 * directory's fsync the rename may not survive a crash.  (EINVAL:
	 * the file system has no directory sync to offer.) */
	if (fsync(dfd) != 0 && errno != EINVAL) {
		rc = -errno;
		rc = pm__err(PM_EDIRSYNC, "checkpoint: %s was written, but its "
					  "directory %s could not be synced "
					  "(%s): the new file may not survive "
					  "a crash",
			     path, s.dir, pm_strerror(rc));
		goto out;
	}
	rc = 0;
	goto out;
werr:
	/* resume first: strerror may allocate (translations) */
	if (quiesced)
		pm__heap_resume();
	quiesced = 0;
	if (rc != -EFAULT) /* (that one, write_mem said what went away) */
		rc = pm__err(rc, "checkpoint: writing %s failed: %s", s.tmp,
			     pm_strerror(rc));
out:
	if (body) { /* failed before the MAC: wipe the keyed state */
		pm__wipe(&hm, sizeof hm);
		pm__wipe(body, sizeof *body);
	}
	if (quiesced)
		pm__heap_resume();
	if (rc && created)
		unlinkat(dfd, tmpbase, 0);
	if (fd >= 0)
		close(fd); /* after the unlink: the lock covers it */
	if (dfd >= 0)
		close(dfd);
	if (xfsz_on)
		xfsz_restore(&xf);
	pm__scratch_free(map, maplen);
	return rc;
}
