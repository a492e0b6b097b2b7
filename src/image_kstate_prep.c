/*
 * image_kstate_prep.c - the kernel state of a process image, resume side
 * before the point of no return (image_kstate.h): the records checked
 * (image_kstate_check.c), every descriptor the image restores opened at a high
 * number, written files recreated in temporaries, the working directory
 * opened.  The result is a plan (image_kstate_plan.h) in caller memory.
 *
 * Invariant: on any refusal, or after pm__ks_undo, the descriptor table
 * and the file system are as they were (every descriptor opened here is
 * closed, every temporary removed).  Nothing here is irreversible: the
 * renames over the written files' paths are apply's.
 */
#include "internal.h"
#include "image_kstate.h"
#include "image_kstate_plan.h"
#include "sha256.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/stat.h>

/* ---- opening ------------------------------------------------------------- */

/* Move a new descriptor to the first free number >= base, close-on-exec. */
static int move_high(int fd, int base)
{
	if (fd < 0)
		return -errno;
	int hi = fcntl(fd, F_DUPFD_CLOEXEC, base);
	int e = errno;
	close(fd);
	return hi < 0 ? -e : hi;
}

static int refuse_open(int e, int fd, const char *path, const char *what)
{
	if (e == -ENOENT || e == -ENOTDIR)
		return pm__err(-ENOENT, "%s %s (fd %d) is missing", what, path, fd);
	if (e == -EMFILE)
		return pm__err(-EMFILE, "no descriptor free above %d to prepare "
			       "fd %d (ulimit -n)", PM__KS_PREP_BASE, fd);
	return pm__err(e, "%s %s (fd %d): %s", what, path, fd, strerror(-e));
}

/* The bytes [0, r->offset) of fd hash to r->sha256, or -ESTALE. */
static int check_prefix(struct pm__ks_plan *pl, int fd, const struct pmf_fd *r,
			const char *path)
{
	struct pm__sha256 h;
	pm__sha256_init(&h);
	for (uint64_t at = 0; at < r->offset;) {
		size_t want = r->offset - at < sizeof pl->io ? (size_t)(r->offset - at)
							     : sizeof pl->io;
		ssize_t n = pread(fd, pl->io, want, (off_t)at);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return pm__err(n ? -errno : -ESTALE, "input %s (fd %d): "
				       "reading it: %s", path, r->fd,
				       n ? strerror(errno) : "end of file");
		pm__sha256_update(&h, pl->io, (size_t)n);
		at += (uint64_t)n;
	}
	unsigned char got[PM_SHA256_LEN];
	pm__sha256_final(&h, got);
	if (memcmp(got, r->sha256, sizeof got))
		return pm__err(-ESTALE, "input %s changed before offset %lu "
			       "(fd %d)", path, (unsigned long)r->offset, r->fd);
	return 0;
}

static int check_inherited_input(struct pm__ks_plan *pl, const struct pmf_fd *r,
				 const char *path);

static int open_read(struct pm__ks_plan *pl, const struct pmf_fd *r,
		     const char *path, int base)
{
	/* O_NONBLOCK: a FIFO put in the file's place must be refused, not
	 * wait for a writer; the recorded flags are set back once it is
	 * known to be a regular file */
	int fd = move_high(open(path, (int)(r->oflags & ~(uint32_t)O_CLOEXEC) |
					    O_CLOEXEC | O_NONBLOCK), base);
	if (fd < 0)
		return refuse_open(fd, r->fd, path, "input");
	pl->ent[pl->nent - 1].prep = fd;
	struct stat st;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode))
		return pm__err(-ESTALE, "input %s (fd %d) is no longer a "
			       "regular file", path, r->fd);
	if (!(r->oflags & O_NONBLOCK) &&
	    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0)
		return pm__err(-errno, "input %s (fd %d): F_SETFL: %s", path,
			       r->fd, strerror(errno));
	if ((uint64_t)st.st_size < r->offset)
		return pm__err(-ESTALE, "input %s changed before offset %lu "
			       "(it is now %ld bytes)", path,
			       (unsigned long)r->offset, (long)st.st_size);
	return check_prefix(pl, fd, r, path);
}

/* The caller's descriptor r->fd of this process, a file the image had
 * read to r->offset: it must be a readable regular file with the same
 * bytes before the offset; apply moves it there. */
