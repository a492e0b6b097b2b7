/*
 * image_ctx.c - save and resume one thread's CPU state (image_ctx.h).
 *
 * pm__ctx_save and pm__ctx_resume are written in assembly (file-scope asm
 * below): a C function cannot capture its own caller's stack pointer and
 * return address reliably, nor switch the stack under itself.  The C part
 * only asks the CPU what to save (pm__ctx_init) and checks that a saved
 * context can be resumed here (pm__ctx_check), so that the resume itself
 * cannot fault.
 *
 * No libc: no errno, no stdio, no allocation, no static state (the facts
 * come from CPUID each time: an image is rare, and nothing here may
 * depend on data a restore replaces).
 */
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <cpuid.h>
#include "image_ctx.h"

#define CTX_SYS_RT_SIGPROCMASK "14"
#define CTX_SYS_ARCH_PRCTL "158"
#define CTX_ARCH_SET_FS "0x1002"
#define CTX_ARCH_GET_FS "0x1003"

/* Highest user address + 1 on x86-64 with 4-level paging (the kernel's
 * TASK_SIZE_MAX; with 5-level paging user space may reach higher, which
 * this check would refuse rather than allow something wrong). */
#define CTX_USER_END 0x00007ffffffff000ull

/* Offsets into struct pm__ctx, checked against the structure: the asm
 * below uses the numbers. */
_Static_assert(offsetof(struct pm__ctx, rsp) == 48, "rsp");
_Static_assert(offsetof(struct pm__ctx, rip) == 56, "rip");
_Static_assert(offsetof(struct pm__ctx, fsbase) == 64, "fsbase");
_Static_assert(offsetof(struct pm__ctx, sigmask) == 72, "sigmask");
_Static_assert(offsetof(struct pm__ctx, mxcsr) == 80, "mxcsr");
_Static_assert(offsetof(struct pm__ctx, fcw) == 84, "fcw");
_Static_assert(offsetof(struct pm__ctx, xkind) == 86, "xkind");
_Static_assert(offsetof(struct pm__ctx, xmask) == 96, "xmask");

/*
 * pm__ctx_save(ctx), ctx in rdi.
 *   callee-saved GPRs; rsp as the caller will see it after the return
 *   (rsp + 8) and the return address; MXCSR and FCW; the extended state
 *   with ctx->xkind / ctx->xmask (set by pm__ctx_init); then two syscalls
 *   (they clobber rax, rcx, r11 only; ctx is kept in r8): ARCH_GET_FS
 *   into ctx->fsbase, rt_sigprocmask(SIG_BLOCK, NULL, &ctx->sigmask, 8).
 *   Returns 0, or the syscall's negative errno.
 *
 * pm__ctx_resume(ctx), ctx in rdi.  Never returns.
 *   XRSTOR/FXRSTOR, MXCSR, FCW, ARCH_SET_FS, callee-saved GPRs, rsp,
 *   then rt_sigprocmask(SIG_SETMASK, &ctx->sigmask, NULL, 8) and a jump to
 *   ctx->rip with eax = 1.  Every access to ctx before the last jump goes
 *   through r8, which no syscall touches.
 */
