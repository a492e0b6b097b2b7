/*
 * image_kstate.c - the kernel state of a process image, capture side
 * (image_kstate.h): the records of PMF_SEC_SIGNALS and PMF_SEC_FDS
 * (image_format.h) built from this process.
 *
 * No malloc and no stdio (but fflush on the streams that read regular
 * files, see drop_readahead): the capture runs inside pm_image, maybe
 * from a signal handler, with every byte of memory about to be copied.
 */
#include "internal.h"
#include "image_kstate.h"
#include "sha256.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/time.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>

/* O_LARGEFILE is 0 in glibc's headers on x86-64, but the kernel sets
 * and reports its bit 0100000 */
_Static_assert(PMF_OFLAGS_KNOWN ==
		       (O_ACCMODE | O_APPEND | O_NONBLOCK | O_DSYNC | O_ASYNC |
			O_DIRECT | 0100000 | O_DIRECTORY | O_NOFOLLOW |
			O_NOATIME | O_CLOEXEC | O_SYNC | O_PATH),
	       "PMF_OFLAGS_KNOWN");

/* ---- stdio's read-ahead ------------------------------------------------ */

#ifdef __GLIBC__
/* glibc's list of every FILE (an exported data symbol of libc.so.6;
 * weak, so that another libc links and has no list). */
extern void *_IO_list_all __attribute__((weak));

/*
 * Give back what each stream reading a regular file read ahead: fflush
 * on a seekable input stream moves the descriptor back by the bytes not
 * consumed and empties the buffer (POSIX; glibc's _IO_new_file_sync does
 * it under the stream's own lock only).  Afterwards the descriptor's
 * offset is the program's logical position, and a resumed run reads the
 * file's current contents from there.  Streams writing are left alone:
 * their pending bytes are memory the image keeps.
 */
static void drop_readahead(void)
{
	if (!&_IO_list_all)
		return;
	for (FILE *fp = _IO_list_all; fp; fp = fp->_chain) {
		struct stat st;
		/* 0x100: _IO_IN_BACKUP, reading back what ungetc pushed:
		 * glibc's sync does not count that area, so such a stream is
		 * left as it is (its read-ahead stays in the image) */
		if (fp->_IO_read_ptr >= fp->_IO_read_end || (fp->_flags & 0x100) ||
		    fp->_IO_write_ptr > fp->_IO_write_base || fp->_fileno < 0 ||
		    fstat(fp->_fileno, &st) || !S_ISREG(st.st_mode))
			continue;
		fflush(fp);
	}
}
#else
static void drop_readahead(void)
{
}
#endif

/* ---- signals --------------------------------------------------------------- */

struct ksigaction {
	uint64_t handler, flags, restorer, mask;
};

static uint64_t us_of(const struct timeval *t)
{
	return (uint64_t)t->tv_sec * 1000000u + (uint64_t)t->tv_usec;
}

/* POSIX timers of the process: the "ID:" lines of /proc/self/timers (0
 * when the kernel has no such file). */
