/* glibc semantics of the whole malloc family through the interposed names:
 * zero sizes, zeroing, overflow and alignment errors and their errno,
 * usable sizes, the __libc_* aliases, mallinfo2/malloc_trim/mallopt/
 * malloc_stats, and where blocks land: the program's own (also those that
 * libc functions like strdup or getline hand it) in the persistent part of
 * the region, libc's own objects (a FILE) in the transient part. */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdint.h>
#include <fcntl.h>
#include "pmalloc.h"
#include "testlib.h"

extern void *__libc_malloc(size_t n);
extern void __libc_free(void *p);
extern void *__libc_calloc(size_t a, size_t b);
extern void *__libc_realloc(void *p, size_t n);
extern void *__libc_memalign(size_t al, size_t n);

/* volatile: the values reach the calls at run time (compilers warn about
 * such constants, and clang 14 crashed on aligned_alloc(0, n)) */
static volatile size_t size_max = SIZE_MAX;
static volatile size_t al0 = 0, al24 = 24;
static struct pm_heap_info hi;

static int in_region(const void *p)
{
	return (uintptr_t)p - hi.base < hi.size;
}
/* the transient arena is the last eighth of the region (whole MiB) */
static uintptr_t tbase(void)
{
	return hi.base + hi.size - ((hi.size / 8) & ~(((size_t)1 << 20) - 1));
}
static int in_persistent(const void *p)
{
	return (uintptr_t)p >= hi.base && (uintptr_t)p < tbase();
}
static int in_transient(const void *p)
{
	return (uintptr_t)p >= tbase() && (uintptr_t)p < hi.base + hi.size;
}

static int all_zero(const void *p, size_t n)
{
	const unsigned char *c = p;
	for (size_t i = 0; i < n; i++)
		if (c[i])
			return 0;
	return 1;
}

static void test_zero_sizes(void)
{
	void *a = malloc(0), *b = malloc(0);
	CHECK(a != NULL && b != NULL && a != b);
	CHECK(in_persistent(a) && in_persistent(b));
	CHECK_LT(malloc_usable_size(a), 64);
	free(a);
	free(b);
	void *c = calloc(0, 10), *d = calloc(10, 0);
	CHECK(c != NULL && d != NULL && c != d);
	free(c);
	free(d);
	/* realloc(p, 0) frees and returns NULL (glibc) */
	void *p = malloc(100);
	errno = 0;
	CHECK_PTR_EQ(realloc(p, 0), NULL);
	CHECK_EQ(pm_heap_check(), 0);
	p = malloc(3 << 20);
	CHECK_PTR_EQ(realloc(p, 0), NULL);
	CHECK_EQ(malloc_usable_size(NULL), 0);
}

static void test_calloc(void)
{
	/* large: dirty memory handed back must come out zeroed */
	for (int round = 0; round < 3; round++) {
		size_t n = (size_t)1 << (20 + round);
		unsigned char *p = malloc(n);
		CHECK_PTR_NE(p, NULL);
		memset(p, 0xff, n);
		free(p);
		unsigned char *q = calloc(1, n);
		CHECK_PTR_NE(q, NULL);
		CHECK_MSG(q && all_zero(q, n), "calloc(1, %zu) after a dirty "
			  "free is not zero", n);
		free(q);
	}
	/* a medium block split out of a dirty free chunk */
	unsigned char *big = malloc(200000);
	void *guard = malloc(16);
	memset(big, 0xee, 200000);
	free(big);
	unsigned char *mid = calloc(3000, 10);
	CHECK(mid && all_zero(mid, 30000));
	free(mid);
	free(guard);
	/* small sizes through the thread cache */
	for (size_t n = 1; n <= 1100; n += 7) {
		void *v[20];
		for (int i = 0; i < 20; i++) {
			v[i] = malloc(n);
			memset(v[i], 0xff, malloc_usable_size(v[i]));
		}
		for (int i = 0; i < 20; i++)
			free(v[i]);
		for (int i = 0; i < 20; i++) {
			v[i] = calloc(n, 1);
			CHECK_MSG(v[i] && all_zero(v[i], n),
				  "calloc(%zu, 1) reused dirty memory", n);
		}
		for (int i = 0; i < 20; i++)
			free(v[i]);
	}
	/* overflow */
	errno = 0;
	CHECK(calloc(size_max / 2 + 1, 2) == NULL && errno == ENOMEM);
	errno = 0;
	CHECK(calloc(size_max, size_max) == NULL && errno == ENOMEM);
	errno = 0;
	CHECK(calloc(size_max >> 31, size_max >> 31) == NULL &&
	      errno == ENOMEM);
}