__asm__(
	"	.text\n"
	"	.globl pm__ctx_save\n"
	"	.hidden pm__ctx_save\n"
	"	.type pm__ctx_save,@function\n"
	"	.p2align 4\n"
	"pm__ctx_save:\n"
	"	movq %rbx, 0(%rdi)\n"
	"	movq %rbp, 8(%rdi)\n"
	"	movq %r12, 16(%rdi)\n"
	"	movq %r13, 24(%rdi)\n"
	"	movq %r14, 32(%rdi)\n"
	"	movq %r15, 40(%rdi)\n"
	"	leaq 8(%rsp), %rax\n"
	"	movq %rax, 48(%rdi)\n"
	"	movq (%rsp), %rax\n"
	"	movq %rax, 56(%rdi)\n"
	"	stmxcsr 80(%rdi)\n"
	"	fnstcw 84(%rdi)\n"
	"	movq %rdi, %r8\n"
	"	movzwl 86(%r8), %ecx\n"
	"	cmpl $2, %ecx\n"
	"	jne 1f\n"
	"	movl 96(%r8), %eax\n"
	"	movl 100(%r8), %edx\n"
	"	xsave64 128(%r8)\n"
	"	jmp 2f\n"
	"1:	cmpl $1, %ecx\n"
	"	jne 2f\n"
	"	fxsave64 128(%r8)\n"
	"2:	movl $" CTX_SYS_ARCH_PRCTL ", %eax\n"
	"	movl $" CTX_ARCH_GET_FS ", %edi\n"
	"	leaq 64(%r8), %rsi\n"
	"	syscall\n"
	"	testq %rax, %rax\n"
	"	jne 3f\n"
	"	movl $" CTX_SYS_RT_SIGPROCMASK ", %eax\n"
	"	xorl %edi, %edi\n"
	"	xorl %esi, %esi\n"
	"	leaq 72(%r8), %rdx\n"
	"	movl $8, %r10d\n"
	"	syscall\n"
	"3:	ret\n"
	"	.size pm__ctx_save, .-pm__ctx_save\n"
	"\n"
	"	.globl pm__ctx_resume\n"
	"	.hidden pm__ctx_resume\n"
	"	.type pm__ctx_resume,@function\n"
	"	.p2align 4\n"
	"pm__ctx_resume:\n"
	"	movq %rdi, %r8\n"
	"	movzwl 86(%r8), %ecx\n"
	"	cmpl $2, %ecx\n"
	"	jne 1f\n"
	"	movl 96(%r8), %eax\n"
	"	movl 100(%r8), %edx\n"
	"	xrstor64 128(%r8)\n"
	"	jmp 2f\n"
	"1:	cmpl $1, %ecx\n"
	"	jne 2f\n"
	"	fxrstor64 128(%r8)\n"
	"2:	ldmxcsr 80(%r8)\n"
	"	fldcw 84(%r8)\n"
	"	movl $" CTX_SYS_ARCH_PRCTL ", %eax\n"
	"	movl $" CTX_ARCH_SET_FS ", %edi\n"
	"	movq 64(%r8), %rsi\n"
	"	syscall\n"
	"	movq 0(%r8), %rbx\n"
	"	movq 8(%r8), %rbp\n"
	"	movq 16(%r8), %r12\n"
	"	movq 24(%r8), %r13\n"
	"	movq 32(%r8), %r14\n"
	"	movq 40(%r8), %r15\n"
	"	movq 48(%r8), %rsp\n"
	"	movl $" CTX_SYS_RT_SIGPROCMASK ", %eax\n"
	"	movl $2, %edi\n"
	"	leaq 72(%r8), %rsi\n"
	"	xorl %edx, %edx\n"
	"	movl $8, %r10d\n"
	"	syscall\n"
	"	movl $1, %eax\n"
	"	jmpq *56(%r8)\n"
	"	.size pm__ctx_resume, .-pm__ctx_resume\n");

/* What this CPU and kernel let us save: kind, mask, bytes. */
struct ctx_cpu {
	uint32_t kind;
	uint32_t size;
	uint64_t mask;
};

static uint64_t ctx_xgetbv0(void)
{
	uint32_t lo, hi;
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return (uint64_t)hi << 32 | lo;
}

static int ctx_cpu(struct ctx_cpu *c)
{
	unsigned a, b, cx, d;
	c->kind = PM__CTX_FXSAVE;
	c->size = 512;
	c->mask = 0;
	if (!__get_cpuid(1, &a, &b, &cx, &d))
		return 0;
	/* XSAVE (bit 26) and the kernel's OSXSAVE (bit 27) */
	if (!(cx & (1u << 26)) || !(cx & (1u << 27)) || __get_cpuid_max(0, NULL) < 0xd)
		return 0;
	uint64_t mask = ctx_xgetbv0() & PM__CTX_XMASK_WANTED;
	uint32_t size = 512 + 64; /* legacy area + XSAVE header */
	for (unsigned i = 2; i < 64; i++) {
		if (!(mask & (1ull << i)))
			continue;
		__cpuid_count(0xd, i, a, b, cx, d);
		/* eax: component size, ebx: its offset in the standard layout */
		if (a == 0 || (uint64_t)a + b > PM__CTX_XSAVE_MAX)
			return -ENOTSUP;
		if (a + b > size)
			size = a + b;
	}
	c->kind = PM__CTX_XSAVE;
	c->size = size;
	c->mask = mask;
	return 0;
}

