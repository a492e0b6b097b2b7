/*
 * image_format.h - the on-file records of a process image's kernel state
 * (docs/IMAGE.md section 2, docs/IMAGE_KSTATE.md): signal dispositions and
 * the alternate signal stack (PMF_SEC_SIGNALS), open descriptors, the
 * working directory and the umask (PMF_SEC_FDS), and the saved contents of
 * files the program was writing (PMF_SEC_FILEDATA).
 *
 * Same rules as format.h: little-endian, fixed sizes, explicit padding,
 * reserved fields zero.  A reader trusts nothing it can compute: every
 * count, offset and length is checked against the section's length
 * (image_kstate.c, pm__ks_prepare), every string is NUL-terminated at its
 * recorded length and has no NUL inside.
 *
 * PMF_SEC_FDS, byte by byte:
 *
 *   0                 +-----------------------------+
 *                     | struct pmf_fds (64)         |  counts, umask, cwd
 *   64                +-----------------------------+
 *                     | nfds * struct pmf_fd (128)  |  ascending fd order
 *   strings_off       +-----------------------------+  = 64 + 128 * nfds
 *                     | strings: paths, cwd, each   |
 *                     | NUL-terminated              |
 *   section length    +-----------------------------+  = strings_off +
 *                                                        strings_len
 *
 * PMF_SEC_FILEDATA: one section per written file, a struct
 * pmf_filedata (32) and then the file's bytes [0, len).
 */
#ifndef PM_IMAGE_FORMAT_H
#define PM_IMAGE_FORMAT_H

#include <stdint.h>

/* The section kinds belong in format.h's enum pmf_kind (not defined here,
 * so that the two headers never clash):
 *   PMF_SEC_SIGNALS = 11   one struct pmf_signals
 *   PMF_SEC_FDS = 13       struct pmf_fds, records, strings
 *   PMF_SEC_FILEDATA = 14  struct pmf_filedata, then the bytes */

/* ---- PMF_SEC_SIGNALS ----------------------------------------------------- */

#define PMF_NSIG 64

/* One signal's disposition: the kernel's x86-64 `struct sigaction` as
 * rt_sigaction(2) takes it (not libc's), for signal number index + 1.
 * SIGKILL (9) and SIGSTOP (19) cannot be changed: their records are zero
 * and are not applied.  32 and 33 (glibc's internal cancellation and
 * setxid signals) are recorded and applied like the others. */
struct pmf_sigaction {
	uint64_t handler;  /*  0 0 SIG_DFL, 1 SIG_IGN, else a user address
			    *    (>= 65536, < 2^47): code of the program */
	uint64_t flags;    /*  8 SA_* bits; only those known (see
			    *    PMF_SA_KNOWN) */
	uint64_t restorer; /* 16 sa_restorer: 0, or a user address when
			    *    flags has SA_RESTORER (0x04000000) */
	uint64_t mask;     /* 24 signals blocked while the handler runs:
			    *    bit n-1 for signal n */
};                         /* 32 */

/* SA_NOCLDSTOP 1, SA_NOCLDWAIT 2, SA_SIGINFO 4, SA_UNSUPPORTED 0x400,
 * SA_EXPOSE_TAGBITS 0x800, SA_RESTORER 0x04000000, SA_ONSTACK 0x08000000,
 * SA_RESTART 0x10000000, SA_NODEFER 0x40000000, SA_RESETHAND 0x80000000. */
#define PMF_SA_KNOWN 0xdc000c07ull
#define PMF_SA_RESTORER 0x04000000ull
/* sigaltstack flags: SS_ONSTACK 1, SS_DISABLE 2, SS_AUTODISARM 1u << 31 */
#define PMF_SS_AUTODISARM (1u << 31)