static int check_inherited_input(struct pm__ks_plan *pl, const struct pmf_fd *r,
				 const char *path)
{
	struct stat st;
	int fl = fcntl(r->fd, F_GETFL);
	if (fstat(r->fd, &st) || !S_ISREG(st.st_mode) || fl < 0 ||
	    (fl & O_ACCMODE) == O_WRONLY || (fl & O_PATH))
		return pm__err(-ESTALE, "fd %d: the image had read %s to offset "
			       "%lu; here it is no regular file open for reading",
			       r->fd, path, (unsigned long)r->offset);
	if ((uint64_t)st.st_size < r->offset)
		return pm__err(-ESTALE, "input on fd %d changed before offset %lu "
			       "(it is now %ld bytes)", r->fd,
			       (unsigned long)r->offset, (long)st.st_size);
	int rc = check_prefix(pl, r->fd, r, path);
	if (!rc)
		pl->ent[pl->nent - 1].seek = (int64_t)r->offset;
	return rc;
}

static int open_written(struct pm__ks_plan *pl, const struct pmf_fd *r,
			const char *path, const struct pm__ks_blob *b, int base)
{
	struct pm__ks_ent *e = &pl->ent[pl->nent - 1];
	const char *slash = strrchr(path, '/');
	size_t dlen = (size_t)(slash - path), blen = strlen(slash + 1);
	if (blen == 0 || blen >= sizeof e->base || dlen >= PATH_MAX)
		return pm__err(-ENAMETOOLONG, "output %s (fd %d): bad file name",
			       path, r->fd);
	memcpy(e->base, slash + 1, blen + 1);
	char dir[PATH_MAX];
	memcpy(dir, path, dlen ? dlen : 1);
	dir[dlen ? dlen : 1] = '\0';
	int d = move_high(open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC), base);
	if (d < 0)
		return refuse_open(d, r->fd, dir, "directory of an output");
	e->dirfd = d;
	struct stat st;
	if (!fstatat(d, e->base, &st, AT_SYMLINK_NOFOLLOW) && !S_ISREG(st.st_mode))
		return pm__err(-ESTALE, "output %s (fd %d) is no longer a "
			       "regular file", path, r->fd);
	struct rlimit fs; /* writing past it would raise SIGXFSZ */
	if (!getrlimit(RLIMIT_FSIZE, &fs) && fs.rlim_cur != RLIM_INFINITY &&
	    r->data_len > fs.rlim_cur)
		return pm__err(-EFBIG, "output %s (fd %d): %lu bytes, more than "
			       "ulimit -f allows", path, r->fd,
			       (unsigned long)r->data_len);
	int w = -1;
	for (int tries = 0; w < 0 && tries < 8; tries++) {
		pm__fmt(e->tmp, sizeof e->tmp, ".pmks-%016lx",
			(unsigned long)pm__os_random64());
		w = openat(d, e->tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (w < 0 && errno != EEXIST)
			break;
	}
	if (w < 0) {
		int err = -errno;
		e->tmp[0] = '\0';
		return pm__err(err, "output %s (fd %d): cannot create a file in "
			       "%s: %s", path, r->fd, dir, strerror(-err));
	}
	const unsigned char *p = (const unsigned char *)b->p + sizeof(struct pmf_filedata);
	int err = 0;
	for (uint64_t left = r->data_len; left && !err;) {
		ssize_t n = write(w, p, left < (1u << 30) ? (size_t)left : (1u << 30));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			err = n < 0 ? -errno : -EIO;
		else
			p += n, left -= (uint64_t)n;
	}
	if (!err && fchmod(w, r->mode & 0777)) /* never set-id bits */
		err = -errno;
	close(w);
	if (err)
		return pm__err(err, "output %s (fd %d): writing it back: %s", path,
			       r->fd, strerror(-err));
	int fd = move_high(openat(d, e->tmp, (int)(r->oflags & ~(uint32_t)O_CLOEXEC) |
						      O_CLOEXEC), base);
	if (fd < 0)
		return pm__err(fd, "output %s (fd %d): reopening it: %s", path,
			       r->fd, strerror(-fd));
	e->prep = fd;
	return 0;
}