static int posix_timers(void)
{
	int fd = open("/proc/self/timers", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	char b[512];
	int n = 0, at_line = 1;
	ssize_t r;
	while ((r = read(fd, b, sizeof b)) > 0)
		for (ssize_t i = 0; i < r; i++) {
			if (at_line && b[i] == 'I')
				n++;
			at_line = b[i] == '\n';
		}
	close(fd);
	return n;
}

/* Whether the open file description of fd holds a file lock (flock, a
 * POSIX record lock or an OFD lock: "lock:" lines of its fdinfo).  An
 * image does not take locks again, so a resumed process would run
 * without one it had; such an image is refused. */
static int holds_lock(int fd, char *buf, size_t len)
{
	char name[40];
	pm__fmt(name, sizeof name, "/proc/self/fdinfo/%d", fd);
	int f = open(name, O_RDONLY | O_CLOEXEC);
	if (f < 0)
		return 0;
	ssize_t n = read(f, buf, len - 1);
	close(f);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return strstr(buf, "\nlock:") != NULL;
}

static int capture_signals(struct pmf_signals *s, unsigned flags)
{
	memset(s, 0, sizeof *s);
	s->nsig = PMF_NSIG;
	s->rec_size = sizeof(struct pmf_sigaction);
	for (int sig = 1; sig <= PMF_NSIG; sig++) {
		if (sig == 9 || sig == 19)
			continue;
		struct ksigaction k;
		if (syscall(SYS_rt_sigaction, sig, NULL, &k, 8))
			return pm__err(-errno, "rt_sigaction(%d): %s", sig,
				       strerror(errno));
		s->act[sig - 1].handler = k.handler;
		s->act[sig - 1].flags = k.flags;
		s->act[sig - 1].restorer = k.restorer;
		s->act[sig - 1].mask = k.mask;
	}
	/* timers: the real-time one is kept (remaining time, interval); the
	 * CPU-time ones and POSIX timers are not, and refuse the image */
	struct itimerval it;
	if (getitimer(ITIMER_REAL, &it))
		return pm__err(-errno, "getitimer: %s", strerror(errno));
	s->alarm_us = us_of(&it.it_value);
	s->alarm_every_us = s->alarm_us ? us_of(&it.it_interval) : 0;
	if (s->alarm_us > PMF_ALARM_MAX || s->alarm_every_us > PMF_ALARM_MAX)
		return pm__err(-ENOTSUP, "the alarm (ITIMER_REAL) is set %lu "
			       "us ahead: more than an image holds",
			       (unsigned long)s->alarm_us);
	static const struct {
		int which;
		const char *name;
	} cpu[] = {{ITIMER_VIRTUAL, "ITIMER_VIRTUAL"}, {ITIMER_PROF, "ITIMER_PROF"}};
	for (unsigned i = 0; i < sizeof cpu / sizeof cpu[0]; i++)
		if (!getitimer(cpu[i].which, &it) &&
		    (it.it_value.tv_sec || it.it_value.tv_usec))
			return pm__err(-ENOTSUP, "the CPU-time timer %s is "
				       "armed (a profiler?): an image cannot "
				       "hold it; disarm it before pm_image",
				       cpu[i].name);
	int nt = posix_timers();
	if (nt > 0)
		return pm__err(-ENOTSUP, "%d POSIX timer%s (timer_create): an "
			       "image cannot hold %s; delete %s before "
			       "pm_image", nt, nt > 1 ? "s" : "",
			       nt > 1 ? "them" : "it", nt > 1 ? "them" : "it");
	/* pending signals, raised again at resume; not from the signal
	 * trigger, whose own signal sent twice would image the resumed
	 * process at once */
	sigset_t pend;
	if (!(flags & PM__KS_FROM_SIGNAL) && !sigpending(&pend))
		for (int sig = 1; sig <= PMF_NSIG; sig++)
			if (sig != SIGKILL && sig != SIGSTOP &&
			    sigismember(&pend, sig) == 1)
				s->pending |= 1ull << (sig - 1);
	stack_t ss;
	if (sigaltstack(NULL, &ss))
		return pm__err(-errno, "sigaltstack: %s", strerror(errno));
	s->ss_flags = (uint32_t)ss.ss_flags;
	if (!(ss.ss_flags & SS_DISABLE)) {
		s->ss_sp = (uint64_t)(uintptr_t)ss.ss_sp;
		s->ss_size = ss.ss_size;
	}
	return 0;
}

/* ---- descriptors ------------------------------------------------------------ */

struct cap {
	struct pmf_fd *rec;  /* records (room for maxfds) */
	uint32_t n, maxfds;
	char *str;           /* strings */
	size_t nstr, maxstr;
	const int *skip;
	int nskip;
	unsigned char *io;   /* hashing buffer */
	size_t iolen;
	int overflow;        /* more descriptors than counted */
	int failed;          /* capture_one refused: pm_errmsg is set */
};

static int starts(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

static int ends(const char *s, size_t n, const char *p)
{
	size_t m = strlen(p);
	return n >= m && memcmp(s + n - m, p, m) == 0;
}

static int count_one(void *ctx, int fd)
{
	(void)fd;
	(*(uint32_t *)ctx)++;
	return 0;
}

/* SHA-256 of the file's bytes [0, len). */
static int hash_prefix(int fd, uint64_t len, unsigned char *io, size_t iolen,
		       unsigned char out[PM_SHA256_LEN])
{
	struct pm__sha256 h;
	pm__sha256_init(&h);
	for (uint64_t at = 0; at < len;) {
		size_t want = len - at < iolen ? (size_t)(len - at) : iolen;
		ssize_t r = pread(fd, io, want, (off_t)at);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -errno : -EIO;
		pm__sha256_update(&h, io, (size_t)r);
		at += (uint64_t)r;
	}
	pm__sha256_final(&h, out);
	return 0;
}

static int is_tty(dev_t rdev)
{
	unsigned ma = major(rdev);
	return ma == 4 || ma == 5 || (ma >= 136 && ma <= 143);
}

/* Why a descriptor cannot be restored, for the message. */
static const char *refusal(const struct stat *st, const char *link)
{
	if (starts(link, "anon_inode:"))
		return "an eventfd, epoll, signalfd, timerfd, inotify or other "
		       "anonymous-inode descriptor";
	if (starts(link, "/memfd:"))
		return "a memfd";
	if (S_ISSOCK(st->st_mode))
		return "a socket";
	if (S_ISFIFO(st->st_mode))
		return "a pipe or FIFO not inherited";
	if (S_ISCHR(st->st_mode) && is_tty(st->st_rdev))
		return "a terminal other than 0-2 not inherited";
	if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode))
		return "a device";
	return "of a kind that cannot be restored";
}

