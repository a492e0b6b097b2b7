/*
 * image_stack FILE DEPTH - the restorer's stack step, end to end
 * (tests/image_ctx.sh, docs/IMAGE.md).
 *
 * Recurses to DEPTH with live locals (a volatile array, a double and a
 * 2-double SSE vector carried down and combined on the way up), and at the
 * deepest point saves its CPU state (pm__ctx_save) and the stack bytes
 * [rsp, top of [stack]) to FILE, then unwinds, printing one line per
 * level and the result on stdout.  Markers go to stderr.
 *
 * Run again with the same command line and environment while FILE
 * exists, it reads the file, checks that its stack top, environment and
 * arguments sit where the saving run's did (same command, ASLR off), and
 * hands the context and the bytes to pm__image_stack_resume: on a private
 * stack the saved bytes go back over this run's stack and the saved
 * context resumes, so pm__ctx_save returns 1 at the deepest level of the
 * first run's recursion and the unwinding prints what the first run
 * printed.  Refused, it says "not resumed: REASON" and runs normally.
 *
 * FILE "-": no save, no resume (the uninterrupted reference).  A run
 * that finds FILE and cannot resume it does not save over it.
 * State lives on the stack and in registers only: the heap and globals
 * of the resuming run are its own (the whole image comes later).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "image_ctx.h"
#include "image_restore.h"

extern char **environ;

typedef double v2d __attribute__((vector_size(16)));

struct run {
	const char *file;
	int n;
	int save; /* 0 after a refused resume: the image stays as it is */
	char **argv;
};

/* The file: this header, the context (64-aligned), the stack bytes. */
struct img_head {
	char magic[8];          /* "PMSTACK\n" */
	uint64_t top;           /* end of [stack] */
	uint64_t rsp;           /* = ctx.rsp: the bytes go to [rsp, top) */
	uint64_t len;           /* top - rsp */
	uint64_t env;           /* environ as the saving run had it */
	uint64_t argv;          /* main's argv */
	uint64_t reserved[2];
};
#define IMG_MAGIC "PMSTACK\n"
#define IMG_CTX_OFF 64
#define IMG_STACK_OFF (IMG_CTX_OFF + sizeof(struct pm__ctx))
_Static_assert(sizeof(struct img_head) == IMG_CTX_OFF, "head");

static uint64_t stack_top(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	uint64_t top = 0;
	if (!f)
		return 0;
	while (fgets(line, sizeof line, f))
		if (strstr(line, "[stack]")) {
			unsigned long lo, hi;
			if (sscanf(line, "%lx-%lx", &lo, &hi) == 2)
				top = hi;
		}
	fclose(f);
	return top;
}

static int write_all(int fd, const void *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p = (const char *)p + w;
		n -= (size_t)w;
	}
	return 0;
}

/* Runs below ctx->rsp: the bytes it copies are the saving frames as they
 * are now (the callers' slots changed since the save are the setjmp rule's
 * "indeterminate" locals; save_point keeps none it needs). */
static __attribute__((noinline)) int write_image(const struct run *r, const struct pm__ctx *ctx)
{
	struct img_head h;
	memset(&h, 0, sizeof h);
	memcpy(h.magic, IMG_MAGIC, 8);
	h.top = stack_top();
	h.rsp = ctx->rsp;
	h.len = h.top - h.rsp;
	h.env = (uint64_t)(uintptr_t)environ;
	h.argv = (uint64_t)(uintptr_t)r->argv;
	if (!h.top || h.rsp >= h.top) {
		fprintf(stderr, "image_stack: no [stack] above rsp\n");
		return -1;
	}
	char tmp[4096];
	snprintf(tmp, sizeof tmp, "%s.tmp", r->file);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write_all(fd, &h, sizeof h) || write_all(fd, ctx, sizeof *ctx) ||
	    write_all(fd, (const void *)(uintptr_t)h.rsp, h.len) || close(fd) ||
	    rename(tmp, r->file)) {
		perror("image_stack: writing the image");
		return -1;
	}
	return 0;
}

static __attribute__((noinline)) void save_point(const struct run *r, int depth)
{
	struct pm__ctx ctx;
	if (pm__ctx_init(&ctx)) {
		fprintf(stderr, "image_stack: pm__ctx_init failed\n");
		exit(2);
	}
	int rc = pm__ctx_save(&ctx);
	if (rc == 0) {
		if (write_image(r, &ctx))
			exit(2);
		fprintf(stderr, "image_stack: saved at depth %d\n", depth);
	} else if (rc == 1) {
		fprintf(stderr, "image_stack: resumed at depth %d\n", depth);
	} else {
		fprintf(stderr, "image_stack: pm__ctx_save: %d\n", rc);
		exit(2);
	}
}