/* Valid MXCSR bits: FXSAVE reports them at byte 28 of its area (0 means
 * the default 0xffbf, "denormals are zero" unsupported). */
static uint32_t ctx_mxcsr_mask(void)
{
	static const uint32_t fallback = 0xffbf;
	uint8_t area[512] __attribute__((aligned(64)));
	for (size_t i = 0; i < sizeof area; i++)
		((volatile uint8_t *)area)[i] = 0;
	__asm__ volatile("fxsave64 %0" : "=m"(area));
	uint32_t m = (uint32_t)area[28] | (uint32_t)area[29] << 8 |
		     (uint32_t)area[30] << 16 | (uint32_t)area[31] << 24;
	return m ? m : fallback;
}

int pm__ctx_init(struct pm__ctx *ctx)
{
	struct ctx_cpu c;
	unsigned char *p = (unsigned char *)ctx;
	for (size_t i = 0; i < sizeof *ctx; i++)
		((volatile unsigned char *)p)[i] = 0;
	int rc = ctx_cpu(&c);
	if (rc)
		return rc;
	ctx->xkind = (uint16_t)c.kind;
	ctx->xsize = c.size;
	ctx->xmask = c.mask;
	ctx->mxcsr_mask = ctx_mxcsr_mask();
	return 0;
}

static uint64_t ctx_le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint32_t ctx_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

int pm__ctx_check(const struct pm__ctx *ctx, const char **why)
{
	struct ctx_cpu c;
	const char *dummy;
	if (!why)
		why = &dummy;
	if (ctx_cpu(&c)) {
		*why = "this CPU's extended state does not fit";
		return -EINVAL;
	}
	if (ctx->xkind != PM__CTX_FXSAVE && ctx->xkind != PM__CTX_XSAVE) {
		*why = "unknown extended state kind";
		return -EINVAL;
	}
	if (ctx->xkind != c.kind) {
		*why = ctx->xkind == PM__CTX_XSAVE ? "saved with XSAVE, this CPU has only FXSAVE"
						   : "saved with FXSAVE, this CPU uses XSAVE";
		return -EINVAL;
	}
	if (ctx->xkind == PM__CTX_XSAVE) {
		/* the same components, so the same layout and size (a
		 * component this CPU lacks would fault; one it has that the
		 * image lacks would be left as the restorer had it) */
		if (ctx->xmask != c.mask || ctx->xsize != c.size) {
			*why = "extended state components differ from this CPU's";
			return -EINVAL;
		}
		/* XSAVE header at 512: XSTATE_BV must lie inside the mask,
		 * XCOMP_BV zero (standard form), the rest reserved zero:
		 * XRSTOR faults otherwise */
		const uint8_t *h = ctx->xsave + 512;
		if (ctx_le64(h) & ~ctx->xmask) {
			*why = "XSAVE header names components that were not saved";
			return -EINVAL;
		}
		for (int i = 8; i < 64; i++)
			if (h[i]) {
				*why = "XSAVE header reserved bytes are not zero";
				return -EINVAL;
			}
	}
	uint32_t valid = ctx_mxcsr_mask();
	if ((ctx->mxcsr & ~valid) || (ctx_le32(ctx->xsave + 24) & ~valid)) {
		*why = "MXCSR has reserved bits set";
		return -EINVAL;
	}
	if (ctx->rsp < 4096 || ctx->rsp >= CTX_USER_END || (ctx->rsp & 15)) {
		*why = "stack pointer is not an aligned user address";
		return -EINVAL;
	}
	if (ctx->rip < 4096 || ctx->rip >= CTX_USER_END) {
		*why = "return address is not a user address";
		return -EINVAL;
	}
	if (ctx->fsbase >= CTX_USER_END) {
		*why = "FS base is not a user address";
		return -EINVAL;
	}
	if (ctx->reserved[0] || ctx->reserved[1] || ctx->reserved[2]) {
		*why = "reserved fields are not zero";
		return -EINVAL;
	}
	*why = "";
	return 0;
}