static void test_realloc(void)
{
	char *p = malloc(10), *same = p;
	memcpy(p, "abcdefghi", 10);
	/* p stays valid after the failure (hidden from gcc's
	 * use-after-realloc warning) */
	__asm__ volatile("" : "+r"(same));
	errno = 0;
	CHECK(reallocarray(p, size_max / 4, 8) == NULL && errno == ENOMEM);
	CHECK_STR_EQ(same, "abcdefghi");
	char *q = reallocarray(same, 100, 20);
	CHECK(q != NULL && strcmp(q, "abcdefghi") == 0);
	CHECK_GE(malloc_usable_size(q), 2000);
	free(q);
	/* growth keeps contents across the small/large boundaries */
	unsigned char *r = NULL;
	size_t sizes[] = { 1, 24, 100, 1000, 1024, 5000, 100000, 3 << 20,
			   64, 2000000, 7 };
	size_t prev = 0;
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		r = realloc(r, sizes[i]);
		CHECK_PTR_NE(r, NULL);
		size_t keep = prev < sizes[i] ? prev : sizes[i];
		for (size_t j = 0; j < keep; j++)
			if (r[j] != (unsigned char)(j * 7)) {
				CHECK_MSG(0, "realloc %zu -> %zu lost byte %zu",
					  prev, sizes[i], j);
				break;
			}
		for (size_t j = 0; j < sizes[i]; j++)
			r[j] = (unsigned char)(j * 7);
		prev = sizes[i];
	}
	free(r);

	/* a block grown by realloc gets a quarter more room, in place or
	 * moved, so the next small steps keep it where it is (without the
	 * lock: alloc.c live_usable) */
	char *g = malloc(3000), *guard = malloc(16);
	test_use(guard);
	for (size_t n = 4000; n < 400000; n += n / 3) {
		size_t u0 = malloc_usable_size(g);
		g = realloc(g, n);
		CHECK_PTR_NE(g, NULL);
		size_t u = malloc_usable_size(g);
		/* (a block that had room already, the large blocks' grid
		 * slack, is kept as it is) */
		CHECK_MSG(u >= n + n / 4 || (u0 >= n && u == u0),
			  "realloc from %zu to %zu: usable %zu, want %zu", u0,
			  n, u, n + n / 4);
		char *again = realloc(g, n + n / 8);
		CHECK_MSG(again == g, "realloc to %zu in %zu bytes moved it",
			  n + n / 8, u);
		g = again;
	}
	free(g);
	free(guard);
}

