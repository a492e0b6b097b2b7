/* Misuse of the malloc family ends the process: each case runs in a child
 * whose stderr goes to a pipe; it must die of SIGABRT after writing exactly
 * one line, "pmalloc: ..." naming the call (free() or realloc()) and the
 * address in hex.  free(NULL) and realloc(NULL, n) are fine. */
#include <errno.h>
#include <strings.h>
#include <sys/mman.h>
#include "pmalloc.h"
#include "testlib.h"

struct misuse {
	const char *name;
	const char *call;            /* "free()" or "realloc()", or NULL: ok */
	void *(*run)(void);          /* returns the bad address */
};

static int err_fd = -1;          /* stderr pipe's write end, in the child */
static int addr_fd = -1;         /* the child tells the bad address here */
static void *volatile bad_addr;  /* what the case is about to misuse */

static void announce(void *p)
{
	bad_addr = p;
	uintptr_t u = (uintptr_t)p;
	if (write(addr_fd, &u, sizeof u) != (ssize_t)sizeof u)
		_exit(3);
}

static char static_array[256] __attribute__((aligned(16)));

static void *touch(void *p, size_t n)
{
	memset(p, 'A', n);
	test_use(p);
	return p;
}

static void *double_free_small(void)
{
	char *p = touch(malloc(40), 40);
	announce(p);
	free(p);
	free(p); /* still in the thread cache */
	return p;
}

static void *double_free_small_flushed(void)
{
	/* push the block out of the thread cache into the arena first */
	char *p = touch(malloc(40), 40);
	void *others[600];
	for (int i = 0; i < 600; i++)
		others[i] = malloc(40);
	announce(p);
	free(p);
	for (int i = 0; i < 600; i++)
		free(others[i]);
	void *more[600];
	for (int i = 0; i < 600; i++)
		more[i] = malloc(1000);
	for (int i = 0; i < 600; i++)
		free(more[i]);
	free(p);
	return p;
}

static void *double_free_large(void)
{
	char *p = touch(malloc(4000), 4000);
	void *guard = malloc(100);
	announce(p);
	free(p);
	free(p);
	free(guard);
	return p;
}

static void *double_free_huge(void)
{
	char *p = touch(malloc(3u << 20), 3u << 20);
	void *guard = malloc(100);
	announce(p);
	free(p);
	free(p);
	free(guard);
	return p;
}

static void *double_free_huge_at_top(void)
{
	/* nothing after it: the freed block goes back into top (and its
	 * pages to the OS) */
	char *p = touch(malloc(3u << 20), 3u << 20);
	announce(p);
	free(p);
	free(p);
	return p;
}

static void *free_middle(void)
{
	char *p = touch(malloc(256), 256);
	announce(p + 64);
	free(p + 64);
	return p + 64;
}

static void *free_middle_large(void)
{
	char *p = touch(malloc(100000), 100000);
	announce(p + 4096);
	free(p + 4096);
	return p + 4096;
}

static void *free_stack(void)
{
	char buf[64] __attribute__((aligned(16)));
	touch(buf, sizeof buf);
	announce(buf);
	free(buf);
	return bad_addr;
}

static void *free_static(void)
{
	announce(static_array);
	free(static_array);
	return static_array;
}

static void *free_mmap(void)
{
	void *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		_exit(3);
	char *q = (char *)p + 16;
	announce(q);
	free(q);
	return q;
}

static void *realloc_freed(void)
{
	char *p = touch(malloc(40), 40);
	announce(p);
	free(p);
	p = realloc(p, 80);
	test_use(p);
	return bad_addr;
}

static void *realloc_freed_same_size(void)
{
	/* the block fits as it is: realloc would hand back a block that is
	 * still in the thread cache */
	char *p = touch(malloc(40), 40);
	announce(p);
	free(p);
	p = realloc(p, 40);
	test_use(p);
	return bad_addr;
}

static void *realloc_freed_large(void)
{
	char *p = touch(malloc(5000), 5000);
	void *guard = malloc(100);
	announce(p);
	free(p);
	p = realloc(p, 8000);
	test_use(p);
	free(guard);
	return bad_addr;
}

static void *realloc_stack(void)
{
	char buf[64] __attribute__((aligned(16)));
	touch(buf, sizeof buf);
	announce(buf);
	void *p = realloc(buf, 100);
	test_use(p);
	return bad_addr;
}

