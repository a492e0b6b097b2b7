/*
 * image_kstate.h - the kernel state of a process image (docs/IMAGE.md,
 * docs/IMAGE_KSTATE.md): open descriptors, signal dispositions, the
 * alternate signal stack, the working directory and the umask.
 *
 * Three phases, each in its own file:
 *
 *   capture  (image_kstate.c)       in pm_image: the records of
 *            image_format.h (PMF_SEC_SIGNALS, PMF_SEC_FDS) built in the
 *            caller's scratch memory; the FILEDATA bytes are copied from
 *            the live descriptors by the writer (pm__ks_copy_file).
 *   prepare  (image_kstate_prep.c)  at resume, before the point of no
 *            return: every record checked (image_kstate_check.c),
 *            every file opened (and every
 *            written file recreated in a temporary file) at a high
 *            descriptor number; the result is a plan in caller memory.
 *            Reversible: pm__ks_undo closes and removes what it made.
 *   apply    (image_kstate_apply.c) in the restorer, after the point of
 *            no return: raw inline syscalls only, reading only the plan.
 *
 * Descriptors open when the process started are the caller's
 * ("inherited"): pm__ks_note_inherited records them, once, before any
 * constructor of the program runs (init.c calls it).
 */
#ifndef PM_IMAGE_KSTATE_H
#define PM_IMAGE_KSTATE_H

#include <stddef.h>
#include <stdint.h>
#include "image_format.h"

/* ---- inherited descriptors (image_kstate_inherit.c) ------------------------------ */

/* Descriptors below this number are remembered when open at start-up,
 * the first 64 of them with their device and inode (so a descriptor the
 * program closed and opened again under the same number is not taken
 * for the caller's). */
#define PM__KS_INHERIT_MAX 1024

/* Record the descriptors open now as inherited.  Only the first call
 * does anything.  Raw syscalls, no allocation: safe in the first malloc
 * and in a constructor. */
void pm__ks_note_inherited(void);
/* 1 if fd was open at start-up and still names the same file (dev, ino). */
int pm__ks_is_inherited(int fd, uint64_t dev, uint64_t ino);
/* The table itself (address and size): a resume copies this process's
 * over the image's, so that an image of the resumed process takes the
 * descriptors the resuming process was started with as inherited. */
void *pm__ks_inherited_table(size_t *len);
/* 1 if fd was open at start-up (whatever it names now). */
int pm__ks_was_open_at_start(int fd);

/* Call fn(ctx, fd) for every descriptor in /proc/self/fd but the one the
 * walk holds itself.  0, fn's first non-zero value, or -errno. */
int pm__ks_each_fd(int (*fn)(void *ctx, int fd), void *ctx);

/* ---- capture (image_kstate.c) --------------------------------------------- */

/* Flags of pm__ks_capture. */
#define PM__KS_FROM_SIGNAL 1u /* called in a signal handler: stdio's FILEs
				 are not touched (see docs/IMAGE_KSTATE.md) */

/* Scratch bytes that always do for up to 230 descriptors, whatever
 * their paths; in general up to 32 KiB + 2176 + (nfds + 8) * (128 + 4097)
 * + 4097 (pm__ks_capture says how much on -ENOSPC). */
#define PM__KS_SCRATCH (1u << 20)

struct pm__ks_capture {
	const void *signals;  /* PMF_SEC_SIGNALS: a struct pmf_signals */
	size_t signals_len;
	const void *fds;      /* PMF_SEC_FDS: struct pmf_fds, records, strings */
	size_t fds_len;
	uint32_t nfiledata;   /* FILEDATA sections to write (pm__ks_filedata) */
	size_t need;          /* on -ENOSPC: the scratch bytes needed */
};

/*
 * Capture the kernel state of this (single-threaded) process into
 * scratch[0, len) (the sections point into it).  skip[0, nskip): the
 * caller's own descriptors (the image file being written), left out.
 * Without PM__KS_FROM_SIGNAL, every stdio stream reading a regular file
 * is fflush()ed first, so that what libc read ahead is dropped and the
 * descriptor's offset is the program's logical position.
 *
 * No malloc, no locks (but the one of each stream fflush takes).
 * Returns 0; -ENOSPC with out->need set when scratch is too small;
 * -ENOTSUP naming the descriptor and what it is when one cannot be
 * restored (socket, pipe, eventfd, epoll, deleted file, /proc, ...);
 * -errno of a syscall that failed, with pm_errmsg() set.
 */
int pm__ks_capture(void *scratch, size_t len, const int *skip, int nskip,
		   unsigned flags, struct pm__ks_capture *out);

/* The i-th FILEDATA section of a capture (i < nfiledata): its header
 * (fd and len).  0, or -ENOENT when there is no such section. */
int pm__ks_filedata(const struct pm__ks_capture *c, uint32_t i,
		    struct pmf_filedata *head);

/*
 * Copy bytes [0, len) of the file open as fd to sink(ctx, p, n) (called
 * with pieces of buf, buflen bytes at most), as the FILEDATA section
 * after its header.  A descriptor open write-only is read through
 * /proc/self/fd/N.  0, the sink's non-zero value, -errno, or -EIO when
 * the file is now shorter than len (someone else truncated it).
 */
