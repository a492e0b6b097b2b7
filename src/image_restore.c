/*
 * image_restore.c - the restorer's stack switch and stack copy
 * (image_restore.h).
 *
 * The picture, for a stack being put back:
 *
 *   high  +---------------------------+ stack top (same in both runs)
 *         | argv, envp, auxv, strings |
 *         | saved frames ...          |  <- copied back from the image
 *         | frame that called save    |
 *         +---------------------------+ ctx->rsp
 *         | (this run's frames, now   |
 *         |  dead: we left them)      |
 *         +---------------------------+
 *
 *         +---------------------------+ stack_lo + stack_len
 *         | restorer frames           |  private mapping: rsp lives here
 *         +---------------------------+ stack_lo    from the switch on
 *
 * Only memory that is not being replaced is used after the switch: the
 * context and the bytes (the caller's mapping of the image), the private
 * stack, and this file's code.  The copy is `rep movsb` (a C loop may be
 * compiled into a call to memcpy, which lives in libc).
 */
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include "image_ctx.h"
#include "image_restore.h"


/* Called by the switch below, on the private stack. */
__attribute__((noreturn, used, visibility("hidden"))) RESTORER_NO_SSP void
pm__image_on_private_stack(const struct pm__ctx *ctx, const void *bytes, size_t len);

/*
 * pm__image_switch(ctx, bytes, len, stack_hi): rdi, rsi, rdx, rcx.
 * Blocks every signal (rt_sigprocmask, SIG_SETMASK, all ones: a handler
 * must not run on either stack while one is being rewritten), moves rsp
 * to stack_hi (16-aligned by the caller), clears rbp (no frame chain
 * into the stack being replaced) and calls the C body with the first
 * three arguments.  The body never returns.
 */
__asm__(
	"	.text\n"
	"	.globl pm__image_switch\n"
	"	.hidden pm__image_switch\n"
	"	.type pm__image_switch,@function\n"
	"	.p2align 4\n"
	"pm__image_switch:\n"
	"	movq %rdi, %r8\n"
	"	movq %rsi, %r9\n"
	"	movq %rdx, %r12\n"
	"	movq %rcx, %r13\n"
	"	pushq $-1\n"
	"	movl $14, %eax\n"
	"	movl $2, %edi\n"
	"	movq %rsp, %rsi\n"
	"	xorl %edx, %edx\n"
	"	movl $8, %r10d\n"
	"	syscall\n"
	"	movq %r13, %rsp\n"
	"	xorl %ebp, %ebp\n"
	"	movq %r8, %rdi\n"
	"	movq %r9, %rsi\n"
	"	movq %r12, %rdx\n"
	"	call pm__image_on_private_stack\n"
	"	ud2\n"
	"	.size pm__image_switch, .-pm__image_switch\n");

__attribute__((noreturn, visibility("hidden"))) void
pm__image_switch(const struct pm__ctx *ctx, const void *bytes, size_t len, void *stack_hi);

RESTORER_NO_SSP void pm__image_on_private_stack(const struct pm__ctx *ctx,
						 const void *bytes, size_t len)
{
	void *dst = (void *)(uintptr_t)ctx->rsp;
	__asm__ volatile("rep movsb" : "+D"(dst), "+S"(bytes), "+c"(len) : : "memory");
	pm__ctx_resume(ctx);
}

/* [a, a + alen) and [b, b + blen) share a byte. */
static int overlaps(uintptr_t a, size_t alen, uintptr_t b, size_t blen)
{
	return a < b + blen && b < a + alen;
}

int pm__image_stack_resume(const struct pm__ctx *ctx, const void *bytes, size_t len,
			   void *stack_lo, size_t stack_len, const char **why)
{
	const char *dummy;
	if (!why)
		why = &dummy;
	int rc = pm__ctx_check(ctx, why);
	if (rc)
		return rc;
	uintptr_t dst = (uintptr_t)ctx->rsp, lo = (uintptr_t)stack_lo;
	uintptr_t here = (uintptr_t)__builtin_frame_address(0);
	if (len == 0 || (len & 7) || dst + len < dst) {
		*why = "stack image length is not a positive multiple of 8";
		return -EINVAL;
	}
	if (stack_len < PM__RESTORER_STACK_MIN || (lo & 15) || (stack_len & 15) ||
	    lo + stack_len < lo) {
		*why = "private stack is too small or not 16-aligned";
		return -EINVAL;
	}
	if (overlaps(dst, len, (uintptr_t)ctx, sizeof *ctx)) {
		*why = "the context lies in the stack range being replaced";
		return -EINVAL;
	}
	if (overlaps(dst, len, (uintptr_t)bytes, len)) {
		*why = "the stack image lies in the stack range being replaced";
		return -EINVAL;
	}
	if (overlaps(dst, len, lo, stack_len)) {
		*why = "the private stack lies in the stack range being replaced";
		return -EINVAL;
	}
	if (overlaps(lo, stack_len, (uintptr_t)ctx, sizeof *ctx) ||
	    overlaps(lo, stack_len, (uintptr_t)bytes, len) ||
	    overlaps(lo, stack_len, here, 1)) {
		*why = "the private stack overlaps the context, the image or this frame";
		return -EINVAL;
	}
	pm__image_switch(ctx, bytes, len, (void *)(lo + stack_len));
}