static int capture_fd(struct cap *c, int fd);

static int capture_one(void *ctx, int fd)
{
	struct cap *c = ctx;
	int rc = capture_fd(c, fd);
	if (rc)
		c->failed = 1;
	return rc;
}

static int capture_fd(struct cap *c, int fd)
{
	for (int i = 0; i < c->nskip; i++)
		if (c->skip[i] == fd)
			return 0;
	if (c->n == c->maxfds) {
		c->overflow = 1;
		return 0;
	}
	struct stat st;
	char name[40], link[PATH_MAX + 1];
	int fl, fdfl;
	if (fstat(fd, &st) || (fl = fcntl(fd, F_GETFL)) < 0 ||
	    (fdfl = fcntl(fd, F_GETFD)) < 0)
		return pm__err(-errno, "fd %d: %s", fd, strerror(errno));
	pm__fmt(name, sizeof name, "/proc/self/fd/%d", fd);
	ssize_t ln = readlink(name, link, sizeof link);
	if (ln < 0)
		return pm__err(-errno, "fd %d: readlink: %s", fd, strerror(errno));
	if ((size_t)ln >= sizeof link - 1)
		return pm__err(-ENAMETOOLONG, "fd %d: its path is too long", fd);
	link[ln] = '\0';

	if ((S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) &&
	    !pm__ks_is_inherited(fd, st.st_dev, st.st_ino) &&
	    holds_lock(fd, (char *)c->io, c->iolen))
		return pm__err(-ENOTSUP, "fd %d (%s) holds a file lock (flock "
			       "or fcntl): an image cannot hold it; release it "
			       "before pm_image (pm_at_image)", fd, link);

	struct pmf_fd *r = &c->rec[c->n];
	memset(r, 0, sizeof *r);
	r->fd = fd;
	r->oflags = (uint32_t)fl & PMF_OFLAGS_KNOWN;
	r->fdflags = (uint32_t)fdfl & FD_CLOEXEC;
	r->dev = st.st_dev;
	r->ino = st.st_ino;
	r->rdev = st.st_rdev;
	r->size = (uint64_t)st.st_size;
	r->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
	r->mode = st.st_mode;

	int named = link[0] == '/' && !ends(link, (size_t)ln, " (deleted)") &&
		    !starts(link, "/memfd:");
	int special = starts(link, "/proc/") || starts(link, "/sys/") ||
		      starts(link, "/dev/") || !strcmp(link, "/proc") ||
		      !strcmp(link, "/sys") || !strcmp(link, "/dev");
	if (pm__ks_is_inherited(fd, st.st_dev, st.st_ino)) {
		r->class = PMF_FD_INHERITED;
		/* a file the caller gave to read (`< input`): the resumed run
		 * goes on from the logical offset of the file it is given */
		off_t off;
		if (S_ISREG(st.st_mode) && (fl & O_ACCMODE) == O_RDONLY &&
		    !(fl & O_PATH) && (off = lseek(fd, 0, SEEK_CUR)) > 0) {
			if ((uint64_t)off > r->size)
				return pm__err(-ENOTSUP, "fd %d (%s): offset %ld "
					       "past the end of the file", fd,
					       link, (long)off);
			r->offset = (uint64_t)off;
			int e = hash_prefix(fd, r->offset, c->io, c->iolen,
					    r->sha256);
			if (e)
				return pm__err(e, "fd %d (%s): reading it: %s",
					       fd, link, strerror(-e));
		}
	} else if (fl & O_PATH) {
		if (!named || special ||
		    !(S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)))
			return pm__err(-ENOTSUP, "fd %d is an O_PATH descriptor "
				       "of %s: cannot be restored", fd, link);
		r->class = PMF_FD_OPATH;
	} else if (!starts(link, "anon_inode:") && S_ISREG(st.st_mode)) {
		if (!named || special)
			return pm__err(-ENOTSUP, "fd %d is %s (%s): cannot be "
				       "restored", fd, link,
				       named ? "a file on /proc, /sys or /dev"
					     : "a deleted or unnamed file");
		off_t off = lseek(fd, 0, SEEK_CUR);
		if (off < 0)
			return pm__err(-errno, "fd %d (%s): lseek: %s", fd, link,
				       strerror(errno));
		r->offset = (uint64_t)off;
		if ((fl & O_ACCMODE) == O_RDONLY) {
			r->class = PMF_FD_READ;
			if (r->offset > r->size)
				return pm__err(-ENOTSUP, "fd %d (%s): offset %ld "
					       "past the end of the file", fd,
					       link, (long)off);
			int e = hash_prefix(fd, r->offset, c->io, c->iolen,
					    r->sha256);
			if (e)
				return pm__err(e, "fd %d (%s): reading it: %s",
					       fd, link, strerror(-e));
		} else {
			r->class = PMF_FD_WRITE;
			r->data_len = r->size;
		}
	} else if (S_ISDIR(st.st_mode)) {
		if (!named || special)
			return pm__err(-ENOTSUP, "fd %d is the directory %s: "
				       "cannot be restored", fd, link);
		off_t off = lseek(fd, 0, SEEK_CUR);
		r->offset = off > 0 ? (uint64_t)off : 0;
		r->class = PMF_FD_DIR;
	} else {
		r->class = 0;
		if (S_ISCHR(st.st_mode) && pm__ks_known_dev(link, st.st_rdev))
			r->class = PMF_FD_DEV;
		if (!r->class && fd <= 2 &&
		    (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) ||
		     (S_ISCHR(st.st_mode) && is_tty(st.st_rdev))))
			r->class = PMF_FD_STDIO;
		if (!r->class)
			return pm__err(-ENOTSUP, "fd %d is %s (%s): cannot be "
				       "restored; close it before pm_image",
				       fd, refusal(&st, link), link);
	}
	if (c->nstr + (size_t)ln + 1 > c->maxstr) {
		c->overflow = 1;
		return 0;
	}
	r->path_off = (uint32_t)c->nstr;
	r->path_len = (uint32_t)ln;
	memcpy(c->str + c->nstr, link, (size_t)ln + 1);
	c->nstr += (size_t)ln + 1;
	c->n++;
	return 0;
}

