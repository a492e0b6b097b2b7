/*
 * image_apply.h - the plan a resume carries out after its point of no
 * return (image_resume.c builds it, image_apply.c runs it).
 *
 * The plan and everything it points to live in the staging area: one
 * private mapping at an address that is free both in this process and in
 * the image's layout, so that nothing the restorer reads is replaced
 * under it.  The restorer runs on the private stack at the staging
 * area's end, calls no libc (raw syscalls only), reads no global and no
 * TLS, and either jumps into the image's pm_image() or ends the process
 * with one line on fd 2 and exit status 127.
 */
#ifndef PM_IMAGE_APPLY_H
#define PM_IMAGE_APPLY_H

#include <stdint.h>
#include "image_ctx.h"

struct pm__ks_plan;

enum pm__op_what {
	PM__OP_UNMAP = 1,   /* munmap(addr, len) */
	PM__OP_ANON = 2,    /* fresh private anonymous pages, prot */
	PM__OP_FILE = 3,    /* the image file's bytes at off, mapped private */
	PM__OP_READ = 4,    /* the image file's bytes at off, read in (code:
			     * a noexec mount must not stop it) */
	PM__OP_PROTECT = 5, /* mprotect(addr, len, prot) */
	PM__OP_MAPFILE = 6, /* a named file's bytes at off (fd, flags: shared
			     * or private), as the image had it mapped */
	PM__OP_CLOSE = 7,   /* close(fd) */
	PM__OP_MOVE = 8,    /* staged bytes at off moved to addr (mremap):
			     * a keyed resume installs exactly the bytes
			     * whose MAC it checked */
};

struct pm__op {
	uint32_t what, prot; /* prot: PROT_* */
	uint64_t addr, len, off;
	int32_t fd, flags;   /* MAPFILE, CLOSE */
};

struct pm__plan {
	struct pm__ctx ctx;      /* first: 64-aligned for XRSTOR */
	struct pm__op *ops;
	uint64_t nops;
	int fd;                  /* the image file */
	int pad;
	const unsigned char *stack; /* bytes for [stack_addr, +stack_len) */
	uint64_t stack_addr, stack_len;
	uint64_t tid_addr;       /* glibc's cached tid: this process's goes there */
	uint64_t *staging_var;   /* pm__image_staging in the resumed memory */
	uint64_t staging, staging_len;
	uint64_t stack_hi;       /* top of the restorer's private stack */
	/* The thread's rseq area (in the TLS block), unregistered before
	 * the point of no return and registered again at the end: the
	 * kernel writes it on any return to user space, and while the
	 * block's pages are being replaced a write there would kill the
	 * process.  rseq_len 0: none was registered. */
	uint64_t rseq_addr;
	uint32_t rseq_len, rseq_sig;
	/* descriptors, signal dispositions, cwd, umask (image_kstate.h) */
	const struct pm__ks_plan *ks;
	/* this process's table of inherited descriptors, copied over the
	 * image's (same address: libpmalloc is where it was) */
	void *inh_addr;
	const void *inh_bytes;
	uint64_t inh_len;
};

/* Block every signal, move to the private stack and run the plan. */
__attribute__((noreturn)) void pm__image_apply(struct pm__plan *p);

/* image_write.c: the staging area's address and length, written by the
 * restorer into the resumed memory; pm_image unmaps it after the return. */
extern uint64_t pm__image_staging[2];

#endif /* PM_IMAGE_APPLY_H */