static int prepare_one(struct pm__ks_plan *pl, const struct pmf_fd *rec,
		       uint32_t i, const char *str, const struct pm__ks_blob *fdata,
		       uint32_t nfdata, int base)
{
	const struct pmf_fd *r = &rec[i];
	const char *path = str + r->path_off;
	struct pm__ks_ent *e = &pl->ent[pl->nent++];
	e->target = r->fd;
	e->prep = e->dirfd = -1;
	e->seek = -1;
	e->cloexec = (r->fdflags & FD_CLOEXEC) ? O_CLOEXEC : 0;
	int flags = (int)(r->oflags & ~(uint32_t)O_CLOEXEC) | O_CLOEXEC, fd, rc;
	struct stat st;
	switch (r->class) {
	case PMF_FD_STDIO:
	case PMF_FD_INHERITED:
		if (fcntl(r->fd, F_GETFD) < 0)
			return pm__err(-EBADF, "fd %d (%s, the caller's) is not "
				       "open in this process", r->fd, path);
		if (r->offset)
			return check_inherited_input(pl, r, path);
		return 0;
	case PMF_FD_READ:
	case PMF_FD_WRITE:
		if (r->link) {
			const struct pm__ks_ent *p = NULL;
			for (uint32_t k = 0; k < pl->nent; k++)
				if (pl->ent[k].target == rec[r->link - 1].fd)
					p = &pl->ent[k];
			fd = move_high(openat(p->dirfd, p->tmp, flags), base);
			if (fd < 0)
				return pm__err(fd, "fd %d: reopening %s: %s", r->fd,
					       path, strerror(-fd));
			e->prep = fd;
		} else if (r->class == PMF_FD_READ) {
			if ((rc = open_read(pl, r, path, base)))
				return rc;
		} else {
			uint32_t k = 0;
			while (((const struct pmf_filedata *)fdata[k].p)->fd != r->fd)
				k++; /* there is one: check_fds */
			(void)nfdata;
			if ((rc = open_written(pl, r, path, &fdata[k], base)))
				return rc;
		}
		if (lseek(e->prep, (off_t)r->offset, SEEK_SET) < 0)
			return pm__err(-errno, "fd %d (%s): lseek to %lu: %s", r->fd,
				       path, (unsigned long)r->offset, strerror(errno));
		return 0;
	case PMF_FD_DIR:
	case PMF_FD_DEV:
	case PMF_FD_OPATH:
		/* a directory opened without O_DIRECTORY (find, a shell's
		 * `exec 3< .`) is reopened with it: whatever replaced the
		 * directory since, a FIFO included, is refused at once */
		if (r->class == PMF_FD_DIR)
			flags |= O_DIRECTORY;
		fd = move_high(open(path, flags), base);
		if (fd < 0)
			return refuse_open(fd, r->fd, path,
					   r->class == PMF_FD_DEV ? "device" : "file");
		e->prep = fd;
		if (fstat(fd, &st) || (st.st_mode & S_IFMT) != (r->mode & S_IFMT) ||
		    (r->class == PMF_FD_DEV && st.st_rdev != r->rdev))
			return pm__err(-ESTALE, "%s (fd %d) is no longer the same "
				       "kind of file", path, r->fd);
		if (r->offset && lseek(fd, (off_t)r->offset, SEEK_SET) < 0)
			return pm__err(-ESTALE, "directory %s (fd %d): cannot "
				       "return to position %lu", path, r->fd,
				       (unsigned long)r->offset);
		return 0;
	}
	return pm__err(PM_ECORRUPT, "fd %d: unknown class", r->fd);
}

static void set_bit(uint64_t *bits, int fd)
{
	bits[fd / 64] |= 1ull << (fd % 64);
}