/* Records of one file (same dev, inode) of which one is written are all
 * opened on the file the first written one recreates. */
static void link_written(struct pmf_fd *rec, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		if (rec[i].class != PMF_FD_READ && rec[i].class != PMF_FD_WRITE)
			continue;
		for (uint32_t j = 0; j < n; j++) {
			if (rec[j].class != PMF_FD_WRITE || rec[j].link ||
			    rec[j].dev != rec[i].dev || rec[j].ino != rec[i].ino)
				continue;
			if (j != i) {
				rec[i].link = j + 1;
				rec[i].data_len = 0;
				memset(rec[i].sha256, 0, sizeof rec[i].sha256);
			}
			break;
		}
	}
}

/* Two of the program's descriptors on one open file description (dup,
 * dup2, `exec 4<&3`, `exec 3<&0`): a resume opens a read or written file
 * again on its own (and takes 0-2 from the resuming process), so their
 * common offset would part silently (a script reading by turns from both
 * read the same lines twice).  Refused, naming both; found with
 * kcmp(KCMP_FILE) among the descriptors of one file (dev, inode) of
 * which one is read or written.  Not refused: directories (fts keeps a
 * dup of each to open files in it, and reads only the other), and two
 * O_APPEND writers (every write goes to the end either way).  Not
 * checked where the kernel has no kcmp, nor past MAX_KCMP comparisons
 * (thousands of descriptors of one file: the handler of the trigger
 * must not take seconds). */