struct pmf_signals {
	uint32_t nsig;        /*  0 PMF_NSIG */
	uint32_t rec_size;    /*  4 sizeof(struct pmf_sigaction) = 32 */
	uint64_t ss_sp;       /*  8 sigaltstack: base (0 when disabled) */
	uint64_t ss_size;     /* 16 bytes (0 when disabled; else >= 2048) */
	uint32_t ss_flags;    /* 24 as sigaltstack(NULL, &old) reported:
			       *    SS_DISABLE (2) or 0, possibly with
			       *    SS_ONSTACK (1: captured on it) and
			       *    SS_AUTODISARM (1u << 31) */
	uint32_t reserved0;   /* 28 zero */
	uint64_t alarm_us;    /* 32 ITIMER_REAL (alarm, setitimer): time
			       *    left, in microseconds (0: not armed);
			       *    <= PMF_ALARM_MAX.  Set again at resume,
			       *    counting from there */
	uint64_t alarm_every_us; /* 40 its interval (0: once); <=
			       *    PMF_ALARM_MAX, 0 when alarm_us is 0 */
	uint64_t pending;     /* 48 signals pending (blocked) at the image,
			       *    bit n-1 for signal n; never SIGKILL or
			       *    SIGSTOP.  Raised again at resume (once
			       *    each: a real-time signal's queue and every
			       *    siginfo are lost).  0 in an image taken
			       *    by the signal trigger */
	uint64_t reserved;    /* 56 zero */
	struct pmf_sigaction act[PMF_NSIG]; /* 64: act[n - 1] for signal n */
};                            /* 2112 */

/* The longest time an image's alarm may hold: 10^14 us (about 3 years). */
#define PMF_ALARM_MAX 100000000000000ull

/* ---- PMF_SEC_FDS --------------------------------------------------------- */

/* The most descriptors an image records (a reader's bound). */
#define PMF_MAX_FDS 4096u
/* Descriptor numbers must be below this (and below RLIMIT_NOFILE). */
#define PMF_FD_LIMIT 65536

/* What a descriptor is, and what a resume does with it. */
enum pmf_fd_class {
	/* a regular file opened O_RDONLY: reopened by path; the bytes
	 * [0, offset) must hash to sha256, else the image is refused */
	PMF_FD_READ = 1,
	/* a regular file opened O_WRONLY or O_RDWR (with or without
	 * O_APPEND): its bytes [0, size) are in a FILEDATA section and
	 * the file is recreated with them (replacing whatever is at path) */
	PMF_FD_WRITE = 2,
	/* a directory: reopened by path with the same flags, offset set */
	PMF_FD_DIR = 3,
	/* /dev/null, /dev/zero, /dev/full, /dev/random, /dev/urandom:
	 * reopened by path; must be the same character device (rdev) */
	PMF_FD_DEV = 4,
	/* 0, 1 or 2 that was a terminal, pipe or socket the program did
	 * not inherit: the resuming process's own descriptor is kept */
	PMF_FD_STDIO = 5,
	/* open when the process started, before any constructor (the
	 * caller's: a shell's fd 10, make's jobserver, redirected stdout):
	 * the resuming process's own descriptor of that number is kept;
	 * it must be open.  A regular file open O_RDONLY that the program
	 * had read (`< input`, offset > 0) has offset and sha256 as a READ
	 * record: the resuming process's descriptor must be a readable
	 * regular file with the same bytes [0, offset), and is moved to
	 * offset */
	PMF_FD_INHERITED = 6,
	/* an O_PATH descriptor of a file or directory: reopened O_PATH */
	PMF_FD_OPATH = 7,
};

/* Open flags a record may carry (F_GETFL's answer): the access mode,
 * O_APPEND, O_NONBLOCK, O_DSYNC, O_ASYNC, O_DIRECT, O_LARGEFILE,
 * O_DIRECTORY, O_NOFOLLOW, O_NOATIME, O_CLOEXEC, __O_SYNC, O_PATH. */
#define PMF_OFLAGS_KNOWN 017776003u

