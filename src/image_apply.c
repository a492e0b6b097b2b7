/*
 * image_apply.c - the restorer: the part of a resume after the point of
 * no return (image_apply.h).
 *
 * It runs while the memory of libc, of the loader and of pmalloc itself
 * is being replaced, so: raw `syscall` instructions only, no call that
 * leaves this file but pm__ctx_resume (hidden, assembly), no global, no
 * TLS, no stack protector, copies with `rep movsb` (a C loop could become
 * a call to memcpy), and only the staging area (the plan, the stack
 * bytes, its private stack) and the image file as inputs.  A failing
 * step ends the process: one line on fd 2, exit status 127.  Never a
 * half-replaced process that runs on.
 */
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include "image_apply.h"
#include "image_kstate.h"

#define RESTORER RESTORER_NO_SSP

#define PM__STR2(x) #x
#define PM__STR(x) PM__STR2(x)
#define PM__PLAN_STACK_HI 4304 /* (the ops are pointed to) */
_Static_assert(offsetof(struct pm__plan, stack_hi) == PM__PLAN_STACK_HI,
	       "the trampoline's offset of stack_hi");

static inline long sys6(long n, long a, long b, long c, long d, long e, long f)
{
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	long ret;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8),
			   "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}

__attribute__((noreturn)) static RESTORER void die(int step, long err)
{
	char m[80];
	const char *head = "pmalloc: resume failed at step ";
	int n = 0;
	for (const char *s = head; *s; s++)
		m[n++] = *s;
	char d[24];
	int k = 0;
	unsigned long v = (unsigned long)step;
	do
		d[k++] = (char)('0' + v % 10);
	while ((v /= 10));
	while (k)
		m[n++] = d[--k];
	const char *mid = ": errno ";
	for (const char *s = mid; *s; s++)
		m[n++] = *s;
	v = (unsigned long)(err < 0 ? -err : err);
	do
		d[k++] = (char)('0' + v % 10);
	while ((v /= 10));
	while (k)
		m[n++] = d[--k];
	m[n++] = '\n';
	sys6(SYS_write, 2, (long)m, n, 0, 0, 0);
	for (;;)
		sys6(SYS_exit_group, 127, 0, 0, 0, 0, 0);
}

static RESTORER void run_op(const struct pm__plan *p, const struct pm__op *o,
			    int step)
{
	long r;
	switch (o->what) {
	case PM__OP_UNMAP:
		r = sys6(SYS_munmap, (long)o->addr, (long)o->len, 0, 0, 0, 0);
		break;
	case PM__OP_ANON:
		r = sys6(SYS_mmap, (long)o->addr, (long)o->len, o->prot,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE |
				 MAP_NORESERVE,
			 -1, 0);
		if (r == (long)o->addr)
			r = 0;
		else if (r >= 0)
			r = -17; /* EEXIST from an old kernel's hint */
		break;
	case PM__OP_FILE:
		/* over the anonymous pages just made: MAP_FIXED */
		r = sys6(SYS_mmap, (long)o->addr, (long)o->len, o->prot,
			 MAP_PRIVATE | MAP_FIXED, p->fd, (long)o->off);
		if (r == (long)o->addr)
			r = 0;
		break;
	case PM__OP_READ: {
		uint64_t done = 0;
		r = 0;
		while (done < o->len) {
			r = sys6(SYS_pread64, p->fd, (long)(o->addr + done),
				 (long)(o->len - done), (long)(o->off + done),
				 0, 0);
			if (r == -4) /* EINTR */
				continue;
			if (r <= 0) {
				r = r ? r : -5; /* EIO at an early end */
				break;
			}
			done += (uint64_t)r;
			r = 0;
		}
		break;
	}
	case PM__OP_MAPFILE:
		r = sys6(SYS_mmap, (long)o->addr, (long)o->len, o->prot,
			 o->flags | MAP_FIXED_NOREPLACE, o->fd, (long)o->off);
		if (r == (long)o->addr)
			r = 0;
		else if (r >= 0)
			r = -17;
		break;
	case PM__OP_MOVE:
		r = sys6(SYS_mremap, (long)o->off, (long)o->len, (long)o->len,
			 MREMAP_MAYMOVE | MREMAP_FIXED, (long)o->addr, 0);
		if (r == (long)o->addr)
			r = 0;
		else if (r >= 0)
			r = -22;
		break;
	case PM__OP_CLOSE:
		r = sys6(SYS_close, o->fd, 0, 0, 0, 0, 0);
		break;
	case PM__OP_PROTECT:
		r = sys6(SYS_mprotect, (long)o->addr, (long)o->len, o->prot, 0,
			 0, 0);
		break;
	default:
		r = -22;
	}
	if (r < 0)
		die(step, r);
}

