/*
 * u_image_ctx.c - pm__ctx_save / pm__ctx_resume inside one process
 * (src/image_ctx.c), and the checks that refuse a context before a
 * resume could fault (pm__ctx_check, pm__image_stack_resume).
 *
 * The register test is a small assembly function (probe): it loads known
 * values into the callee-saved registers, every xmm (ymm with AVX)
 * register and MXCSR, saves, then destroys them all, sets the FS base to
 * 0 and resumes; on the second return it stores what it finds.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <asm/prctl.h>
#include <cpuid.h>
#include "testlib.h"
#include "image_ctx.h"
#include "image_restore.h"

uint8_t probe_pat[512] __attribute__((aligned(64)));

/* int probe(struct pm__ctx *ctx, uint64_t out[72], int avx) */
int probe(struct pm__ctx *ctx, uint64_t *out, int avx);

__asm__(
	"	.text\n"
	"	.globl probe\n"
	"	.type probe,@function\n"
	"probe:\n"
	"	pushq %rbx\n	pushq %rbp\n	pushq %r12\n"
	"	pushq %r13\n	pushq %r14\n	pushq %r15\n"
	"	subq $24, %rsp\n"
	"	movq %rdi, 0(%rsp)\n"
	"	movq %rsi, 8(%rsp)\n"
	"	movl %edx, 16(%rsp)\n"
	"	movabsq $0x1111111111111111, %rbx\n"
	"	movabsq $0x2222222222222222, %rbp\n"
	"	movabsq $0x3333333333333333, %r12\n"
	"	movabsq $0x4444444444444444, %r13\n"
	"	movabsq $0x5555555555555555, %r14\n"
	"	movabsq $0x6666666666666666, %r15\n"
	"	leaq probe_pat(%rip), %rax\n"
	"	cmpl $0, 16(%rsp)\n"
	"	je 1f\n"
	"	vmovdqu 0(%rax), %ymm0\n	vmovdqu 32(%rax), %ymm1\n"
	"	vmovdqu 64(%rax), %ymm2\n	vmovdqu 96(%rax), %ymm3\n"
	"	vmovdqu 128(%rax), %ymm4\n	vmovdqu 160(%rax), %ymm5\n"
	"	vmovdqu 192(%rax), %ymm6\n	vmovdqu 224(%rax), %ymm7\n"
	"	vmovdqu 256(%rax), %ymm8\n	vmovdqu 288(%rax), %ymm9\n"
	"	vmovdqu 320(%rax), %ymm10\n	vmovdqu 352(%rax), %ymm11\n"
	"	vmovdqu 384(%rax), %ymm12\n	vmovdqu 416(%rax), %ymm13\n"
	"	vmovdqu 448(%rax), %ymm14\n	vmovdqu 480(%rax), %ymm15\n"
	"	jmp 2f\n"
	"1:	movdqu 0(%rax), %xmm0\n	movdqu 32(%rax), %xmm1\n"
	"	movdqu 64(%rax), %xmm2\n	movdqu 96(%rax), %xmm3\n"
	"	movdqu 128(%rax), %xmm4\n	movdqu 160(%rax), %xmm5\n"
	"	movdqu 192(%rax), %xmm6\n	movdqu 224(%rax), %xmm7\n"
	"	movdqu 256(%rax), %xmm8\n	movdqu 288(%rax), %xmm9\n"
	"	movdqu 320(%rax), %xmm10\n	movdqu 352(%rax), %xmm11\n"
	"	movdqu 384(%rax), %xmm12\n	movdqu 416(%rax), %xmm13\n"
	"	movdqu 448(%rax), %xmm14\n	movdqu 480(%rax), %xmm15\n"
	"2:	movl $0x7f80, 20(%rsp)\n" /* round toward zero */
	"	ldmxcsr 20(%rsp)\n"
	"	movq 0(%rsp), %rdi\n"
	"	call pm__ctx_save\n"
	"	cmpl $1, %eax\n"
	"	je 4f\n"
	"	testl %eax, %eax\n"
	"	jne 5f\n"
	/* first return: destroy everything, then resume */
	"	movabsq $0xdeaddeaddeaddead, %rbx\n"
	"	movq %rbx, %rbp\n	movq %rbx, %r12\n	movq %rbx, %r13\n"
	"	movq %rbx, %r14\n	movq %rbx, %r15\n"
	"	cmpl $0, 16(%rsp)\n"
	"	je 3f\n"
	"	vzeroall\n"
	"	jmp 6f\n"
	"3:	pxor %xmm0, %xmm0\n	pxor %xmm1, %xmm1\n	pxor %xmm2, %xmm2\n"
	"	pxor %xmm3, %xmm3\n	pxor %xmm4, %xmm4\n	pxor %xmm5, %xmm5\n"
	"	pxor %xmm6, %xmm6\n	pxor %xmm7, %xmm7\n	pxor %xmm8, %xmm8\n"
	"	pxor %xmm9, %xmm9\n	pxor %xmm10, %xmm10\n	pxor %xmm11, %xmm11\n"
	"	pxor %xmm12, %xmm12\n	pxor %xmm13, %xmm13\n	pxor %xmm14, %xmm14\n"
	"	pxor %xmm15, %xmm15\n"
	"6:	movl $0x1f80, 20(%rsp)\n"
	"	ldmxcsr 20(%rsp)\n"
	"	movl $158, %eax\n" /* arch_prctl(ARCH_SET_FS, 0) */
	"	movl $0x1002, %edi\n"
	"	xorl %esi, %esi\n"
	"	syscall\n"
	"	movq 0(%rsp), %rdi\n"
	"	call pm__ctx_resume\n"
	"	ud2\n"
	/* second return: report what came back */
	"4:	movq 8(%rsp), %rcx\n"
	"	movq %rbx, 0(%rcx)\n	movq %rbp, 8(%rcx)\n	movq %r12, 16(%rcx)\n"
	"	movq %r13, 24(%rcx)\n	movq %r14, 32(%rcx)\n	movq %r15, 40(%rcx)\n"
	"	stmxcsr 48(%rcx)\n"
	"	cmpl $0, 16(%rsp)\n"
	"	je 7f\n"
	"	vmovdqu %ymm0, 64(%rcx)\n	vmovdqu %ymm1, 96(%rcx)\n"
	"	vmovdqu %ymm2, 128(%rcx)\n	vmovdqu %ymm3, 160(%rcx)\n"
	"	vmovdqu %ymm4, 192(%rcx)\n	vmovdqu %ymm5, 224(%rcx)\n"
	"	vmovdqu %ymm6, 256(%rcx)\n	vmovdqu %ymm7, 288(%rcx)\n"
	"	vmovdqu %ymm8, 320(%rcx)\n	vmovdqu %ymm9, 352(%rcx)\n"
	"	vmovdqu %ymm10, 384(%rcx)\n	vmovdqu %ymm11, 416(%rcx)\n"
	"	vmovdqu %ymm12, 448(%rcx)\n	vmovdqu %ymm13, 480(%rcx)\n"
	"	vmovdqu %ymm14, 512(%rcx)\n	vmovdqu %ymm15, 544(%rcx)\n"
	"	vzeroupper\n"
	"	jmp 8f\n"
	"7:	movdqu %xmm0, 64(%rcx)\n	movdqu %xmm1, 96(%rcx)\n"
	"	movdqu %xmm2, 128(%rcx)\n	movdqu %xmm3, 160(%rcx)\n"
	"	movdqu %xmm4, 192(%rcx)\n	movdqu %xmm5, 224(%rcx)\n"
	"	movdqu %xmm6, 256(%rcx)\n	movdqu %xmm7, 288(%rcx)\n"
	"	movdqu %xmm8, 320(%rcx)\n	movdqu %xmm9, 352(%rcx)\n"
	"	movdqu %xmm10, 384(%rcx)\n	movdqu %xmm11, 416(%rcx)\n"
	"	movdqu %xmm12, 448(%rcx)\n	movdqu %xmm13, 480(%rcx)\n"
	"	movdqu %xmm14, 512(%rcx)\n	movdqu %xmm15, 544(%rcx)\n"
	"8:	movl $0x1f80, 20(%rsp)\n"
	"	ldmxcsr 20(%rsp)\n"
	"	movl $1, %eax\n"
	"5:	addq $24, %rsp\n"
	"	popq %r15\n	popq %r14\n	popq %r13\n"
	"	popq %r12\n	popq %rbp\n	popq %rbx\n"
	"	ret\n"
	"	.size probe, .-probe\n");

