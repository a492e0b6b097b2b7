/*
 * image_ctx.h - the CPU state of one thread, saved and resumed (process
 * images, docs/IMAGE.md).
 *
 * pm__ctx_save is setjmp-like: it returns 0 after saving, and 1 when a
 * later pm__ctx_resume of the same context (in this process, or in a new
 * one whose stack holds the same bytes) returns into it.  Beyond setjmp it
 * keeps the FS base (the thread pointer, so the TLS block), the whole
 * XSAVE area (x87, SSE, AVX, AVX-512 state; FXSAVE where the CPU or the
 * kernel has no XSAVE), MXCSR, the x87 control word and the signal mask.
 *
 * pm__ctx_resume uses no libc and no memory but the context itself: it
 * runs while libc's data and the stack are being replaced.  Its order:
 * extended state, MXCSR and control word, FS base, callee-saved registers,
 * the stack pointer, and last the signal mask (so a signal unblocked by it
 * is delivered on the resumed stack, as it would have been in the saved
 * process); then it jumps to the saved return address with 1 in eax.
 *
 * The structure is a fixed layout (it becomes a section of the image
 * file): 128 bytes of registers and facts, then the XSAVE area, 64-byte
 * aligned as XSAVE requires.
 */
#ifndef PM_IMAGE_CTX_H
#define PM_IMAGE_CTX_H

#include <stdint.h>

/* Code that runs while the process's memory is being replaced (the
 * restorers) must not touch the stack canary in the TLS block. */
#if defined(__has_attribute)
#if __has_attribute(no_stack_protector)
#define RESTORER_NO_SSP __attribute__((no_stack_protector))
#endif
#endif
#ifndef RESTORER_NO_SSP
#define RESTORER_NO_SSP
#endif

/* Bytes reserved for the XSAVE area.  The standard (non-compacted) layout
 * of every user component pmalloc saves (x87, SSE, AVX, AVX-512) ends at
 * 2688; AMX tile data (8 KiB) is never saved (see pm__ctx_init). */
#define PM__CTX_XSAVE_MAX 4096u

/* xkind: how the extended state was saved. */
#define PM__CTX_FXSAVE 1u /* FXSAVE64: x87 + SSE, 512 bytes */
#define PM__CTX_XSAVE 2u  /* XSAVE64 with the mask in xmask */

/* The XSAVE components pmalloc saves when the OS enabled them: x87 (0),
 * SSE (1), AVX (2), AVX-512 opmask (5), ZMM_Hi256 (6), Hi16_ZMM (7).
 * Left out: MPX (3, 4; gone from current CPUs and kernels), PKRU (9; the
 * protection keys belong to the address space the new process sets up),
 * AMX (17, 18; its 8 KiB tile data needs a permission request first). */
#define PM__CTX_XMASK_WANTED 0xe7ull

struct pm__ctx {
	uint64_t rbx, rbp, r12, r13, r14, r15; /*   0 callee-saved GPRs */
	uint64_t rsp;      /*  48 stack pointer after pm__ctx_save returns */
	uint64_t rip;      /*  56 pm__ctx_save's return address */
	uint64_t fsbase;   /*  64 thread pointer (ARCH_GET_FS) */
	uint64_t sigmask;  /*  72 blocked signals (kernel sigset, 64 bits) */
	uint32_t mxcsr;    /*  80 */
	uint16_t fcw;      /*  84 x87 control word */
	uint16_t xkind;    /*  86 PM__CTX_FXSAVE or PM__CTX_XSAVE */
	uint32_t xsize;    /*  88 bytes of xsave[] the CPU writes */
	uint32_t mxcsr_mask; /* 92 valid MXCSR bits on the saving CPU */
	uint64_t xmask;    /*  96 XSAVE requested-feature bitmap */
	uint64_t reserved[3]; /* 104 zero */
	uint8_t xsave[PM__CTX_XSAVE_MAX] __attribute__((aligned(64))); /* 128 */
} __attribute__((aligned(64)));

_Static_assert(sizeof(struct pm__ctx) == 128 + PM__CTX_XSAVE_MAX, "pm__ctx");
_Static_assert(__builtin_offsetof(struct pm__ctx, xsave) == 128, "xsave");

/* Fill in ctx's CPU facts (xkind, xsize, xmask, mxcsr_mask) for this CPU
 * and zero the rest.  Must precede pm__ctx_save.  Returns 0, or -ENOTSUP
 * if the extended state would not fit (never on current x86-64 CPUs). */
int pm__ctx_init(struct pm__ctx *ctx);

/* Save the calling thread's state into ctx (set up by pm__ctx_init).
 * Returns 0 after saving, 1 when resumed, or a negative errno if the
 * kernel refused to report the FS base or the signal mask. */
__attribute__((returns_twice)) int pm__ctx_save(struct pm__ctx *ctx);

/* Restore everything pm__ctx_save saved and return from that call with
 * 1.  ctx must have passed pm__ctx_check: a bad MXCSR or XSAVE header
 * faults, a bad FS base is ignored by the kernel.  ctx must not lie in
 * memory the resumed code overwrites before the jump (it is read up to
 * the last instruction).  Raw syscalls only. */
__attribute__((noreturn)) void pm__ctx_resume(const struct pm__ctx *ctx);

/* Can ctx be resumed on this CPU?  0, or -EINVAL with a one-line reason
 * in *why (a static string): another kind of extended state or a mask
 * this CPU lacks, a bad XSAVE header, reserved MXCSR bits, a stack
 * pointer or return address that is not a user address, an FS base the
 * kernel would refuse, reserved fields not zero. */
int pm__ctx_check(const struct pm__ctx *ctx, const char **why);

#endif /* PM_IMAGE_CTX_H */