static void *realloc_mmap(void)
{
	void *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		_exit(3);
	announce((char *)p + 32);
	void *q = realloc(bad_addr, 100);
	test_use(q);
	return bad_addr;
}

static void *fine_null(void)
{
	errno = 1234;
	free(NULL);
	if (errno != 1234)
		_exit(4);
	char *p = realloc(NULL, 100);
	if (!p)
		_exit(5);
	touch(p, 100);
	p = realloc(p, 5000);
	if (!p)
		_exit(6);
	free(p);
	if (pm_heap_check() != 0)
		_exit(7);
	return NULL;
}

/* Use-after-free writes into freed blocks that wait for reuse: the next
 * malloc that would follow the overwritten link must abort (not hand out
 * the address written). */
static void *uaf_tcache_next(void)
{
	char *p = touch(malloc(40), 40);
	free(p); /* into the thread cache */
	*(void **)p = static_array; /* the write after free */
	announce(static_array);
	test_use(malloc(40)); /* p itself */
	test_use(malloc(40)); /* would be static_array */
	return p;
}

static void *uaf_tcache_key(void)
{
	char *p = touch(malloc(56), 56);
	free(p);
	announce(p);
	memset(p + 8, 'A', 8); /* the link stays, the key is gone */
	test_use(malloc(56));
	return p;
}

static void *uaf_tcache_misaligned(void)
{
	char *q = touch(malloc(72), 72);
	char *p = touch(malloc(72), 72);
	free(p);
	*(void **)p = q + 8;
	announce(q + 8);
	test_use(malloc(72));
	test_use(malloc(72));
	return p;
}

/* A block on an arena's fast list: libc's own blocks (a FILE) come from
 * the transient arena, which has no thread caches, so a freed one goes
 * straight to the fast list; the next fopen takes it back. */
static int is_transient(const void *p)
{
	struct pm_heap_info hi;
	if (pm_heap_info(&hi) != 0)
		return 0;
	/* the transient arena sits at the end of the region */
	return (uintptr_t)p - hi.top < hi.base + hi.size - hi.top;
}

static void *freed_file(void)
{
	FILE *f = fopen("/dev/null", "r");
	if (!f || !is_transient(f))
		_exit(8);
	/* the block, not the stream, after fclose */
	uintptr_t volatile u = (uintptr_t)f;
	fclose(f);
	return (void *)u;
}

static void *uaf_fast_next(void)
{
	char *p = freed_file();
	*(void **)p = static_array;
	announce(static_array);
	test_use(fopen("/dev/null", "r")); /* p */
	test_use(fopen("/dev/null", "r")); /* would be static_array */
	return p;
}

static void *uaf_fast_key(void)
{
	char *p = freed_file();
	announce(p);
	memset(p + 8, 'A', 8);
	test_use(fopen("/dev/null", "r"));
	return p;
}

/* Addresses inside the persistent arena's reservation but above its
 * committed part (PROT_NONE there): a free must not read a head from
 * them, and a forged cache link to them is found before it is used. */
static char *above_top(void)
{
	struct pm_heap_info hi;
	if (pm_heap_info(&hi))
		_exit(4);
	/* well above the used extent, still below the persistent end */
	return (char *)((hi.top + (64u << 20)) & ~(uintptr_t)0xfffff);
}

static void *free_above_top(void)
{
	char *q = above_top();
	announce(q);
	free(q);
	return q;
}

static void *realloc_above_top(void)
{
	char *q = above_top();
	announce(q);
	test_use(realloc(q, 100));
	return q;
}

/* the same with a thread cache (realloc asks it whether p is cached) */
static void *realloc_above_top_cached(void)
{
	free(touch(malloc(40), 40));
	return realloc_above_top();
}

static void *free_heap_base(void)
{
	struct pm_heap_info hi;
	if (pm_heap_info(&hi))
		_exit(4);
	announce((void *)hi.base); /* its head would be below the region */
	free((void *)hi.base);
	return (void *)hi.base;
}

static void *uaf_tcache_above_top(void)
{
	char *p = touch(malloc(40), 40);
	free(p);
	char *q = above_top();
	*(void **)p = q; /* a link into the reservation */
	announce(q);
	test_use(malloc(40)); /* p itself */
	test_use(malloc(40)); /* would be q */
	return p;
}