__attribute__((noreturn, used, visibility("hidden"))) RESTORER void
pm__image_apply_body(struct pm__plan *p);
__attribute__((noreturn, used, visibility("hidden"))) RESTORER void
pm__image_apply_body(struct pm__plan *p)
{
	uint64_t i;
	for (i = 0; i < p->nops; i++)
		run_op(p, &p->ops[i], (int)i + 1);
	/* the stack: [stack_addr, top); [stack] grows down to it on fault */
	void *dst = (void *)(uintptr_t)p->stack_addr;
	const void *src = p->stack;
	uint64_t len = p->stack_len;
	__asm__ volatile("rep movsb"
			 : "+D"(dst), "+S"(src), "+c"(len)
			 :
			 : "memory");
	/* facts of this process in the resumed memory: the descriptors it
	 * was started with, its thread id */
	dst = p->inh_addr;
	src = p->inh_bytes;
	len = p->inh_len;
	__asm__ volatile("rep movsb"
			 : "+D"(dst), "+S"(src), "+c"(len)
			 :
			 : "memory");
	if (p->tid_addr)
		*(volatile int32_t *)(uintptr_t)p->tid_addr =
			(int32_t)sys6(SYS_gettid, 0, 0, 0, 0, 0, 0);
	/* descriptors, handlers, cwd, umask: after the memory (the plan
	 * is in staging), before the jump */
	int ks_step = 0;
	long kr = pm__ks_apply(p->ks, &ks_step);
	if (kr < 0)
		die(1000 + ks_step, kr);
	if (p->rseq_len) {
		long r = sys6(SYS_rseq, (long)p->rseq_addr, p->rseq_len, 0,
			      p->rseq_sig, 0, 0);
		if (r < 0)
			die((int)p->nops + 1, r);
	}
	p->staging_var[0] = p->staging;
	p->staging_var[1] = p->staging_len;
	sys6(SYS_close, p->fd, 0, 0, 0, 0, 0);
	pm__ctx_resume(&p->ctx);
}

/*
 * pm__image_apply(plan), plan in rdi: block every signal (a handler must
 * not run while memory is replaced), move rsp to plan->stack_hi, clear
 * rbp (no frame chain into the stack being replaced) and run the body.
 */
__asm__("	.text\n"
	"	.globl pm__image_apply\n"
	"	.hidden pm__image_apply\n"
	"	.type pm__image_apply,@function\n"
	"	.p2align 4\n"
	"pm__image_apply:\n"
	"	movq %rdi, %r12\n"
	"	pushq $-1\n"
	"	movl $14, %eax\n" /* rt_sigprocmask(SIG_SETMASK, &all, 0, 8) */
	"	movl $2, %edi\n"
	"	movq %rsp, %rsi\n"
	"	xorl %edx, %edx\n"
	"	movl $8, %r10d\n"
	"	syscall\n"
	"	movq " PM__STR(PM__PLAN_STACK_HI) "(%r12), %rsp\n"
	"	xorl %ebp, %ebp\n"
	"	movq %r12, %rdi\n"
	"	call pm__image_apply_body\n"
	"	ud2\n"
	"	.size pm__image_apply, .-pm__image_apply\n");
