/*
 * ckpt_file.c - the checkpoint file on its way to its name (the interface
 * is struct pm__ckpt_out in ckpt.h; the image is ckpt_write.c's).
 *
 * Owns every call on the target, its directory and the temporary file:
 *   - the target is never modified in place, because a restored process
 *     may have it mapped (a rewritten mapped file shows new bytes, a
 *     truncated one raises SIGBUS): only a regular file (or nothing) may
 *     be there, and it is replaced by rename;
 *   - the directory is opened once; the cleanup of stale temps, the temp's
 *     creation, the rename and the final fsync all go through that fd;
 *   - temps of dead writers of the same target are removed before
 *     anything is reserved (a killed writer's temp on a nearly full disk
 *     must not make every later checkpoint fail with ENOSPC);
 *   - the temp, `.NAME.tmp.PID.RRRRRRRRRRRRRRRR` beside the target, is
 *     created O_EXCL | O_NOFOLLOW under an unguessable name, flocked from
 *     its creation until after the rename (a live writer's temp is never
 *     taken for stale), and fchmod'ed to 0600 or the replaced target's
 *     mode plus owner rw, whatever the umask;
 *   - SIGXFSZ is blocked on the writing thread from before the temp exists
 *     until pm__ckpt_out_close, and one that the writes raised is
 *     consumed: a file size limit gives -EFBIG, not death;
 *   - on any failure before the rename the temp is unlinked (still
 *     locked); a failed directory fsync after it is PM_EDIRSYNC, the new
 *     file being in place.
 * _reserve and _write may run while the heap is quiesced: they return
 * -errno and say nothing (a message may allocate).
 */
#include "ckpt.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h> /* renameat() only: no streams here */
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>

#define NAME_CAP PM__CKPT_NAME_CAP

static unsigned tmp_counter PM_STATE;

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

/* Create the temp file (in o->dfd as o->tmpbase, its name written into
 * o->tmp) and lock it.  Returns the fd or a negative errno. */