int pm__ks_prepare(const void *signals, size_t signals_len, const void *fds,
		   size_t fds_len, const struct pm__ks_blob *filedata,
		   uint32_t nfiledata, const int *keep, int nkeep, void *mem,
		   size_t mem_len, struct pm__ks_plan **plan)
{
	*plan = NULL;
	int rc = pm__ks_check_records(signals, signals_len, fds, fds_len,
				      filedata, nfiledata);
	if (rc)
		return rc;
	size_t need = pm__ks_plan_size(fds, fds_len);
	if (!mem || mem_len < need || ((uintptr_t)mem & 15))
		return pm__err(-EINVAL, "plan memory: %zu bytes at %p, %zu needed",
			       mem_len, mem, need);
	const struct pmf_fds *h = fds;
	const struct pmf_fd *rec = (const struct pmf_fd *)(h + 1);
	const char *str = (const char *)fds + h->strings_off;

	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl))
		return pm__err(-errno, "getrlimit: %s", strerror(errno));
	int base = PM__KS_PREP_BASE;
	for (uint32_t i = 0; i < h->nfds; i++) {
		if ((uint64_t)rec[i].fd >= rl.rlim_cur)
			return pm__err(-EMFILE, "fd %d is not below this "
				       "process's limit of %lu (ulimit -n)",
				       rec[i].fd, (unsigned long)rl.rlim_cur);
		if (rec[i].fd >= base)
			base = rec[i].fd + 1;
	}
	/* no room from 1000 up (ulimit -n 256): right above the image's */
	if (base == PM__KS_PREP_BASE && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur < PM__KS_PREP_BASE + 64)
		base = h->nfds ? rec[h->nfds - 1].fd + 1 : 0;

	struct pm__ks_plan *pl = mem;
	memset(pl, 0, sizeof *pl);
	pl->magic = PM__KS_PLAN_MAGIC;
	pl->cwdfd = -1;
	pl->umask = h->umask;
	memcpy(&pl->sig, signals, sizeof pl->sig);
	/* this process's own inherited descriptors stay, if they are still
	 * what it was given */
	for (int fd = 0; fd < PM__KS_INHERIT_MAX; fd++) {
		struct stat st;
		if (pm__ks_was_open_at_start(fd) && !fstat(fd, &st) &&
		    pm__ks_is_inherited(fd, st.st_dev, st.st_ino))
			set_bit(pl->keep, fd);
	}
	for (uint32_t i = 0; i < h->nfds; i++)
		set_bit(pl->keep, rec[i].fd);
	for (int k = 0; k < nkeep; k++) {
		if (keep[k] < 0 || keep[k] >= PMF_FD_LIMIT)
			return pm__err(-EINVAL, "keep descriptor %d out of range",
				       keep[k]);
		for (uint32_t i = 0; i < h->nfds; i++)
			if (rec[i].fd == keep[k] && rec[i].class != PMF_FD_STDIO &&
			    rec[i].class != PMF_FD_INHERITED)
				return pm__err(-EBUSY, "fd %d is needed by the image "
					       "and by the resume", keep[k]);
		set_bit(pl->keep, keep[k]);
	}

	/* written files first (linked records open them again), then the rest */
	for (int pass = 0; pass < 3 && !rc; pass++)
		for (uint32_t i = 0; i < h->nfds && !rc; i++) {
			int written = rec[i].class == PMF_FD_WRITE && !rec[i].link;
			int linked = rec[i].link != 0;
			if ((pass == 0) != written || (pass == 2) != linked)
				continue;
			rc = prepare_one(pl, rec, i, str, filedata, nfiledata, base);
		}
	if (!rc) {
		const char *cwd = str + h->cwd_off;
		int fd = move_high(open(cwd, O_PATH | O_DIRECTORY | O_CLOEXEC), base);
		if (fd < 0)
			rc = refuse_open(fd, -1, cwd, "working directory");
		else
			pl->cwdfd = fd;
	}
	if (rc) {
		pm__ks_undo(pl);
		return rc;
	}
	*plan = pl;
	return 0;
}

int pm__ks_plan_keep(struct pm__ks_plan *plan, int fd)
{
	if (fd < 0 || fd >= PMF_FD_LIMIT)
		return -EINVAL;
	for (uint32_t i = 0; i < plan->nent; i++)
		if (plan->ent[i].target == fd && plan->ent[i].prep >= 0)
			return -EBUSY;
	set_bit(plan->keep, fd);
	return 0;
}

void pm__ks_undo(struct pm__ks_plan *pl)
{
	if (!pl || pl->magic != PM__KS_PLAN_MAGIC)
		return;
	int e = errno;
	for (uint32_t i = 0; i < pl->nent; i++) {
		struct pm__ks_ent *x = &pl->ent[i];
		if (x->prep >= 0)
			close(x->prep);
		if (x->dirfd >= 0) {
			if (x->tmp[0])
				unlinkat(x->dirfd, x->tmp, 0);
			close(x->dirfd);
		}
		x->prep = x->dirfd = -1;
	}
	if (pl->cwdfd >= 0)
		close(pl->cwdfd);
	pl->cwdfd = -1;
	pl->magic = 0;
	errno = e;
}
