/*
 * image_kstate_inherit.c - the descriptors a process was started with
 * (image_kstate.h): the caller's, never the program's to restore.
 *
 * Owns: the table of inherited descriptors, set once, before the
 * program's constructors (the first malloc, or pmalloc's constructor:
 * init.c), read by capture and by prepare.  Raw syscalls through libc's
 * wrappers, no allocation: it runs inside the first malloc.
 */
#include "internal.h"
#include "image_kstate.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/syscall.h>

/* ---- inherited descriptors ------------------------------------------------ */

/* Which numbers were open, and the identity of the first INH_IDS of them
 * (a process starts with a handful; one with more has the rest taken as
 * inherited by number alone).  PM_STATE: a checkpoint restore keeps this
 * process's table. */
#define INH_IDS 64
static struct {
	int done;
	int n;
	uint64_t bits[PM__KS_INHERIT_MAX / 64];
	struct {
		int64_t fd;
		uint64_t dev, ino;
	} id[INH_IDS];
} inh PM_STATE;

/* The table, for a resume to carry this process's into the image's
 * memory (the resuming process's descriptors are the inherited ones). */
void *pm__ks_inherited_table(size_t *len)
{
	*len = sizeof inh;
	return &inh;
}

struct dirent64_ {
	uint64_t ino;
	int64_t off;
	unsigned short reclen;
	unsigned char type;
	char name[];
};

/* The decimal descriptor number of a /proc/self/fd entry, or -1. */
static int fd_of_name(const char *s)
{
	long v = 0;
	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > INT_MAX / 10)
			return -1;
		v = v * 10 + (*s - '0');
	}
	return v <= INT_MAX ? (int)v : -1;
}

int pm__ks_each_fd(int (*fn)(void *ctx, int fd), void *ctx)
{
	int dfd = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	char buf[4096] __attribute__((aligned(8)));
	int rc = 0;
	for (;;) {
		long n = syscall(SYS_getdents64, dfd, buf, sizeof buf);
		if (n < 0) {
			rc = -errno;
			break;
		}
		if (n == 0)
			break;
		for (long at = 0; at < n;) {
			struct dirent64_ *d = (struct dirent64_ *)(buf + at);
			at += d->reclen;
			int fd = fd_of_name(d->name);
			if (fd < 0 || fd == dfd)
				continue;
			if ((rc = fn(ctx, fd)))
				goto out;
		}
	}
out:
	close(dfd);
	return rc;
}

static int note_one(void *ctx, int fd)
{
	(void)ctx;
	struct stat st;
	if (fd >= PM__KS_INHERIT_MAX || fstat(fd, &st))
		return 0;
	inh.bits[fd / 64] |= 1ull << (fd % 64);
	if (inh.n < INH_IDS) {
		inh.id[inh.n].fd = fd;
		inh.id[inh.n].dev = st.st_dev;
		inh.id[inh.n].ino = st.st_ino;
		inh.n++;
	}
	return 0;
}

void pm__ks_note_inherited(void)
{
	if (__atomic_load_n(&inh.done, __ATOMIC_ACQUIRE))
		return;
	/* Only where an image can be taken or resumed: a process started
	 * with address-space randomisation off (pmalloc run, setarch -R).
	 * Every other process is spared the walk at start-up (a system
	 * with randomisation off globally gets no table: its images take
	 * only 0-2 from the resuming process). */
	if (!pm__os_aslr_off())
		return;
	if (__atomic_exchange_n(&inh.done, 1, __ATOMIC_ACQ_REL))
		return;
	int e = errno;
	pm__ks_each_fd(note_one, NULL);
	errno = e;
}

int pm__ks_was_open_at_start(int fd)
{
	return fd >= 0 && fd < PM__KS_INHERIT_MAX &&
	       (inh.bits[fd / 64] >> (fd % 64) & 1);
}

int pm__ks_is_inherited(int fd, uint64_t dev, uint64_t ino)
{
	if (!pm__ks_was_open_at_start(fd))
		return 0;
	for (int i = 0; i < inh.n; i++)
		if (inh.id[i].fd == fd)
			return inh.id[i].dev == dev && inh.id[i].ino == ino;
	return 1; /* past the table: by number */
}

