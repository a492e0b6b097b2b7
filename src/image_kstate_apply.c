/*
 * image_kstate_apply.c - the kernel state of a process image put in
 * place by the restorer, after the point of no return (image_kstate.h).
 *
 * Runs while libc's and pmalloc's own memory are being replaced, so:
 * raw inline syscalls only (no libc call, no PLT: every function here is
 * static or hidden), no globals, no TLS, no stack protector (the canary
 * in %fs:0x28 changes under it), no memcpy a loop could become.  It reads
 * only the plan, which pm__ks_prepare filled and checked, and one
 * constant string in libpmalloc's .rodata (a mapping that is kept).
 */
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include "image_ctx.h"
#include "image_kstate.h"
#include "image_kstate_plan.h"


/* x86-64 system call numbers */
#define NR_close 3
#define NR_lseek 8
#define NR_rt_sigaction 13
#define NR_sigaltstack 131
#define NR_fchdir 81
#define NR_umask 95
#define NR_getdents64 217
#define NR_openat 257
#define NR_renameat 264
#define NR_dup3 292
#define NR_setitimer 38
#define NR_getpid 39
#define NR_gettid 186
#define NR_tgkill 234

static inline long sc1(long n, long a)
{
	long r;
	__asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a) : "rcx", "r11", "memory");
	return r;
}

static inline long sc2(long n, long a, long b)
{
	long r;
	__asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b)
			 : "rcx", "r11", "memory");
	return r;
}

static inline long sc3(long n, long a, long b, long c)
{
	long r;
	__asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c)
			 : "rcx", "r11", "memory");
	return r;
}

static inline long sc4(long n, long a, long b, long c, long d)
{
	long r;
	register long r10 __asm__("r10") = d;
	__asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10)
			 : "rcx", "r11", "memory");
	return r;
}

struct ksigaction_ {
	uint64_t handler, flags, restorer, mask;
};

struct kstack_ {
	uint64_t sp;
	int32_t flags;
	int32_t pad;
	uint64_t size;
};

struct kdirent_ {
	uint64_t ino;
	int64_t off;
	unsigned short reclen;
	unsigned char type;
	char name[];
};

/* Close every descriptor that is not in plan->keep (the walk's own one
 * last).  0 or -errno. */
static RESTORER_NO_SSP int close_others(const struct pm__ks_plan *pl)
{
	/* .rodata is libpmalloc's read-only mapping, kept like its code */
	static const char path[] = "/proc/self/fd";
	long dfd = sc4(NR_openat, AT_FDCWD, (long)path,
		       O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	if (dfd < 0)
		return (int)dfd;
	char buf[2048] __attribute__((aligned(8)));
	long rc = 0;
	for (;;) {
		long n = sc3(NR_getdents64, dfd, (long)buf, sizeof buf);
		if (n <= 0) {
			rc = n;
			break;
		}
		for (long at = 0; at < n;) {
			const struct kdirent_ *d = (const struct kdirent_ *)(buf + at);
			at += d->reclen;
			long fd = 0;
			const char *c = d->name;
			if (*c < '0' || *c > '9')
				continue;
			for (; *c >= '0' && *c <= '9' && fd < (1L << 31); c++)
				fd = fd * 10 + (*c - '0');
			if (fd == dfd || (fd < PMF_FD_LIMIT && pm__ks_bit(pl->keep, (int)fd)))
				continue;
			sc1(NR_close, fd);
		}
	}
	sc1(NR_close, dfd);
	return (int)rc;
}

RESTORER_NO_SSP int pm__ks_apply(const struct pm__ks_plan *pl, int *step)
{
	long rc;
	*step = PM__KS_STEP_RENAME;
	for (uint32_t i = 0; i < pl->nent; i++) {
		const struct pm__ks_ent *e = &pl->ent[i];
		if (e->dirfd >= 0 &&
		    (rc = sc4(NR_renameat, e->dirfd, (long)e->tmp, e->dirfd,
			      (long)e->base)) < 0)
			return (int)rc;
	}
	*step = PM__KS_STEP_DUP;
	for (uint32_t i = 0; i < pl->nent; i++) {
		const struct pm__ks_ent *e = &pl->ent[i];
		if (e->prep >= 0 &&
		    (rc = sc3(NR_dup3, e->prep, e->target, e->cloexec)) < 0)
			return (int)rc;
	}
	*step = PM__KS_STEP_SEEK;
	for (uint32_t i = 0; i < pl->nent; i++) {
		const struct pm__ks_ent *e = &pl->ent[i];
		if (e->prep < 0 && e->seek >= 0 &&
		    (rc = sc3(NR_lseek, e->target, e->seek, 0 /* SEEK_SET */)) < 0)
			return (int)rc;
	}
	*step = PM__KS_STEP_CHDIR;
	if ((rc = sc1(NR_fchdir, pl->cwdfd)) < 0)
		return (int)rc;
	*step = PM__KS_STEP_CLOSE;
	if ((rc = close_others(pl)) < 0)
		return (int)rc;
	*step = PM__KS_STEP_SIGACTION;
	for (int sig = 1; sig <= PMF_NSIG; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		const struct pmf_sigaction *a = &pl->sig.act[sig - 1];
		struct ksigaction_ k;
		k.handler = a->handler;
		k.flags = a->flags;
		k.restorer = a->restorer;
		k.mask = a->mask;
		if ((rc = sc4(NR_rt_sigaction, sig, (long)&k, 0, 8)) < 0)
			return (int)rc;
	}
	*step = PM__KS_STEP_ALTSTACK;
	struct kstack_ ss;
	ss.pad = 0;
	if (pl->sig.ss_flags & SS_DISABLE) {
		ss.sp = 0;
		ss.size = 0;
		ss.flags = SS_DISABLE;
	} else {
		ss.sp = pl->sig.ss_sp;
		ss.size = pl->sig.ss_size;
		ss.flags = (int32_t)(pl->sig.ss_flags & PMF_SS_AUTODISARM);
	}
	if ((rc = sc2(NR_sigaltstack, (long)&ss, 0)) < 0)
		return (int)rc;
	/* the image's alarm, counting from here (signals are blocked until
	 * the context is resumed); none disarms one this process inherited */
	*step = PM__KS_STEP_ALARM;
	struct {
		long isec, iusec, vsec, vusec;
	} itv;
	itv.isec = (long)(pl->sig.alarm_every_us / 1000000u);
	itv.iusec = (long)(pl->sig.alarm_every_us % 1000000u);
	itv.vsec = (long)(pl->sig.alarm_us / 1000000u);
	itv.vusec = (long)(pl->sig.alarm_us % 1000000u);
	if ((rc = sc3(NR_setitimer, 0 /* ITIMER_REAL */, (long)&itv, 0)) < 0)
		return (int)rc;
	/* the signals pending at the image: pending here too (every signal
	 * is blocked until the context's mask is put back) */
	*step = PM__KS_STEP_PENDING;
	if (pl->sig.pending) {
		long pid = sc1(NR_getpid, 0), tid = sc1(NR_gettid, 0);
		for (int sig = 1; sig <= PMF_NSIG; sig++)
			if ((pl->sig.pending >> (sig - 1) & 1) &&
			    (rc = sc3(NR_tgkill, pid, tid, sig)) < 0)
				return (int)rc;
	}
	*step = PM__KS_STEP_UMASK;
	sc1(NR_umask, pl->umask);
	*step = 0;
	return 0;
}
