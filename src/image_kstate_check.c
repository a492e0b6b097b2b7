/*
 * image_kstate_check.c - the records of a process image's kernel state
 * checked field by field, as bytes from a file that may be damaged or
 * crafted (image_kstate.h, image_format.h).  Touches nothing but its
 * arguments: no descriptor, no system call; usable by the CLI.
 *
 * What is refused is what prepare and apply could not do safely or could
 * not do at all: numbers, offsets and lengths out of range, strings that
 * are not strings inside the section, unknown classes and flags, fields
 * that a class does not have, links to nothing, FILEDATA sections that
 * do not match their records one to one; handlers and restorers that are
 * not user addresses, signal flags the kernel does not know, an
 * alternate stack that is not one.
 */
#include "internal.h"
#include "image_kstate.h"
#include "image_kstate_plan.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#define USER_TOP (1ull << 47)   /* x86-64 user addresses are below */
#define MIN_CODE 65536ull       /* as PMF_MIN_CODE_ADDR */

/* ---- the records, checked ------------------------------------------------- */

static int user_addr(uint64_t a)
{
	return a >= MIN_CODE && a < USER_TOP;
}

static int check_signals(const void *p, size_t len)
{
	const struct pmf_signals *s = p;
	if (!p || len != sizeof *s)
		return pm__err(PM_ECORRUPT, "signals: section is %zu bytes, "
			       "not %zu", len, sizeof *s);
	if (s->nsig != PMF_NSIG || s->rec_size != sizeof(struct pmf_sigaction))
		return pm__err(PM_ECORRUPT, "signals: nsig %u, rec_size %u",
			       s->nsig, s->rec_size);
	if (s->reserved0 || s->reserved)
		return pm__err(PM_ECORRUPT, "signals: reserved bytes not zero");
	if (s->pending & ((1ull << (SIGKILL - 1)) | (1ull << (SIGSTOP - 1))))
		return pm__err(PM_ECORRUPT, "signals: SIGKILL or SIGSTOP pending");
	if (s->alarm_us > PMF_ALARM_MAX || s->alarm_every_us > PMF_ALARM_MAX ||
	    (!s->alarm_us && s->alarm_every_us))
		return pm__err(PM_ECORRUPT, "signals: alarm %lu us, every %lu us",
			       (unsigned long)s->alarm_us,
			       (unsigned long)s->alarm_every_us);
	uint32_t known = SS_ONSTACK | SS_DISABLE | PMF_SS_AUTODISARM;
	if (s->ss_flags & ~known)
		return pm__err(PM_ECORRUPT, "signals: sigaltstack flags 0x%x",
			       s->ss_flags);
	if (s->ss_flags & SS_DISABLE) {
		if (s->ss_sp || s->ss_size)
			return pm__err(PM_ECORRUPT, "signals: a disabled "
				       "sigaltstack with a base or size");
	} else if (s->ss_size < 2048 || !user_addr(s->ss_sp) ||
		   s->ss_size > USER_TOP - s->ss_sp) {
		return pm__err(PM_ECORRUPT, "signals: sigaltstack 0x%lx, %lu bytes",
			       (unsigned long)s->ss_sp, (unsigned long)s->ss_size);
	}
	for (int sig = 1; sig <= PMF_NSIG; sig++) {
		const struct pmf_sigaction *a = &s->act[sig - 1];
		if (sig == SIGKILL || sig == SIGSTOP) {
			if (a->handler || a->flags || a->restorer || a->mask)
				return pm__err(PM_ECORRUPT, "signals: signal %d "
					       "has a record", sig);
			continue;
		}
		if (a->flags & ~PMF_SA_KNOWN)
			return pm__err(PM_ECORRUPT, "signals: signal %d: flags "
				       "0x%lx", sig, (unsigned long)a->flags);
		if (a->handler > 1 && !user_addr(a->handler))
			return pm__err(PM_ECORRUPT, "signals: signal %d: handler "
				       "0x%lx", sig, (unsigned long)a->handler);
		if ((a->flags & PMF_SA_RESTORER) ? !user_addr(a->restorer)
						 : a->restorer != 0)
			return pm__err(PM_ECORRUPT, "signals: signal %d: restorer "
				       "0x%lx", sig, (unsigned long)a->restorer);
	}
	return 0;
}

static const struct {
	const char *path;
	unsigned major, minor;
} devs[] = {
	{"/dev/null", 1, 3},   {"/dev/zero", 1, 5},    {"/dev/full", 1, 7},
	{"/dev/random", 1, 8}, {"/dev/urandom", 1, 9},
};