static struct pm__ctx ctx, bad;
static __thread int tls_probe = 12345;

static uint64_t fs_base(void)
{
	uint64_t v = 0;
	syscall(SYS_arch_prctl, ARCH_GET_FS, &v);
	return v;
}

static int have_avx(void)
{
	unsigned a, b, c, d;
	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 28)) || !(c & (1u << 27)))
		return 0;
	uint32_t lo, hi;
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return (lo & 6) == 6;
}

static void test_registers(int avx)
{
	uint64_t out[72];
	memset(out, 0, sizeof out);
	for (int i = 0; i < 512; i++)
		probe_pat[i] = (uint8_t)(i * 7 + 3 + avx);
	uint64_t fs = fs_base();
	CHECK_EQ(pm__ctx_init(&ctx), 0);
	int rc = probe(&ctx, out, avx);
	CHECK_MSG(rc == 1, "probe returned %d", rc);
	CHECK_MSG(fs_base() == fs, "fs base 0x%lx, was 0x%lx", (unsigned long)fs_base(),
		  (unsigned long)fs);
	CHECK_MSG(tls_probe == 12345, "tls %d", tls_probe);
	static const uint64_t want[6] = {0x1111111111111111ull, 0x2222222222222222ull,
					 0x3333333333333333ull, 0x4444444444444444ull,
					 0x5555555555555555ull, 0x6666666666666666ull};
	for (int i = 0; i < 6; i++)
		CHECK_MSG(out[i] == want[i], "gpr %d: 0x%llx, want 0x%llx", i,
			  (unsigned long long)out[i], (unsigned long long)want[i]);
	CHECK_MSG((out[6] & 0xffc0) == 0x7f80, "mxcsr 0x%llx, want 0x7f80",
		  (unsigned long long)(out[6] & 0xffff));
	const uint8_t *v = (const uint8_t *)(out + 8);
	for (int r = 0; r < 16; r++) {
		int n = avx ? 32 : 16, bad_bytes = 0;
		for (int j = 0; j < n; j++)
			bad_bytes += v[r * 32 + j] != probe_pat[r * 32 + j];
		CHECK_MSG(bad_bytes == 0, "%smm%d: %d bytes differ", avx ? "y" : "x", r,
			  bad_bytes);
	}
}