int pm__ks_copy_file(int fd, uint64_t len, void *buf, size_t buflen,
		     int (*sink)(void *ctx, const void *p, size_t n), void *ctx);

/* ---- prepare and undo (image_kstate_prep.c) ----------------------------- */

struct pm__ks_plan; /* opaque; in caller memory (pm__ks_plan_size) */

/* A FILEDATA section's bytes as read from the image (header included),
 * already checked against its crc by the caller. */
struct pm__ks_blob {
	const void *p;
	uint64_t len;
};

/* The records alone, as read from a file (nothing on this system is
 * looked at): what pm__ks_prepare checks first.  0 or PM_ECORRUPT with
 * pm_errmsg() naming the record, its fd and the field.  For the CLI's
 * verify as well. */
int pm__ks_check_records(const void *signals, size_t signals_len,
			 const void *fds, size_t fds_len,
			 const struct pm__ks_blob *filedata, uint32_t nfiledata);

/* 1 if path is one of the devices reopened (PMF_FD_DEV) with that device
 * number: /dev/null, /dev/zero, /dev/full, /dev/random, /dev/urandom. */
int pm__ks_known_dev(const char *path, uint64_t rdev);

/* Bytes of plan memory pm__ks_prepare needs for this FDS section; 0 if
 * its header is damaged (pm__ks_prepare then says why). */
size_t pm__ks_plan_size(const void *fds, size_t fds_len);

/*
 * Check the records (as bytes from the file: nothing in them is
 * trusted) and prepare everything apply needs, in mem[0, mem_len)
 * (pm__ks_plan_size bytes, 16-aligned): each file and directory opened
 * by path at a descriptor above 1000 and above every recorded number,
 * read files' prefixes hashed and compared, written files recreated in
 * temporaries of their directory (renamed over their path by apply),
 * the working directory opened, inherited and 0-2 descriptors checked
 * to be open here.  keep[0, nkeep): descriptors of the caller apply must
 * leave open (may not be numbers the image restores).
 *
 * 0 with *plan set, or a refusal with pm_errmsg() set and nothing left
 * behind: PM_ECORRUPT (a damaged record: which one, which field),
 * -ESTALE (an input changed before its offset, or is shorter),
 * -ENOENT (a file or directory is missing), -EBUSY (a keep descriptor
 * is one the image restores), -ENOTSUP, -EMFILE, -errno.
 */
int pm__ks_prepare(const void *signals, size_t signals_len, const void *fds,
		   size_t fds_len, const struct pm__ks_blob *filedata,
		   uint32_t nfiledata, const int *keep, int nkeep, void *mem,
		   size_t mem_len, struct pm__ks_plan **plan);

/* Add a descriptor apply must leave open (opened after prepare).  0, or
 * -EBUSY if the image restores that number, -EINVAL out of range. */
int pm__ks_plan_keep(struct pm__ks_plan *plan, int fd);

/* Close every descriptor prepare opened and remove its temporaries: the
 * descriptor table and the file system are as before prepare. */
void pm__ks_undo(struct pm__ks_plan *plan);

/* ---- apply (image_kstate_apply.c) ----------------------------------------- */

/* Apply's steps, reported on failure. */
enum pm__ks_step {
	PM__KS_STEP_RENAME = 1,   /* renameat: a written file into place */
	PM__KS_STEP_DUP = 2,      /* dup3: a descriptor to its number */
	PM__KS_STEP_CHDIR = 3,    /* fchdir */
	PM__KS_STEP_CLOSE = 4,    /* the /proc/self/fd walk closing the rest */
	PM__KS_STEP_SIGACTION = 5,
	PM__KS_STEP_ALTSTACK = 6,
	PM__KS_STEP_UMASK = 7,
	PM__KS_STEP_SEEK = 8,     /* lseek: an inherited input to its offset
				     (after DUP, before CHDIR) */
	PM__KS_STEP_ALARM = 9,    /* setitimer(ITIMER_REAL) */
	PM__KS_STEP_PENDING = 10, /* tgkill: a signal pending at the image */
};

/*
 * Make the process's kernel state the image's.  Raw inline syscalls, no
 * libc, no globals, no TLS, no stack protector: runs in the restorer
 * while libc's memory is replaced; reads only *plan (which must survive
 * the replacement).  In order: renames, dup3 of every prepared
 * descriptor to its number (FD_CLOEXEC as recorded; offsets were set by
 * prepare and are shared), lseek of each inherited input the image had
 * read (`< file`) to its offset, fchdir, then every descriptor that is not
 * restored, not inherited by this process and not kept is closed (the
 * prepared ones too), then rt_sigaction for signals 1..64 (but 9, 19),
 * sigaltstack, umask.  Returns 0, or a negative errno with *step set.
 */
__attribute__((visibility("hidden"))) int
pm__ks_apply(const struct pm__ks_plan *plan, int *step);

#endif /* PM_IMAGE_KSTATE_H */