int pm__ks_known_dev(const char *path, uint64_t rdev)
{
	for (size_t i = 0; i < sizeof devs / sizeof devs[0]; i++)
		if (!strcmp(path, devs[i].path))
			return rdev == makedev(devs[i].major, devs[i].minor);
	return 0;
}

static int all_zero(const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return 0;
	return 1;
}

/* A string of the strings blob: NUL at off + len, none before; or NULL. */
static const char *string_at(const char *str, uint64_t nstr, uint32_t off,
			     uint32_t len)
{
	if (off >= nstr || len >= nstr - off || len >= PATH_MAX ||
	    str[off + len] || memchr(str + off, 0, len))
		return NULL;
	return str + off;
}

#define BAD(i, r, what)                                                        \
	pm__err(PM_ECORRUPT, "fds: record %u (fd %d): %s", (unsigned)(i),      \
		(int)(r)->fd, what)

static int check_record(const struct pmf_fds *h, const struct pmf_fd *rec,
			uint32_t i, const char *str)
{
	const struct pmf_fd *r = &rec[i];
	uint32_t acc = r->oflags & O_ACCMODE, type = r->mode & S_IFMT;
	if (r->fd < 0 || r->fd >= PMF_FD_LIMIT)
		return BAD(i, r, "descriptor number out of range");
	if (i && r->fd <= rec[i - 1].fd)
		return BAD(i, r, "descriptor numbers not ascending");
	if (r->class < PMF_FD_READ || r->class > PMF_FD_OPATH)
		return BAD(i, r, "unknown class");
	if (r->oflags & ~PMF_OFLAGS_KNOWN || acc == 3)
		return BAD(i, r, "unknown open flags");
	if (r->fdflags & ~(uint32_t)FD_CLOEXEC)
		return BAD(i, r, "unknown descriptor flags");
	/* a directory's position is a cookie (ext4: a 63-bit hash, its end
	 * INT64_MAX); a file's a byte offset */
	if (r->class == PMF_FD_DIR ? r->offset > (uint64_t)INT64_MAX
				   : r->offset >= (1ull << 62))
		return BAD(i, r, "offset out of range");
	if (r->reserved)
		return BAD(i, r, "reserved bytes not zero");
	const char *path = string_at(str, h->strings_len, r->path_off, r->path_len);
	if (!path)
		return BAD(i, r, "path not a string inside the section");
	int reopened = r->class != PMF_FD_STDIO && r->class != PMF_FD_INHERITED;
	if (reopened && path[0] != '/')
		return BAD(i, r, "path not absolute");
	int rw = r->class == PMF_FD_READ || r->class == PMF_FD_WRITE;
	/* an inherited file read from: offset and hash as a read file's */
	int inh_read = r->class == PMF_FD_INHERITED && type == S_IFREG &&
		       acc == O_RDONLY && !(r->oflags & O_PATH);
	if (!rw && (r->link || r->data_len))
		return BAD(i, r, "link or data on a descriptor that has none");
	if (!rw && !inh_read && !all_zero(r->sha256, 32))
		return BAD(i, r, "hash on a descriptor that has none");
	if (!rw && !inh_read && r->class != PMF_FD_DIR && r->offset)
		return BAD(i, r, "offset on a descriptor that has none");
	if (inh_read && r->offset > r->size)
		return BAD(i, r, "offset past the size");
	if (r->class != PMF_FD_OPATH && (r->oflags & O_PATH))
		return BAD(i, r, "O_PATH on a descriptor that is not one");
	if (rw) {
		if (type != S_IFREG)
			return BAD(i, r, "not a regular file");
		if ((r->class == PMF_FD_READ) != (acc == O_RDONLY))
			return BAD(i, r, "access mode does not match the class");
		if (r->link) {
			const struct pmf_fd *p = r->link <= h->nfds ? &rec[r->link - 1] : NULL;
			if (!p || p == r || p->class != PMF_FD_WRITE || p->link)
				return BAD(i, r, "link to no written file");
			if (r->data_len || !all_zero(r->sha256, 32))
				return BAD(i, r, "data or hash on a linked record");
		} else if (r->class == PMF_FD_READ) {
			if (r->data_len || r->offset > r->size)
				return BAD(i, r, "data, or offset past the size");
		} else if (r->data_len != r->size || !all_zero(r->sha256, 32)) {
			return BAD(i, r, "data length is not the size, or a hash");
		}
	} else if (r->link) {
		return BAD(i, r, "link");
	}
	switch (r->class) {
	case PMF_FD_DIR:
		/* (O_DIRECTORY is the opener's choice: find and a shell's
		 * `exec 3< .` open directories without it) */
		if (type != S_IFDIR || acc != O_RDONLY)
			return BAD(i, r, "not a directory opened for reading");
		break;
	case PMF_FD_DEV:
		if (type != S_IFCHR || !pm__ks_known_dev(path, r->rdev))
			return BAD(i, r, "not one of the devices reopened");
		break;
	case PMF_FD_STDIO:
		if (r->fd > 2)
			return BAD(i, r, "standard descriptor above 2");
		break;
	case PMF_FD_INHERITED:
		if (r->fd >= PM__KS_INHERIT_MAX)
			return BAD(i, r, "inherited descriptor number too high");
		break;
	case PMF_FD_OPATH:
		if (!(r->oflags & O_PATH) || (type != S_IFREG && type != S_IFDIR))
			return BAD(i, r, "not an O_PATH file or directory");
		break;
	}
	return 0;
}

