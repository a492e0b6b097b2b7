/*
 * iofault.so - an LD_PRELOAD shim that makes one libc call of a checkpoint
 * fail, for tests/ckpt_iofault.sh.
 *
 * It interposes pm_checkpoint() and pm_image() themselves: only the calls
 * made during one of them are counted (the program's own I/O and the
 * other checkpoints and images are left alone).  Environment:
 *   IOFAULT_CALL  which pm_checkpoint or pm_image call of the process
 *                 (both counted together, from 1; default 1)
 *   IOFAULT_MODE  eio       the Nth call fails with EIO
 *                 enospc    the Nth call fails with ENOSPC
 *                 kill      the Nth call kills the process (SIGKILL)
 *                 short     the Nth write to the temp file writes half
 *                 shortfull as short, then every later write to the temp
 *                           file fails with ENOSPC (a disk filling up)
 *                 (anything else: count only)
 *   IOFAULT_N     N (from 1); in the short modes only writes to the temp
 *                 file are counted
 *   IOFAULT_LABEL only calls with this LABEL are counted (e.g. "fsync-D",
 *                 "getrlimit"; N defaults to 1 then)
 *   IOFAULT_LOG   a file that gets "fault N LABEL" when the fault is
 *                 injected and "total K" when the checkpoint returns
 *   IOFAULT_TRACE set: the log also gets "call N LABEL" for every call
 *                 counted
 * LABEL is the function and the class of its file descriptor or path:
 * T the temporary file (created with O_CREAT, ".tmp." in its name), D a
 * directory (O_DIRECTORY), O anything else: "pwrite-T", "fsync-D",
 * "openat-T", "renameat", "getdents64-D", ...
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/syscall.h>

static int armed, done_first;
static long count, target, calls;
static int mode; /* 0 count, 1 eio, 2 enospc, 3 kill, 4 short, 5 shortfull */
static int full; /* shortfull: the disk is full now */
static int trace; /* IOFAULT_TRACE: log every counted call */
static char fdclass[65536];
static const char *only; /* IOFAULT_LABEL */

