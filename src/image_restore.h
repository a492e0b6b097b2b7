/*
 * image_restore.h - the restorer: code that runs on a stack of its own
 * while the process's memory is replaced, then resumes a saved context
 * (docs/IMAGE.md, "Resume").
 *
 * This first step replaces the stack only: it puts a saved copy of
 * [ctx->rsp, ctx->rsp + len) back and resumes ctx.  Everything is checked
 * before anything is touched; after the switch there is no way back, and
 * the code uses no libc and no memory outside its arguments and its own
 * stack.
 */
#ifndef PM_IMAGE_RESTORE_H
#define PM_IMAGE_RESTORE_H

#include <stddef.h>
#include "image_ctx.h"

/* Smallest private stack the restorer accepts. */
#define PM__RESTORER_STACK_MIN 16384u

/*
 * Resume ctx with the stack bytes `bytes` (len of them, len a multiple of
 * 8) copied to [ctx->rsp, ctx->rsp + len), running meanwhile on the
 * private stack [stack_lo, stack_lo + stack_len) (a private anonymous
 * mapping the caller made).  All signals are blocked from the switch
 * until the resume sets ctx's mask.
 *
 * Returns only on refusal, before anything changed: -EINVAL with a
 * reason in *why when ctx fails pm__ctx_check, when the private stack is
 * too small or misaligned, or when the context, the bytes or the private
 * stack overlap the destination (or the caller's own stack frame does
 * not: the caller must be running on the stack that is replaced or on
 * another one, never on the private one).
 */
int pm__image_stack_resume(const struct pm__ctx *ctx, const void *bytes, size_t len,
			   void *stack_lo, size_t stack_len, const char **why);

#endif /* PM_IMAGE_RESTORE_H */