/* The setjmp-like use from C: the signal mask comes back, the function
 * returns twice, a resume from a deeper frame works. */
static __attribute__((noinline)) void jump_back(const struct pm__ctx *c)
{
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	pm__ctx_resume(c);
}

static void test_c_use(void)
{
	volatile int passes = 0;
	sigset_t usr1, old, cur;
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigprocmask(SIG_BLOCK, &usr1, &old);
	CHECK_EQ(pm__ctx_init(&ctx), 0);
	int rc = pm__ctx_save(&ctx);
	passes++;
	if (rc == 0)
		jump_back(&ctx);
	CHECK_MSG(rc == 1 && passes == 2, "rc %d passes %d", rc, passes);
	sigprocmask(SIG_BLOCK, NULL, &cur);
	CHECK_MSG(sigismember(&cur, SIGUSR1) == 1, "SIGUSR1 not blocked after resume");
	sigprocmask(SIG_SETMASK, &old, NULL);
	const char *why = NULL;
	CHECK_MSG(pm__ctx_check(&ctx, &why) == 0, "check: %s", why);
}

/* Each corruption is refused with a reason. */
static void refused(void (*spoil)(struct pm__ctx *), const char *what)
{
	const char *why = NULL;
	bad = ctx;
	spoil(&bad);
	int rc = pm__ctx_check(&bad, &why);
	CHECK_MSG(rc == -EINVAL && why && *why, "%s: rc %d", what, rc);
	printf("refused %s: %s\n", what, why ? why : "(null)");
}