#define MAX_KCMP 4096
static int shared_description(const struct pmf_fd *r, uint32_t n)
{
	long pid = syscall(SYS_getpid);
	unsigned left = MAX_KCMP;
	for (uint32_t i = 0; i < n; i++) {
		if (r[i].class != PMF_FD_READ && r[i].class != PMF_FD_WRITE)
			continue;
		for (uint32_t j = 0; j < n; j++) {
			if (j == i || r[j].dev != r[i].dev ||
			    r[j].ino != r[i].ino || r[j].class == PMF_FD_DIR ||
			    /* a pair of read/written ones: once, from i < j */
			    ((r[j].class == PMF_FD_READ ||
			      r[j].class == PMF_FD_WRITE) && j < i))
				continue;
			if (r[i].class == PMF_FD_WRITE &&
			    r[j].class == PMF_FD_WRITE &&
			    (r[i].oflags & O_APPEND) && (r[j].oflags & O_APPEND))
				continue;
			if (!left--)
				return 0;
			long k = syscall(SYS_kcmp, pid, pid, 0 /* KCMP_FILE */,
					 (long)r[i].fd, (long)r[j].fd);
			if (k < 0 && (errno == ENOSYS || errno == EPERM))
				return 0;
			if (k == 0)
				return pm__err(-ENOTSUP,
					       "fd %d and fd %d share one open "
					       "file (a dup): a resume cannot "
					       "give them one offset again; "
					       "close one before pm_image "
					       "(pm_at_image)",
					       r[i].fd < r[j].fd ? r[i].fd : r[j].fd,
					       r[i].fd < r[j].fd ? r[j].fd : r[i].fd);
		}
	}
	return 0;
}