static int check_fds(const void *p, size_t len, const struct pm__ks_blob *fdata,
		     uint32_t nfdata)
{
	const struct pmf_fds *h = p;
	if (!p || len < sizeof *h || ((uintptr_t)p & 7))
		return pm__err(PM_ECORRUPT, "fds: section of %zu bytes", len);
	if (h->nfds > PMF_MAX_FDS || h->rec_size != sizeof(struct pmf_fd))
		return pm__err(PM_ECORRUPT, "fds: %u records of %u bytes",
			       h->nfds, h->rec_size);
	if (h->reserved0 || !all_zero(h->reserved, sizeof h->reserved))
		return pm__err(PM_ECORRUPT, "fds: reserved bytes not zero");
	if (h->strings_off != sizeof *h + (uint64_t)h->nfds * sizeof(struct pmf_fd) ||
	    h->strings_off > len || h->strings_len != len - h->strings_off)
		return pm__err(PM_ECORRUPT, "fds: strings at %lu, %lu bytes, in "
			       "a section of %zu", (unsigned long)h->strings_off,
			       (unsigned long)h->strings_len, len);
	if (h->umask & ~0777u)
		return pm__err(PM_ECORRUPT, "fds: umask 0%o", h->umask);
	const char *str = (const char *)p + h->strings_off;
	const char *cwd = string_at(str, h->strings_len, h->cwd_off, h->cwd_len);
	if (!cwd || cwd[0] != '/')
		return pm__err(PM_ECORRUPT, "fds: working directory not an "
			       "absolute path inside the section");
	const struct pmf_fd *rec = (const struct pmf_fd *)(h + 1);
	uint32_t nwritten = 0;
	for (uint32_t i = 0; i < h->nfds; i++) {
		int rc = check_record(h, rec, i, str);
		if (rc)
			return rc;
		nwritten += rec[i].class == PMF_FD_WRITE && !rec[i].link;
	}
	if (nfdata != nwritten || (nfdata && !fdata))
		return pm__err(PM_ECORRUPT, "fds: %u written files, %u file data "
			       "sections", nwritten, nfdata);
	for (uint32_t k = 0; k < nfdata; k++) {
		const struct pmf_filedata *d = fdata[k].p;
		if (!d || fdata[k].len < sizeof *d || ((uintptr_t)d & 7) ||
		    d->len != fdata[k].len - sizeof *d || d->reserved0 ||
		    d->reserved[0] || d->reserved[1])
			return pm__err(PM_ECORRUPT, "file data section %u: damaged "
				       "header", k);
		uint32_t i = 0;
		while (i < h->nfds && rec[i].fd != d->fd)
			i++;
		if (i == h->nfds || rec[i].class != PMF_FD_WRITE || rec[i].link ||
		    rec[i].data_len != d->len)
			return pm__err(PM_ECORRUPT, "file data section %u: fd %d "
				       "is no written file of %lu bytes", k, d->fd,
				       (unsigned long)d->len);
		for (uint32_t j = 0; j < k; j++)
			if (((const struct pmf_filedata *)fdata[j].p)->fd == d->fd)
				return pm__err(PM_ECORRUPT, "file data section "
					       "%u: fd %d twice", k, d->fd);
	}
	return 0;
}

int pm__ks_check_records(const void *signals, size_t signals_len,
			 const void *fds, size_t fds_len,
			 const struct pm__ks_blob *filedata, uint32_t nfiledata)
{
	int rc = check_signals(signals, signals_len);
	return rc ? rc : check_fds(fds, fds_len, filedata, nfiledata);
}

size_t pm__ks_plan_size(const void *fds, size_t fds_len)
{
	const struct pmf_fds *h = fds;
	if (!fds || fds_len < sizeof *h || h->nfds > PMF_MAX_FDS)
		return 0;
	return sizeof(struct pm__ks_plan) + h->nfds * sizeof(struct pm__ks_ent);
}