static void sp_mxcsr(struct pm__ctx *c) { c->mxcsr |= 1u << 20; }
static void sp_mxcsr_area(struct pm__ctx *c) { c->xsave[26] = 0xff; }
static void sp_rsp(struct pm__ctx *c) { c->rsp += 8; }
static void sp_rsp_kernel(struct pm__ctx *c) { c->rsp = 0xffff880000000000ull; }
static void sp_rip(struct pm__ctx *c) { c->rip = 0; }
static void sp_fs(struct pm__ctx *c) { c->fsbase = 0x800000000000ull; }
static void sp_kind(struct pm__ctx *c) { c->xkind = 3; }
static void sp_reserved(struct pm__ctx *c) { c->reserved[1] = 1; }
static void sp_mask(struct pm__ctx *c) { c->xmask ^= 4; }
static void sp_hdr_bv(struct pm__ctx *c) { c->xsave[512 + 7] = 0x80; }
static void sp_hdr_comp(struct pm__ctx *c) { c->xsave[512 + 15] = 0x80; }

static void test_refusals(void)
{
	refused(sp_mxcsr, "MXCSR reserved bit");
	refused(sp_mxcsr_area, "MXCSR in the XSAVE area");
	refused(sp_rsp, "misaligned rsp");
	refused(sp_rsp_kernel, "kernel rsp");
	refused(sp_rip, "null rip");
	refused(sp_fs, "non-canonical fs");
	refused(sp_kind, "unknown kind");
	refused(sp_reserved, "reserved field");
	if (ctx.xkind == PM__CTX_XSAVE) {
		refused(sp_mask, "other mask");
		refused(sp_hdr_bv, "XSTATE_BV outside the mask");
		refused(sp_hdr_comp, "compacted XSAVE header");
	}

	/* the restorer refuses overlaps and small stacks before touching
	 * anything: the destination is this function's own stack */
	size_t sl = 65536;
	char *stk = mmap(NULL, sl, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK_NE(stk, MAP_FAILED);
	char *bytes = stk; /* any readable memory */
	const char *why = NULL;
	bad = ctx;
	int rc = pm__image_stack_resume(&bad, bytes, 0, stk, sl, &why);
	CHECK_MSG(rc == -EINVAL, "len 0: rc %d", rc);
	rc = pm__image_stack_resume(&bad, bytes, 64, stk, 4096, &why);
	CHECK_MSG(rc == -EINVAL, "small stack: rc %d (%s)", rc, why);
	bad.rsp = ((uintptr_t)stk + 4096) & ~(uintptr_t)15;
	rc = pm__image_stack_resume(&bad, bytes + 32768, 64, stk, sl, &why);
	CHECK_MSG(rc == -EINVAL, "private stack overlaps: rc %d (%s)", rc, why);
	printf("refused restorer overlap: %s\n", why);
	bad.rsp = ((uintptr_t)&bad) & ~(uintptr_t)15;
	rc = pm__image_stack_resume(&bad, stk, 64, stk + 4096, sl - 4096, &why);
	CHECK_MSG(rc == -EINVAL, "context overlaps: rc %d (%s)", rc, why);
	munmap(stk, sl);
}

int main(void)
{
	test_registers(0);
	if (have_avx())
		test_registers(1);
	else
		printf("no AVX: ymm part skipped\n");
	test_c_use();
	test_refusals();
	printf("xkind %u xsize %u xmask 0x%llx mxcsr_mask 0x%x\n", ctx.xkind, ctx.xsize,
	       (unsigned long long)ctx.xmask, ctx.mxcsr_mask);
	return test_end();
}