int pm__ks_capture(void *scratch, size_t len, const int *skip, int nskip,
		   unsigned flags, struct pm__ks_capture *out)
{
	memset(out, 0, sizeof *out);
	if (!(flags & PM__KS_FROM_SIGNAL))
		drop_readahead();

	uint32_t count = 0;
	int rc = pm__ks_each_fd(count_one, &count);
	if (rc)
		return pm__err(rc, "/proc/self/fd: %s", strerror(-rc));
	count += 8; /* slack: a descriptor opened by nothing we know of */
	size_t iolen = 32768;
	size_t sig_at = (iolen + 63) & ~(size_t)63;
	size_t fds_at = sig_at + sizeof(struct pmf_signals);
	size_t str_at = fds_at + sizeof(struct pmf_fds) + (size_t)count * sizeof(struct pmf_fd);
	size_t need = str_at + (size_t)count * (PATH_MAX + 1) + PATH_MAX + 1;
	out->need = need;
	unsigned char *base = scratch;
	/* a smaller buffer may still do: strings are checked as they come */
	if (len < str_at + PATH_MAX + 1)
		return pm__err(-ENOSPC, "image kernel state: %zu bytes of scratch "
			       "needed, %zu given", need, len);

	struct pmf_signals *sig = (struct pmf_signals *)(base + sig_at);
	if ((rc = capture_signals(sig, flags)))
		return rc;

	struct pmf_fds *h = (struct pmf_fds *)(base + fds_at);
	memset(h, 0, sizeof *h);
	struct cap c = {
		.rec = (struct pmf_fd *)(h + 1), .maxfds = count,
		.str = (char *)base + str_at, .maxstr = len - str_at,
		.skip = skip, .nskip = nskip, .io = base, .iolen = iolen,
	};
	/* the working directory first: offset 0 of the strings */
	long cl = syscall(SYS_getcwd, c.str, c.maxstr < PATH_MAX ? c.maxstr : PATH_MAX);
	if (cl < 0)
		return pm__err(-errno, "getcwd: %s", strerror(errno));
	if (cl < 2 || c.str[0] != '/')
		return pm__err(-ENOTSUP, "the working directory is unreachable "
			       "(%s): cannot be restored", c.str);
	h->cwd_off = 0;
	h->cwd_len = (uint32_t)cl - 1;
	c.nstr = (size_t)cl;
	mode_t um = umask(022);
	umask(um);
	h->umask = (uint32_t)um & 0777;

	if ((rc = pm__ks_each_fd(capture_one, &c)))
		return c.failed ? rc
				: pm__err(rc, "/proc/self/fd: %s", strerror(-rc));
	if (c.overflow)
		return pm__err(-ENOSPC, "image kernel state: %zu bytes of scratch "
			       "needed, %zu given", need, len);
	/* ascending numbers (the walk's order; made sure of) */
	for (uint32_t i = 1; i < c.n; i++)
		for (uint32_t j = i; j > 0 && c.rec[j - 1].fd > c.rec[j].fd; j--) {
			struct pmf_fd t = c.rec[j];
			c.rec[j] = c.rec[j - 1];
			c.rec[j - 1] = t;
		}
	if ((rc = shared_description(c.rec, c.n)))
		return rc;
	link_written(c.rec, c.n);
	h->nfds = c.n;
	h->rec_size = sizeof(struct pmf_fd);
	h->strings_off = sizeof *h + (uint64_t)c.n * sizeof(struct pmf_fd);
	h->strings_len = c.nstr;
	memmove((char *)h + h->strings_off, c.str, c.nstr);
	for (uint32_t i = 0; i < c.n; i++)
		if (c.rec[i].class == PMF_FD_WRITE && !c.rec[i].link)
			out->nfiledata++;
	out->signals = sig;
	out->signals_len = sizeof *sig;
	out->fds = h;
	out->fds_len = h->strings_off + h->strings_len;
	return 0;
}

int pm__ks_filedata(const struct pm__ks_capture *c, uint32_t i,
		    struct pmf_filedata *head)
{
	const struct pmf_fds *h = c->fds;
	const struct pmf_fd *rec = (const struct pmf_fd *)(h + 1);
	for (uint32_t k = 0; k < h->nfds; k++) {
		if (rec[k].class != PMF_FD_WRITE || rec[k].link)
			continue;
		if (i-- == 0) {
			memset(head, 0, sizeof *head);
			head->fd = rec[k].fd;
			head->len = rec[k].data_len;
			return 0;
		}
	}
	return -ENOENT;
}

int pm__ks_copy_file(int fd, uint64_t len, void *buf, size_t buflen,
		     int (*sink)(void *ctx, const void *p, size_t n), void *ctx)
{
	int rfd = fd, fl = fcntl(fd, F_GETFL);
	if (fl < 0)
		return -errno;
	if ((fl & O_ACCMODE) == O_WRONLY) {
		char name[40];
		pm__fmt(name, sizeof name, "/proc/self/fd/%d", fd);
		if ((rfd = open(name, O_RDONLY | O_CLOEXEC)) < 0)
			return -errno;
	}
	int rc = 0;
	for (uint64_t at = 0; at < len && !rc;) {
		size_t want = len - at < buflen ? (size_t)(len - at) : buflen;
		ssize_t r = pread(rfd, buf, want, (off_t)at);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			rc = r < 0 ? -errno : -EIO;
			break;
		}
		rc = sink(ctx, buf, (size_t)r);
		at += (uint64_t)r;
	}
	if (rfd != fd)
		close(rfd);
	return rc;
}