static __attribute__((noinline)) uint64_t rec(const struct run *r, int depth, uint64_t h,
					      double d, v2d v)
{
	volatile uint64_t loc[4];
	for (int i = 0; i < 4; i++)
		loc[i] = h * (uint64_t)(i + 3) + (uint64_t)depth;
	double dd = d * 0.5 + depth;
	v2d vv = v * (v2d){0.5, 0.25} + dd;
	uint64_t child;
	if (depth == r->n) {
		if (r->save)
			save_point(r, depth);
		child = 0x9e3779b97f4a7c15ull;
	} else {
		child = rec(r, depth + 1, (h ^ (uint64_t)depth) * 1099511628211ull, dd, vv);
	}
	uint64_t out = child ^ loc[0] ^ (loc[1] << 1) ^ (loc[2] >> 3) ^ loc[3];
	out = out * 31 + (uint64_t)(dd * 1000) + (uint64_t)((vv[0] + vv[1]) * 1000);
	printf("depth %d: %016llx %.17g %.17g %.17g\n", depth, (unsigned long long)out, dd,
	       vv[0], vv[1]);
	return out;
}

/* Returns only if the image is refused (with the reason printed). */
static void resume_from(const struct run *r)
{
	int fd = open(r->file, O_RDONLY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st)) {
		fprintf(stderr, "image_stack: not resumed: %s: %s\n", r->file, strerror(errno));
		return;
	}
	if ((uint64_t)st.st_size < IMG_STACK_OFF + 8) {
		fprintf(stderr, "image_stack: not resumed: file too short\n");
		close(fd);
		return;
	}
	void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED) {
		fprintf(stderr, "image_stack: not resumed: mmap: %s\n", strerror(errno));
		return;
	}
	const struct img_head *h = map;
	const struct pm__ctx *ctx = (const struct pm__ctx *)((const char *)map + IMG_CTX_OFF);
	const char *bytes = (const char *)map + IMG_STACK_OFF;
	uint64_t top = stack_top();
	if (memcmp(h->magic, IMG_MAGIC, 8) || h->len != (uint64_t)st.st_size - IMG_STACK_OFF ||
	    h->rsp != ctx->rsp || h->rsp + h->len != h->top) {
		fprintf(stderr, "image_stack: not resumed: not a consistent stack image\n");
		return;
	}
	if (h->top != top) {
		fprintf(stderr,
			"image_stack: not resumed: stack top 0x%llx, the image's 0x%llx"
			" (ASLR on?)\n",
			(unsigned long long)top, (unsigned long long)h->top);
		return;
	}
	if (h->env != (uint64_t)(uintptr_t)environ || h->argv != (uint64_t)(uintptr_t)r->argv) {
		fprintf(stderr,
			"image_stack: not resumed: environment or arguments moved"
			" (environ 0x%llx, the image's 0x%llx)\n",
			(unsigned long long)(uintptr_t)environ, (unsigned long long)h->env);
		return;
	}
	size_t sl = 65536;
	void *stk = mmap(NULL, sl, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (stk == MAP_FAILED) {
		fprintf(stderr, "image_stack: not resumed: no private stack\n");
		return;
	}
	fprintf(stderr, "image_stack: resuming %llu stack bytes at 0x%llx\n",
		(unsigned long long)h->len, (unsigned long long)h->rsp);
	fflush(stdout);
	const char *why = "";
	int rc = pm__image_stack_resume(ctx, bytes, h->len, stk, sl, &why);
	fprintf(stderr, "image_stack: not resumed: %s (%d)\n", why, rc);
	munmap(stk, sl);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: image_stack FILE|- DEPTH\n");
		return 2;
	}
	struct run r = {argv[1], atoi(argv[2]), strcmp(argv[1], "-") != 0, argv};
	if (r.n < 0 || r.n > 100000)
		return 2;
	if (r.save && access(r.file, F_OK) == 0) {
		resume_from(&r);
		r.save = 0;
	}
	uint64_t res = rec(&r, 0, 14695981039346656037ull, 0.5, (v2d){1, 2});
	printf("result %016llx\n", (unsigned long long)res);
	return 0;
}