static const struct misuse cases[] = {
	{ "use after free: thread-cache link", "malloc()", uaf_tcache_next },
	{ "use after free: thread-cache key", "malloc()", uaf_tcache_key },
	{ "use after free: misaligned link", "malloc()",
	  uaf_tcache_misaligned },
	{ "use after free: fast-list link", "malloc()", uaf_fast_next },
	{ "use after free: fast-list key", "malloc()", uaf_fast_key },
	{ "double free, small (thread cache)", "free()", double_free_small },
	{ "double free, small (left the cache)", "free()",
	  double_free_small_flushed },
	{ "double free, 4000 bytes", "free()", double_free_large },
	{ "double free, 3 MiB", "free()", double_free_huge },
	{ "double free, 3 MiB at top", "free()", double_free_huge_at_top },
	{ "free of the middle of a block", "free()", free_middle },
	{ "free of the middle of a large block", "free()", free_middle_large },
	{ "free of a stack address", "free()", free_stack },
	{ "free of a static array", "free()", free_static },
	{ "free of mmap memory", "free()", free_mmap },
	{ "free above the committed heap", "free()", free_above_top },
	{ "free of the heap's first byte", "free()", free_heap_base },
	{ "use after free: link above the committed heap", "malloc()",
	  uaf_tcache_above_top },
	{ "realloc of a freed block", "realloc()", realloc_freed },
	{ "realloc of a freed block, same size", "realloc()",
	  realloc_freed_same_size },
	{ "realloc of a freed large block", "realloc()", realloc_freed_large },
	{ "realloc of a stack address", "realloc()", realloc_stack },
	{ "realloc of mmap memory", "realloc()", realloc_mmap },
	{ "realloc above the committed heap", "realloc()", realloc_above_top },
	{ "realloc above the committed heap, with a cache", "realloc()",
	  realloc_above_top_cached },
	{ "free(NULL), realloc(NULL, n)", NULL, fine_null },
};

static void child(void *arg)
{
	const struct misuse *m = arg;
	dup2(err_fd, 2);
	close(err_fd);
	m->run();
	_exit(0); /* only the fine cases get here */
}

/* Does the message hold the address in hex (with or without 0x)? */
static int has_hex_addr(const char *s, uintptr_t want)
{
	char hex[32];
	snprintf(hex, sizeof hex, "%lx", (unsigned long)want);
	return strcasestr(s, hex) != NULL;
}

static void run_case(const struct misuse *m)
{
	int fds[2], afd[2];
	if (pipe(fds) != 0 || pipe(afd) != 0) {
		CHECK_MSG(0, "pipe");
		return;
	}
	err_fd = fds[1];
	addr_fd = afd[1];
	int st = test_in_child(child, (void *)m, 1);
	close(fds[1]);
	close(afd[1]);
	uintptr_t addr = 0;
	if (read(afd[0], &addr, sizeof addr) != (ssize_t)sizeof addr)
		addr = 0;
	close(afd[0]);
	char out[4096];
	size_t len = 0;
	ssize_t r;
	while (len < sizeof out - 1 &&
	       (r = read(fds[0], out + len, sizeof out - 1 - len)) > 0)
		len += (size_t)r;
	close(fds[0]);
	out[len] = 0;
	if (!m->call) {
		CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0,
			  "%s: status %#x", m->name, st);
		CHECK_MSG(len == 0, "%s: wrote \"%s\"", m->name, out);
		return;
	}
	if (!TEST_ABORTED(st)) {
		CHECK_MSG(0, "%s: not SIGABRT (status %#x, stderr \"%s\")",
			  m->name, st, out);
		return;
	}
	int lines = 0;
	for (size_t i = 0; i < len; i++)
		lines += out[i] == '\n';
	CHECK_MSG(lines == 1 && len > 0 && out[len - 1] == '\n',
		  "%s: not exactly one line: \"%s\"", m->name, out);
	CHECK_MSG(strncmp(out, "pmalloc: ", 9) == 0, "%s: \"%s\"", m->name,
		  out);
	CHECK_MSG(strstr(out, m->call) != NULL, "%s: \"%s\" does not name %s",
		  m->name, out, m->call);
	CHECK_MSG(addr != 0 && has_hex_addr(out, addr), "%s: \"%s\" does "
		  "not hold the address %#lx", m->name, out,
		  (unsigned long)addr);
	fprintf(stderr, "%-40s %s", m->name, out);
}

int main(void)
{
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		run_case(&cases[i]);
	return test_end();
}