#define REAL(ret, name, ...)                                                   \
	static ret (*real_##name)(__VA_ARGS__);                                \
	if (!real_##name)                                                      \
		real_##name = (ret(*)(__VA_ARGS__))dlsym(RTLD_NEXT, #name)

static void logline(const char *a, long n, const char *b)
{
	const char *path = getenv("IOFAULT_LOG");
	if (!path)
		return;
	char buf[256];
	char num[24];
	int k = 0;
	do
		num[k++] = (char)('0' + n % 10);
	while ((n /= 10) && k < 23);
	size_t len = 0;
	for (const char *p = a; *p && len < 100; p++)
		buf[len++] = *p;
	buf[len++] = ' ';
	while (k)
		buf[len++] = num[--k];
	if (b) {
		buf[len++] = ' ';
		for (const char *p = b; *p && len < 250; p++)
			buf[len++] = *p;
	}
	buf[len++] = '\n';
	int fd = (int)syscall(SYS_openat, AT_FDCWD, path,
			      O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd >= 0) {
		(void)!syscall(SYS_write, fd, buf, len);
		syscall(SYS_close, fd);
	}
}

static char cls(int fd)
{
	return fd >= 0 && fd < (int)sizeof fdclass && fdclass[fd] ? fdclass[fd]
								  : 'O';
}

/* Returns 0 to go on with the real call, else the errno to fail with (the
 * kill mode does not return).  is_write: a write to the temp file. */
static int fault(const char *fn, char c, int is_write)
{
	if (!armed)
		return 0;
	if (mode == 5 && full && is_write)
		return ENOSPC;
	if ((mode == 4 || mode == 5) && !is_write)
		return 0;
	char label[64];
	size_t n = strlen(fn);
	if (n > 60)
		n = 60;
	memcpy(label, fn, n);
	if (c) {
		label[n++] = '-';
		label[n++] = c;
	}
	label[n] = '\0';
	if (only && strcmp(only, label))
		return 0;
	++count;
	if (trace)
		logline("call", count, label);
	if (count != target)
		return 0;
	logline("fault", count, label);
	switch (mode) {
	case 1:
		return EIO;
	case 2:
		return ENOSPC;
	case 3:
		kill(getpid(), SIGKILL);
		for (;;)
			pause();
	case 4:
	case 5:
		return -1; /* a short write */
	}
	return 0;
}

/* Arm for this call of pm_checkpoint or pm_image if it is the one
 * IOFAULT_CALL names (the first by default); 1 if armed. */
static int arm(void)
{
	const char *c = getenv("IOFAULT_CALL");
	if (done_first || ++calls != (c ? atol(c) : 1))
		return 0;
	done_first = 1;
	const char *m = getenv("IOFAULT_MODE"), *n = getenv("IOFAULT_N");
	mode = !m                        ? 0
	       : !strcmp(m, "eio")       ? 1
	       : !strcmp(m, "enospc")    ? 2
	       : !strcmp(m, "kill")      ? 3
	       : !strcmp(m, "short")     ? 4
	       : !strcmp(m, "shortfull") ? 5
					 : 0;
	only = getenv("IOFAULT_LABEL");
	trace = getenv("IOFAULT_TRACE") != NULL;
	target = n ? atol(n) : only ? 1 : 0;
	count = 0;
	armed = 1;
	return 1;
}

static int disarm(int rc)
{
	armed = 0;
	logline("total", count, NULL);
	return rc;
}

int pm_checkpoint(const char *path)
{
	REAL(int, pm_checkpoint, const char *);
	if (!arm())
		return real_pm_checkpoint(path);
	return disarm(real_pm_checkpoint(path));
}

int pm_image(const char *path)
{
	REAL(int, pm_image, const char *);
	if (!arm())
		return real_pm_image(path);
	return disarm(real_pm_image(path));
}

static void note_open(int fd, const char *path, int flags)
{
	if (fd < 0 || fd >= (int)sizeof fdclass)
		return;
	fdclass[fd] = (flags & O_DIRECTORY)                       ? 'D'
		      : (flags & O_CREAT) && strstr(path, ".tmp.") ? 'T'
								   : 'O';
}

static char path_cls(const char *path, int flags)
{
	return (flags & O_DIRECTORY)                       ? 'D'
	       : (flags & O_CREAT) && strstr(path, ".tmp.") ? 'T'
							    : 'O';
}

#define OPEN_MODE(flags)                                                       \
	mode_t md = 0;                                                         \
	if ((flags) & (O_CREAT | __O_TMPFILE)) {                               \
		va_list ap;                                                    \
		va_start(ap, flags);                                           \
		md = (mode_t)va_arg(ap, int);                                  \
		va_end(ap);                                                    \
	}

#define WRAP_OPEN(name)                                                        \
	int name(const char *path, int flags, ...)                             \
	{                                                                      \
		OPEN_MODE(flags)                                               \
		REAL(int, name, const char *, int, ...);                       \
		int e = fault(#name, path_cls(path, flags), 0);                \
		if (e) {                                                       \
			errno = e;                                             \
			return -1;                                             \
		}                                                              \
		int fd = real_##name(path, flags, md);                         \
		note_open(fd, path, flags);                                    \
		return fd;                                                     \
	}
WRAP_OPEN(open)
WRAP_OPEN(open64)

#define WRAP_OPENAT(name)                                                      \
	int name(int dfd, const char *path, int flags, ...)                    \
	{                                                                      \
		OPEN_MODE(flags)                                               \
		REAL(int, name, int, const char *, int, ...);                  \
		int e = fault(#name, path_cls(path, flags), 0);                \
		if (e) {                                                       \
			errno = e;                                             \
			return -1;                                             \
		}                                                              \
		int fd = real_##name(dfd, path, flags, md);                    \
		note_open(fd, path, flags);                                    \
		return fd;                                                     \
	}
WRAP_OPENAT(openat)
WRAP_OPENAT(openat64)

int close(int fd)
{
	REAL(int, close, int);
	int e = fault("close", cls(fd), 0);
	if (fd >= 0 && fd < (int)sizeof fdclass)
		fdclass[fd] = 0;
	if (e) {
		real_close(fd); /* as Linux: the fd is gone anyway */
		errno = e;
		return -1;
	}
	return real_close(fd);
}

/* write family: a short write writes half (at least 1 byte) */
ssize_t write(int fd, const void *buf, size_t n)
{
	REAL(ssize_t, write, int, const void *, size_t);
	int e = fault("write", cls(fd), cls(fd) == 'T');
	if (e > 0) {
		errno = e;
		return -1;
	}
	if (e < 0 && n > 1)
		n /= 2;
	return real_write(fd, buf, n);
}

#define WRAP_PWRITE(name)                                                      \
	ssize_t name(int fd, const void *buf, size_t n, off_t off)            \
	{                                                                      \
		REAL(ssize_t, name, int, const void *, size_t, off_t);         \
		int e = fault(#name, cls(fd), cls(fd) == 'T');                 \
		if (e > 0) {                                                   \
			errno = e;                                             \
			return -1;                                             \
		}                                                              \
		if (e < 0 && n > 1) {                                          \
			n /= 2;                                                \
			if (mode == 5)                                         \
				full = 1;                                      \
		}                                                              \
		return real_##name(fd, buf, n, off);                           \
	}
WRAP_PWRITE(pwrite)
WRAP_PWRITE(pwrite64)

ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
	REAL(ssize_t, pwritev, int, const struct iovec *, int, off_t);
	int e = fault("pwritev", cls(fd), cls(fd) == 'T');
	if (e > 0) {
		errno = e;
		return -1;
	}
	if (e < 0 && cnt > 0 && iov[0].iov_len > 1) {
		struct iovec h = {iov[0].iov_base, iov[0].iov_len / 2};
		if (mode == 5)
			full = 1;
		return real_pwritev(fd, &h, 1, off);
	}
	return real_pwritev(fd, iov, cnt, off);
}

/* calls on a file descriptor: fail or pass */
#define WRAP_FD(ret, name, params, args, ...)                                  \
	ret name params                                                        \
	{                                                                      \
		REAL(ret, name, __VA_ARGS__);                                  \
		int e = fault(#name, cls(fd), 0);                              \
		if (e > 0) {                                                   \
			errno = e;                                             \
			return -1;                                             \
		}                                                              \
		return real_##name args;                                       \
	}
WRAP_FD(int, fsync, (int fd), (fd), int)
WRAP_FD(int, fdatasync, (int fd), (fd), int)
WRAP_FD(int, fchmod, (int fd, mode_t m), (fd, m), int, mode_t)
WRAP_FD(int, flock, (int fd, int op), (fd, op), int, int)
WRAP_FD(int, fstat, (int fd, struct stat *st), (fd, st), int, struct stat *)
WRAP_FD(int, ftruncate, (int fd, off_t len), (fd, len), int, off_t)
WRAP_FD(int, fallocate, (int fd, int m, off_t o, off_t l), (fd, m, o, l), int,
	int, off_t, off_t)
WRAP_FD(int, fallocate64, (int fd, int m, off_t o, off_t l), (fd, m, o, l),
	int, int, off_t, off_t)
WRAP_FD(ssize_t, getdents64, (int fd, void *b, size_t n), (fd, b, n), int,
	void *, size_t)
WRAP_FD(int, fstatat, (int fd, const char *p, struct stat *st, int fl),
	(fd, p, st, fl), int, const char *, struct stat *, int)
WRAP_FD(int, unlinkat, (int fd, const char *p, int fl), (fd, p, fl), int,
	const char *, int)

/* posix_fallocate returns the error number */
int posix_fallocate(int fd, off_t o, off_t l)
{
	REAL(int, posix_fallocate, int, off_t, off_t);
	int e = fault("posix_fallocate", cls(fd), 0);
	return e > 0 ? e : real_posix_fallocate(fd, o, l);
}

/* calls on names */
#define WRAP_PATH(name, params, args, ...)                                     \
	int name params                                                        \
	{                                                                      \
		REAL(int, name, __VA_ARGS__);                                  \
		int e = fault(#name, 0, 0);                                    \
		if (e > 0) {                                                   \
			errno = e;                                             \
			return -1;                                             \
		}                                                              \
		return real_##name args;                                       \
	}
WRAP_PATH(rename, (const char *a, const char *b), (a, b), const char *,
	  const char *)
WRAP_PATH(renameat, (int da, const char *a, int db, const char *b),
	  (da, a, db, b), int, const char *, int, const char *)
WRAP_PATH(renameat2,
	  (int da, const char *a, int db, const char *b, unsigned fl),
	  (da, a, db, b, fl), int, const char *, int, const char *, unsigned)
WRAP_PATH(unlink, (const char *a), (a), const char *)
WRAP_PATH(lstat, (const char *a, struct stat *st), (a, st), const char *,
	  struct stat *)

ssize_t getrandom(void *buf, size_t n, unsigned fl)
{
	REAL(ssize_t, getrandom, void *, size_t, unsigned);
	int e = fault("getrandom", 0, 0);
	if (e > 0) {
		errno = e;
		return -1;
	}
	return real_getrandom(buf, n, fl);
}

int getrlimit(__rlimit_resource_t r, struct rlimit *rl)
{
	REAL(int, getrlimit, __rlimit_resource_t, struct rlimit *);
	int e = fault("getrlimit", 0, 0);
	if (e > 0) {
		errno = e;
		return -1;
	}
	return real_getrlimit(r, rl);
}