static void test_alignment(void)
{
	void *p = (void *)1;
	CHECK_EQ(posix_memalign(&p, 0, 16), EINVAL);
	CHECK_EQ(posix_memalign(&p, 3, 16), EINVAL);
	CHECK_EQ(posix_memalign(&p, sizeof(void *) / 2, 16), EINVAL);
	CHECK_EQ(posix_memalign(&p, 24, 16), EINVAL);
	CHECK_EQ(posix_memalign(&p, 4096 + 8, 16), EINVAL);
	CHECK_EQ(p, (void *)1); /* untouched on failure */
	for (size_t al = 8; al <= (1u << 20); al <<= 1) {
		for (size_t n = 0; n < 3000; n += 1111) {
			errno = 4321;
			void *q = NULL;
			int rc = posix_memalign(&q, al, n);
			CHECK_MSG(rc == 0 && q && (uintptr_t)q % al == 0,
				  "posix_memalign(%zu, %zu): %d %p", al, n,
				  rc, q);
			CHECK_MSG(errno == 4321, "posix_memalign(%zu) "
				  "changed errno to %d", al, errno);
			CHECK(in_persistent(q));
			if (q)
				memset(q, 1, n);
			free(q);
		}
	}
	errno = 0;
	CHECK(aligned_alloc(al24, 48) == NULL && errno == EINVAL);
	errno = 0;
	CHECK(aligned_alloc(al0, 48) == NULL && errno == EINVAL);
	void *a = aligned_alloc(64, 100);
	CHECK(a && (uintptr_t)a % 64 == 0);
	free(a);
	void *m = memalign(al24, 100);
	CHECK_MSG(m && (uintptr_t)m % 32 == 0, "memalign(24) gave %p", m);
	CHECK(m && malloc_usable_size(m) >= 100);
	free(m);
	m = memalign(1, 10); /* below the minimum: ordinary alignment */
	CHECK(m && (uintptr_t)m % 16 == 0);
	free(m);
	void *v = valloc(100);
	CHECK(v && (uintptr_t)v % 4096 == 0);
	free(v);
	void *pv = pvalloc(1);
	CHECK(pv && (uintptr_t)pv % 4096 == 0);
	CHECK(pv && malloc_usable_size(pv) >= 4096);
	if (pv)
		memset(pv, 2, 4096);
	free(pv);
	pv = pvalloc(5000);
	CHECK(pv && malloc_usable_size(pv) >= 8192);
	free(pv);
	errno = 0;
	CHECK(memalign(4096, size_max - 100) == NULL && errno == ENOMEM);
}

static void test_usable_and_errno(void)
{
	for (size_t n = 0; n < 5000; n = n * 3 / 2 + 1) {
		void *p = malloc(n);
		CHECK_MSG(p && malloc_usable_size(p) >= n,
			  "malloc_usable_size(malloc(%zu)) = %zu", n,
			  p ? malloc_usable_size(p) : 0);
		if (p)
			memset(p, 0x11, malloc_usable_size(p));
		errno = EBADF;
		free(p);
		CHECK_MSG(errno == EBADF, "free of %zu bytes changed errno",
			  n);
	}
	void *big = malloc(5 << 20);
	errno = EBADF;
	free(big);
	CHECK_EQ(errno, EBADF);
	errno = EBADF;
	free(NULL);
	CHECK_EQ(errno, EBADF);
}

static void test_libc_names(void)
{
	char *p = __libc_malloc(100);
	CHECK(p && in_persistent(p));
	memset(p, 'q', 100);
	p = __libc_realloc(p, 20000);
	CHECK(p && p[99] == 'q' && in_persistent(p));
	__libc_free(p);
	int *z = __libc_calloc(1000, sizeof(int));
	CHECK(z && all_zero(z, 1000 * sizeof(int)));
	__libc_free(z);
	void *m = __libc_memalign(256, 100);
	CHECK(m && (uintptr_t)m % 256 == 0);
	__libc_free(m);
	CHECK_PTR_NE(dlsym(RTLD_DEFAULT, "mm_store_heap_file"), NULL);
	CHECK_EQ(dlsym(RTLD_DEFAULT, "malloc"), (void *)malloc);
}

/* What malloc_stats() writes to fd 2. */
static size_t capture_stats(char *buf, size_t len)
{
	int fds[2];
	if (pipe(fds) != 0)
		return 0;
	fflush(stderr);
	int saved = dup(2);
	dup2(fds[1], 2);
	close(fds[1]);
	malloc_stats();
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	fcntl(fds[0], F_SETFL, O_NONBLOCK);
	size_t n = 0;
	ssize_t r;
	while (n < len - 1 && (r = read(fds[0], buf + n, len - 1 - n)) > 0)
		n += (size_t)r;
	buf[n] = 0;
	close(fds[0]);
	return n;
}