static int create_temp(const struct pm__ckpt_out *o)
{
	int dfd = o->dfd, rc = -EEXIST;
	for (int tries = 0; tries < TMP_TRIES; tries++) {
		tmp_name(o->tmp, o->path, o->base);
		int fd = openat(dfd, o->tmpbase,
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
			unlinkat(dfd, o->tmpbase, 0);
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
static void xfsz_block(struct pm__ckpt_out *o)
{
	sigset_t set, pend;
	sigemptyset(&set);
	sigaddset(&set, SIGXFSZ);
	o->xfsz_was_pending =
		sigpending(&pend) == 0 && sigismember(&pend, SIGXFSZ);
	pthread_sigmask(SIG_BLOCK, &set, &o->xfsz_old);
	o->xfsz_on = 1;
}

static void xfsz_restore(struct pm__ckpt_out *o)
{
	sigset_t set, pend;
	sigemptyset(&set);
	sigaddset(&set, SIGXFSZ);
	if (!o->xfsz_was_pending && sigpending(&pend) == 0 &&
	    sigismember(&pend, SIGXFSZ)) {
		struct timespec zero = {0, 0};
		sigtimedwait(&set, NULL, &zero);
	}
	pthread_sigmask(SIG_SETMASK, &o->xfsz_old, NULL);
	o->xfsz_on = 0;
}

int pm__ckpt_out_check(struct pm__ckpt_out *o, const char *path)
{
	struct stat st;
	memset(o, 0, sizeof *o);
	o->path = path;
	o->base = path;
	o->dfd = -1;
	o->fd = -1;
	/* A device, fifo or directory is refused before any work; so is a
	 * symbolic link, which rename would replace rather than follow. */
	int have_target = lstat(path, &st) == 0;
	if (have_target && !S_ISREG(st.st_mode))
		return pm__err(S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL,
			       "checkpoint: %s is %s, not a regular file", path,
			       S_ISDIR(st.st_mode)   ? "a directory"
			       : S_ISLNK(st.st_mode) ? "a symbolic link (give "
						       "the path it points to)"
						     : "a device, fifo or socket");
	/* Whatever the umask, the owner can read and write the file: a new
	 * one gets 0600, a replaced one keeps the target's read and execute
	 * bits, never group or other write (a restore refuses such files). */
	/* the read bits of a file we replace are kept only if it is ours: a
	 * file someone else planted at the path must not make our
	 * checkpoint readable to them */
	o->mode = have_target && st.st_uid == geteuid()
			  ? (st.st_mode & 0755) | 0600
			  : 0600;
	return 0;
}

/* A directory that can be written but not read gets an O_PATH fd: no
 * cleanup then, and no directory sync (PM_EDIRSYNC). */
static int open_dir(struct pm__ckpt_out *o)
{
	o->dfd = open(o->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (o->dfd < 0 && errno == EACCES)
		o->dfd = open(o->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (o->dfd < 0) {
		int rc = -errno;
		return pm__err(rc, "checkpoint: cannot open the directory %s: %s",
			       o->dir, pm_strerror(rc));
	}
	return 0;
}

int pm__ckpt_out_open(struct pm__ckpt_out *o, char *dir, char *tmp)
{
	int rc;
	o->dir = dir;
	o->tmp = tmp;
	if ((rc = split_path(o->path, dir, &o->base)) || (rc = open_dir(o)))
		return rc;
	remove_stale_temps(o->dfd, o->base);
	xfsz_block(o);
	o->tmpbase = tmp + (o->base - o->path);
	int fd = create_temp(o);
	if (fd < 0)
		return pm__err(fd, "checkpoint: cannot create %s: %s", tmp,
			       pm_strerror(fd));
	o->fd = fd;
	o->created = 1;
	if (fchmod(fd, o->mode) != 0) {
		rc = -errno;
		mode_t m = o->mode;
		char oct[5] = {'0', (char)('0' + (m >> 6 & 7)),
			       (char)('0' + (m >> 3 & 7)),
			       (char)('0' + (m & 7)), '\0'};
		return pm__err(rc, "checkpoint: cannot set mode %s on %s: %s",
			       oct, tmp, pm_strerror(rc));
	}
	return 0;
}

int pm__ckpt_out_reserve(const struct pm__ckpt_out *o, uint64_t size)
{
	if (fallocate(o->fd, 0, 0, (off_t)size) == 0 || errno == EOPNOTSUPP ||
	    errno == ENOSYS)
		return 0;
	return -errno;
}

int pm__ckpt_out_write(const struct pm__ckpt_out *o, const void *buf,
		       size_t n, uint64_t off)
{
	const char *p = buf;
	while (n) {
		ssize_t w = pwrite(o->fd, p, n, (off_t)off);
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

int pm__ckpt_out_failed(const struct pm__ckpt_out *o, int rc)
{
	return pm__err(rc, "checkpoint: writing %s failed: %s", o->tmp,
		       pm_strerror(rc));
}

int pm__ckpt_out_commit(struct pm__ckpt_out *o)
{
	int rc;
	if (fsync(o->fd) != 0) {
		rc = -errno;
		return pm__ckpt_out_failed(o, rc);
	}
	/* renamed before the close, so the lock is held until the name is
	 * gone: no cleaner can take the temp for stale */
	if (renameat(o->dfd, o->tmpbase, o->dfd, o->base) != 0) {
		rc = -errno;
		return pm__err(rc, "checkpoint: cannot rename %s to %s: %s",
			       o->tmp, o->path, pm_strerror(rc));
	}
	o->created = 0; /* nothing to unlink any more */
	/* the data is on disk (fsync succeeded): an error of close could
	 * only repeat what fsync said */
	close(o->fd);
	o->fd = -1;
	/* without the directory's fsync the rename may not survive a crash.
	 * (EINVAL: the file system has no directory sync to offer.) */
	if (fsync(o->dfd) != 0 && errno != EINVAL) {
		rc = -errno;
		return pm__err(PM_EDIRSYNC, "checkpoint: %s was written, but "
					    "its directory %s could not be "
					    "synced (%s): the new file may "
					    "not survive a crash",
			       o->path, o->dir, pm_strerror(rc));
	}
	return 0;
}

void pm__ckpt_out_close(struct pm__ckpt_out *o, int rc)
{
	if (rc && o->created)
		unlinkat(o->dfd, o->tmpbase, 0);
	if (o->fd >= 0)
		close(o->fd); /* after the unlink: the lock covers it */
	if (o->dfd >= 0)
		close(o->dfd);
	if (o->xfsz_on)
		xfsz_restore(o);
	o->fd = o->dfd = -1;
	o->created = 0;
}
