/*
 * image_facts.c - the facts of this process an image records and a resume
 * compares (struct pmf_proc, format.h): the stack top, the break, the
 * vDSO and a hash of its bytes, auxv values, CPUID, the offset of the C
 * library's cached thread id, the command line as it was at start-up
 * and the executable.  No malloc, no stdio; the strings go into the
 * image's STRINGS (the caller's vmalist).
 */
#include "image.h"
#include "sha256.h"

#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/auxv.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>

typedef unsigned long long ull;

/* ---- the process facts ------------------------------------------------- */

static int read_small(const char *path, char *buf, size_t cap, size_t *n)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	size_t have = 0;
	for (;;) {
		ssize_t r = read(fd, buf + have, cap - have);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		have += (size_t)r;
		if (have == cap)
			break;
	}
	close(fd);
	*n = have;
	return have == cap ? -E2BIG : 0;
}

/* The command line as the process started, copied before main() (a
 * program may rewrite its argv strings: setproctitle, or cutting a path
 * in place, and /proc/self/cmdline shows the live bytes). */
#define ARGS_CAP (64u << 10)
static char start_args[ARGS_CAP];
static size_t start_args_len;
static int start_args_set, start_args_long;

void pm__note_cmdline(int argc, char **argv)
{
	size_t at = 0;
	/* only where an image can be resumed (randomisation off); other
	 * processes do not touch the buffer's page */
	if (!pm__os_aslr_off())
		return;
	start_args_set = 1;
	for (int i = 0; i < argc && argv && argv[i]; i++) {
		size_t l = strlen(argv[i]) + 1;
		if (l > ARGS_CAP - at) {
			start_args_long = 1;
			return;
		}
		memcpy(start_args + at, argv[i], l);
		at += l;
	}
	start_args_len = at;
}

int pm__cmdline(char *buf, size_t cap, size_t *n)
{
	if (!start_args_set) {
		int rc = read_small("/proc/self/cmdline", buf, cap, n);
		return rc ? rc : *n == 0 || buf[*n - 1] ? -EIO : 0;
	}
	if (start_args_long || !start_args_len || start_args_len > cap)
		return -E2BIG;
	memcpy(buf, start_args, start_args_len);
	*n = start_args_len;
	return 0;
}

/* The offset from the thread pointer of glibc's cached thread id.  glibc
 * registers that very word with set_tid_address at start-up, and the
 * kernel tells where it is (PR_GET_TID_ADDRESS, with
 * CONFIG_CHECKPOINT_RESTORE): taken when it lies in the thread
 * descriptor's first 2 KiB and holds gettid().  Else the one 4-byte word
 * there equal to gettid() (0 if none or several).  The scan alone fails
 * when the id is a small number that other words hold too: pid 1 in a
 * container, or by chance. */
#define PR_GET_TID_ADDRESS_ 40
static uint32_t find_tid(uint64_t fsbase)
{
	int32_t tid = (int32_t)syscall(SYS_gettid);
	uint32_t found = 0, n = 0;
	uint64_t at = 0;
	if (syscall(SYS_prctl, PR_GET_TID_ADDRESS_, &at, 0, 0, 0) == 0 &&
	    at >= fsbase + 64 && at < fsbase + 2048 && !(at & 3)) {
		int32_t v;
		if (!pm__copy_checked(&v, (const void *)(uintptr_t)at, 4) &&
		    v == tid)
			return (uint32_t)(at - fsbase);
	}
	/* skip the header words (self pointers, dtv): start at 64 */
	for (uint32_t off = 64; off < 2048; off += 4) {
		int32_t v;
		if (pm__copy_checked(&v, (const void *)(uintptr_t)(fsbase + off),
				     4))
			break;
		if (v == tid)
			found = off, n++;
	}
	return n == 1 ? found : 0;
}

int pm__image_facts(struct pmf_proc *p, struct pm__vmalist *l,
		     const struct pm__ctx *ctx)
{
	const struct pmf_vma *stack = NULL, *vdso = NULL, *heap = NULL;
	for (uint32_t i = 0; i < l->n; i++) {
		const struct pmf_vma *v = &l->v[i];
		const char *nm = v->name == PMF_NO_NAME ? "" : l->str + v->name;
		if (v->vclass == PMF_VMA_STACK)
			stack = v;
		else if (!strcmp(nm, "[vdso]"))
			vdso = v;
		else if (v->flags & PMF_VMAF_HEAP)
			heap = v;
	}
	if (!stack)
		return pm__err(-ENOTSUP, "image: no [stack] mapping");
	if (ctx->rsp < stack->start || ctx->rsp >= stack->end)
		return pm__err(-ENOTSUP, "image: the stack pointer %llx is "
					 "not in [stack] (a thread stack or "
					 "an alternate signal stack)",
			       (ull)ctx->rsp);
	p->stack_top = stack->end;
	p->brk_end = (uint64_t)syscall(SYS_brk, 0);
	p->brk_start = heap ? heap->start : p->brk_end;
	if (vdso) {
		p->vdso = vdso->start;
		p->vdso_len = vdso->end - vdso->start;
		pm__sha256((const void *)(uintptr_t)vdso->start,
			   (size_t)p->vdso_len, p->vdso_sha);
	}
	p->at_phdr = getauxval(AT_PHDR);
	p->at_base = getauxval(AT_BASE);
	p->at_entry = getauxval(AT_ENTRY);
	p->hwcap = getauxval(AT_HWCAP);
	p->hwcap2 = getauxval(AT_HWCAP2);
	p->fsbase = ctx->fsbase;
	struct rlimit rl;
	p->rlim_stack = getrlimit(RLIMIT_STACK, &rl) == 0 ? rl.rlim_cur : 0;
	unsigned a, b, c, d;
	if (__get_cpuid(1, &a, &b, &c, &d)) {
		p->cpuid[0] = a;
		p->cpuid[1] = b & 0x00ffffffu; /* bits 24-31: this CPU's APIC id */
		p->cpuid[2] = c;
		p->cpuid[3] = d;
	}
	if (__get_cpuid_max(0, NULL) >= 7) {
		__cpuid_count(7, 0, a, b, c, d);
		p->cpuid[4] = a;
		p->cpuid[5] = b;
		p->cpuid[6] = c;
		p->cpuid[7] = d;
	}
	p->tid_off = find_tid(ctx->fsbase);
	if (!p->tid_off)
		return pm__err(-ENOTSUP, "image: cannot find the thread id "
					 "cached in the thread descriptor");
	p->personality = (uint32_t)personality(0xffffffff);
	/* the command line and the executable, into the strings */
	char *s = l->str + l->slen;
	size_t n = 0, room = l->scap - l->slen;
	int rc = pm__cmdline(s, room, &n);
	if (rc)
		return pm__err(rc, "image: cannot read the command line");
	p->argv = l->slen;
	p->argv_len = (uint32_t)n;
	for (size_t k = 0; k < n; k++)
		p->argc += s[k] == '\0';
	l->slen += (uint32_t)n;
	char exe[4096];
	ssize_t el = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (el <= 0)
		return pm__err(-errno, "image: cannot read /proc/self/exe");
	p->exe = pm__image_str(l, exe, (size_t)el);
	if (p->exe == PMF_NO_NAME)
		return pm__err(-E2BIG, "image: strings too long");
	return 0;
}