static void test_extras(void)
{
	struct mallinfo2 m0 = mallinfo2();
	void *v[10];
	for (int i = 0; i < 10; i++) {
		v[i] = malloc(1 << 20);
		memset(v[i], 3, 1 << 20);
	}
	struct mallinfo2 m1 = mallinfo2();
	CHECK_MSG(m1.uordblks >= m0.uordblks + (10u << 20),
		  "uordblks %zu -> %zu after 10 MiB", m0.uordblks,
		  m1.uordblks);
	CHECK_GE(m1.arena, m1.uordblks);
	for (int i = 0; i < 10; i++)
		free(v[i]);
	struct mallinfo2 m2 = mallinfo2();
	CHECK_MSG(m2.uordblks + (9u << 20) <= m1.uordblks,
		  "uordblks %zu -> %zu after freeing 10 MiB", m1.uordblks,
		  m2.uordblks);
	CHECK_PTR_NE(dlsym(RTLD_DEFAULT, "mallinfo"), NULL); /* deprecated */
	int t = malloc_trim(0);
	CHECK(t == 0 || t == 1);
	CHECK_EQ(pm_heap_check(), 0);
	CHECK_EQ(mallopt(M_TRIM_THRESHOLD, 256 * 1024), 1);
	CHECK_EQ(mallopt(M_MMAP_THRESHOLD, 1 << 20), 1);
	void *after = malloc(3 << 20);
	CHECK_PTR_NE(after, NULL);
	free(after);
	CHECK_EQ(pm_heap_check(), 0);
	char out[4096];
	size_t n = capture_stats(out, sizeof out);
	CHECK_MSG(n > 0, "malloc_stats wrote nothing");
	CHECK(strstr(out, "pmalloc") != NULL || strstr(out, "bytes") != NULL);
}

extern int __asprintf_chk(char **, int, const char *, ...);
extern char *__strdup(const char *);
extern char *__strndup(const char *, size_t);

static void test_owned(void)
{
	char *s = strdup("hello");
	CHECK(s && strcmp(s, "hello") == 0 && in_persistent(s));
	free(s);
	s = strndup("hello world", 5);
	CHECK(s && strcmp(s, "hello") == 0 && in_persistent(s));
	free(s);
	char *a = NULL;
	CHECK_EQ(asprintf(&a, "%d-%s", 42, "x"), 4);
	CHECK(a && strcmp(a, "42-x") == 0 && in_persistent(a));
	free(a);
	/* what -D_FORTIFY_SOURCE makes of asprintf and strdup in libraries
	 * built with it (Debian's GLib), and in binaries built long ago */
	CHECK_EQ(__asprintf_chk(&a, 1, "%s%d", "v", 7), 2);
	CHECK(a && strcmp(a, "v7") == 0 && in_persistent(a));
	free(a);
	s = __strdup("old");
	CHECK(s && strcmp(s, "old") == 0 && in_persistent(s));
	free(s);
	s = __strndup("older", 3);
	CHECK(s && strcmp(s, "old") == 0 && in_persistent(s));
	free(s);
	char *rp = realpath(".", NULL);
	CHECK(rp && rp[0] == '/' && in_persistent(rp));
	char *cwd = getcwd(NULL, 0);
	CHECK(cwd && in_persistent(cwd));
	CHECK(rp && cwd && strcmp(rp, cwd) == 0);
	free(rp);
	free(cwd);

	FILE *f = tmpfile();
	CHECK_PTR_NE(f, NULL);
	if (!f)
		return;
	CHECK_MSG(in_transient(f), "FILE %p is not in the transient part "
		  "[%#lx, %#lx)", (void *)f, (unsigned long)tbase(),
		  (unsigned long)(hi.base + hi.size));
	for (int i = 0; i < 50; i++)
		fprintf(f, "line %d %.*s\n", i, i * 20, "");
	rewind(f);
	char *line = NULL;
	size_t cap = 0;
	int lines = 0;
	while (getline(&line, &cap, f) > 0)
		lines++;
	CHECK_EQ(lines, 50);
	/* (built with -O2, glibc's <stdio.h> makes getline an inline call
	 * of __getdelim) */
	CHECK_MSG(line && in_persistent(line), "getline's buffer %p is not "
		  "in the persistent part", (void *)line);
	free(line);
	rewind(f);
	line = NULL;
	cap = 0;
	CHECK_EQ(getdelim(&line, &cap, ' ', f), 5);
	CHECK(line && strcmp(line, "line ") == 0 && in_persistent(line));
	free(line);
	fclose(f);
	FILE *g = fopen("/dev/null", "r");
	CHECK(g && in_transient(g));
	if (g)
		fclose(g);
}