struct pmf_fd {
	int32_t fd;         /*   0 descriptor number, 0 <= fd < 65536,
			     *     strictly ascending within the section */
	uint32_t class;     /*   4 enum pmf_fd_class */
	uint32_t oflags;    /*   8 F_GETFL (PMF_OFLAGS_KNOWN bits only) */
	uint32_t fdflags;   /*  12 F_GETFD: 0 or FD_CLOEXEC (1) */
	uint64_t offset;    /*  16 logical offset (READ, WRITE, an INHERITED
			     *     read file: < 2^62; DIR: the position
			     *     cookie, <= INT64_MAX; otherwise 0) */
	uint64_t dev;       /*  24 st_dev (recorded, not compared) */
	uint64_t ino;       /*  32 st_ino (recorded, not compared) */
	uint64_t rdev;      /*  40 st_rdev (DEV: compared at resume) */
	uint64_t size;      /*  48 st_size at capture (WRITE: = data_len) */
	int64_t mtime_ns;   /*  56 st_mtime in ns (recorded, not compared) */
	uint32_t mode;      /*  64 st_mode (type and permission bits) */
	uint32_t path_len;  /*  68 bytes of the path, NUL excluded */
	uint32_t path_off;  /*  72 offset of the path in the strings,
			     *     string[path_off + path_len] == 0 */
	uint32_t link;      /*  76 0, or 1 + index of an earlier READ/WRITE
			     *     record of the same file (dev, inode): this
			     *     one is opened again on the file that record
			     *     prepared; no hash, no data of its own */
	uint64_t data_len;  /*  80 WRITE without link: bytes in its FILEDATA
			     *     section; 0 otherwise */
	uint8_t sha256[32]; /*  88 READ without link, INHERITED with an
			     *     offset: SHA-256 of the file's bytes
			     *     [0, offset); zero otherwise */
	uint64_t reserved;  /* 120 zero */
};                          /* 128 */

struct pmf_fds {
	uint32_t nfds;        /*  0 records, <= PMF_MAX_FDS */
	uint32_t rec_size;    /*  4 sizeof(struct pmf_fd) = 128 */
	uint32_t umask;       /*  8 <= 0777 */
	uint32_t cwd_len;     /* 12 bytes of the working directory, NUL
			       *    excluded; an absolute path */
	uint32_t cwd_off;     /* 16 its offset in the strings */
	uint32_t reserved0;   /* 20 zero */
	uint64_t strings_off; /* 24 = 64 + 128 * nfds (from the section's
			       *    start) */
	uint64_t strings_len; /* 32 section length - strings_off */
	uint64_t reserved[3]; /* 40 zero */
};                            /* 64 */

/* ---- PMF_SEC_FILEDATA ---------------------------------------------------- */

struct pmf_filedata {
	int32_t fd;           /*  0 the WRITE record's descriptor number */
	uint32_t reserved0;   /*  4 zero */
	uint64_t len;         /*  8 = that record's data_len; the section is
			       *    32 + len bytes */
	uint64_t reserved[2]; /* 16 zero */
};                            /* 32, then the bytes */

_Static_assert(sizeof(struct pmf_sigaction) == 32, "pmf_sigaction");
_Static_assert(sizeof(struct pmf_signals) == 64 + 32 * PMF_NSIG, "pmf_signals");
_Static_assert(__builtin_offsetof(struct pmf_signals, act) == 64, "act");
_Static_assert(sizeof(struct pmf_fd) == 128, "pmf_fd");
_Static_assert(__builtin_offsetof(struct pmf_fd, sha256) == 88, "sha256");
_Static_assert(sizeof(struct pmf_fds) == 64, "pmf_fds");
_Static_assert(sizeof(struct pmf_filedata) == 32, "pmf_filedata");
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	       "the format is little-endian; add byte swapping first");

#endif /* PM_IMAGE_FORMAT_H */
