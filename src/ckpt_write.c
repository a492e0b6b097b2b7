/*
 * ckpt_write.c - writing a checkpoint file (layout in format.h).
 *
 * The order of events, and why:
 *   1. create `.NAME.tmp.PID.N` beside the target (O_EXCL, 0600): the
 *      target is never modified in place, because a restored process may
 *      have it mapped (a rewritten mapped file shows new bytes, a truncated
 *      one raises SIGBUS);
 *   2. list loaded objects and globals spans BEFORE quiescing: listing
 *      objects takes the loader's lock, and a thread inside dlopen() holds
 *      that lock while it waits for malloc;
 *   3. quiesce the heap; find the heap spans (free interiors skipped by
 *      pm__heap_spans, pages never touched skipped with /proc/self/pagemap);
 *      compute the keep bitmaps; fix the layout; fallocate (a full disk is
 *      found before anything is written);
 *   4. write globals and heap straight from memory, 1 MiB at a time, each
 *      piece checksummed just before it is written (one pass over memory);
 *   5. resume the heap: the file's bytes are in the page cache now, the rest
 *      (header, table, fsync) does not need other threads stopped;
 *   6. write header, metadata and table at offset 0; fsync; rename; fsync
 *      the directory.  On any error the temp file is unlinked.
 *
 * No stdio, no malloc; all scratch memory is one private anonymous mapping.
 */
#include "ckpt.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h> /* rename() only: no streams here */
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/syscall.h>
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

static int write_mem(int fd, const void *src, uint64_t len, uint64_t off,
		     uint32_t *crc_out, unsigned char *piece, int checked)
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
		crc = pm__crc32c(crc, piece, n);
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

/* "DIR/.BASE.tmp.PID.N" and "DIR" for path. */
static int tmp_names(const char *path, char *tmp, char *dir)
{
	size_t len = strlen(path);
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	if (!*base)
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
	unsigned n = __atomic_fetch_add(&tmp_counter, 1, __ATOMIC_RELAXED);
	pm__fmt(tmp, NAME_CAP, "%s%s.%s.tmp.%d.%u", slash ? dir : "",
		slash && slash != path ? "/" : "", base, (int)getpid(), n);
	return 0;
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

/* A writer killed mid-checkpoint leaves ".BASE.tmp.PID.N" behind.  After a
 * good checkpoint of path, remove those of this target whose writer no
 * longer exists (a live pid, even an unrelated one, keeps its file). */
static void remove_stale_temps(int dfd, const char *path)
{
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	size_t bl = strlen(base);
	char buf[8192];
	for (;;) {
		long n = syscall(SYS_getdents64, dfd, buf, sizeof buf);
		if (n <= 0)
			return;
		for (long off = 0; off < n;) {
			struct dirent64_ {
				uint64_t ino;
				int64_t next;
				unsigned short reclen;
				unsigned char type;
				char name[];
			} *d = (struct dirent64_ *)(buf + off);
			off += d->reclen;
			const char *q = d->name;
			if (q[0] != '.' || strncmp(q + 1, base, bl) ||
			    strncmp(q + 1 + bl, ".tmp.", 5))
				continue;
			q += 1 + bl + 5;
			long pid = decimal(&q);
			if (pid <= 0 || *q++ != '.' || decimal(&q) < 0 || *q)
				continue;
			if (pid == (long)getpid() ||
			    kill((pid_t)pid, 0) == 0 || errno != ESRCH)
				continue;
			unlinkat(dfd, d->name, 0);
		}
	}
}

int pm__ckpt_write(const char *path)
{
	struct scratch s;
	struct wctx w;
	unsigned char *map = NULL;
	size_t maplen = 0;
	int fd = -1, rc, quiesced = 0, created = 0;

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
	if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode))
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

	/* a writer killed earlier may have left a name this pid now reuses:
	 * take the next number */
	for (int tries = 0; tries < 64; tries++) {
		if ((rc = tmp_names(path, s.tmp, s.dir)))
			goto out;
		fd = open(s.tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd >= 0 || errno != EEXIST)
			break;
	}
	if (fd < 0) {
		rc = -errno;
		rc = pm__err(rc, "checkpoint: cannot create %s: %s", s.tmp,
			     pm_strerror(rc));
		goto out;
	}
	created = 1;
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
				    sec[i].kind == PMF_SEC_CODE)) ||
		    (rc = pwrite_all(fd, keep, (size_t)kb, sec[i].keep_off)))
			goto werr;
		keep += kb;
	}
	for (uint32_t i = (uint32_t)ngs; i < nsec; i++)
		if ((rc = write_mem(fd, (const void *)(uintptr_t)sec[i].addr,
				    sec[i].len, sec[i].data_off,
				    &sec[i].data_crc, s.piece, 0)))
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
	h->header_crc = pm__crc32c(0, h, PMF_HEADER_CRC_OFF);
	if ((rc = pwrite_all(fd, s.prefix, (size_t)table_end, 0)))
		goto werr;
	if (fsync(fd) != 0) {
		rc = -errno;
		goto werr;
	}
	if (close(fd) != 0) {
		fd = -1;
		rc = -errno;
		goto werr;
	}
	fd = -1;
	if (rename(s.tmp, path) != 0) {
		rc = -errno;
		rc = pm__err(rc, "checkpoint: cannot rename %s to %s: %s",
			     s.tmp, path, pm_strerror(rc));
		goto out;
	}
	s.tmp[0] = '\0'; /* nothing to unlink any more */
	int dfd = open(s.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		if (fsync(dfd) != 0) {
			rc = -errno;
			rc = pm__err(rc, "checkpoint: fsync of directory "
					     "%s failed",
				     s.dir);
			close(dfd);
			goto out;
		}
		remove_stale_temps(dfd, path);
		close(dfd);
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
	if (quiesced)
		pm__heap_resume();
	if (fd >= 0)
		close(fd);
	if (rc && created && s.tmp[0])
		unlink(s.tmp);
	pm__scratch_free(map, maplen);
	return rc;
}