/* pm_exiting(): frees keep their memory from then on (the live bytes do
 * not go down, no freed address comes back), everything else still works
 * and a pointer that malloc never returned still aborts.  In a child: the
 * state is the process's for good. */
#define EXITING_CHECK(c) \
	do { if (!(c)) { fprintf(stderr, "exiting: %s failed\n", #c); _exit(3); } } while (0)
static void bad_free(void *arg)
{
	free(arg);
}
static void exiting_child(void *arg)
{
	(void)arg;
	enum { N = 1000 };
	static void *v[N];
	struct pm_heap_info a, b;
	for (int i = 0; i < N; i++)
		EXITING_CHECK((v[i] = malloc(16 + i % 200)) != NULL);
	void *big = malloc(100000);
	EXITING_CHECK(big && pm_heap_info(&a) == 0);
	pm_exiting();
	for (int i = 0; i < N; i++)
		free(v[i]);
	free(big);
	EXITING_CHECK(pm_heap_info(&b) == 0 && b.live == a.live);
	for (int i = 0; i < 200; i++) {
		char *p = malloc(16 + i % 200);
		EXITING_CHECK(p && in_persistent(p));
		for (int j = 0; j < N; j++)
			EXITING_CHECK(p != v[j]);
		memset(p, 1, 16);
		free(p);
	}
	char *r = realloc(NULL, 10);
	EXITING_CHECK(r != NULL);
	memcpy(r, "abcdefghi", 10);
	r = realloc(r, 5000);
	EXITING_CHECK(r && !strcmp(r, "abcdefghi"));
	int *z = calloc(100, sizeof(int));
	EXITING_CHECK(z && all_zero(z, 100 * sizeof(int)));
	EXITING_CHECK(pm_heap_check() == 0);
	static char not_heap[64];
	EXITING_CHECK(TEST_ABORTED(test_in_child(bad_free, not_heap + 16, 0)));
	pid_t pid = fork();
	if (pid == 0) {
		void *c = malloc(64);
		free(c);
		_exit(c && pm_heap_check() == 0 ? 0 : 4);
	}
	int st = 0;
	EXITING_CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) &&
		      WEXITSTATUS(st) == 0);
}

static void test_exiting(void)
{
	int st = test_in_child(exiting_child, NULL, 1);
	CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status 0x%x", st);
}

int main(void)
{
	CHECK_EQ(pm_heap_info(&hi), 0);
	CHECK(hi.size >= (64u << 20));
	test_zero_sizes();
	test_calloc();
	test_realloc();
	test_alignment();
	test_usable_and_errno();
	test_libc_names();
	test_extras();
	test_owned();
	test_exiting();
	void *p = malloc(10), *q = malloc(1 << 22);
	CHECK(in_region(p) && in_region(q));
	free(p);
	free(q);
	int rc = pm_heap_check();
	CHECK_MSG(rc == 0, "pm_heap_check: %d %s", rc, pm_errmsg());
	return test_end();
}
