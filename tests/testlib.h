/*
 * testlib.h - the smallest test helper: CHECK() counts and reports, a
 * deterministic PRNG, and a way to run a function in a child and see how
 * it ended.  A test binary returns test_end(): 0 if every check held.
 */
#ifndef PM_TESTLIB_H
#define PM_TESTLIB_H
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <signal.h>
#include <unistd.h>
#include <sys/wait.h>

static int test_failures, test_checks;

#define CHECK(c)                                                               \
	do {                                                                   \
		test_checks++;                                                 \
		if (!(c)) {                                                    \
			test_failures++;                                       \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, \
				__LINE__, #c);                                 \
		}                                                              \
	} while (0)

#define CHECK_MSG(c, ...)                                                      \
	do {                                                                   \
		test_checks++;                                                 \
		if (!(c)) {                                                    \
			test_failures++;                                       \
			fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, \
				__LINE__, #c);                                 \
			fprintf(stderr, __VA_ARGS__);                          \
			fputc('\n', stderr);                                   \
		}                                                              \
	} while (0)

static inline int test_end(void)
{
	fprintf(stderr, "%d checks, %d failed\n", test_checks, test_failures);
	return test_failures ? 1 : 0;
}

/* xorshift64*: deterministic, seeded */
static inline uint64_t test_rand(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x >> 12; x ^= x << 25; x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1DULL;
}

/* Run fn(arg) in a child with stderr sent to /dev/null unless keep_stderr;
 * returns the wait status. */
static inline int test_in_child(void (*fn)(void *), void *arg, int keep_stderr)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		if (!keep_stderr) {
			FILE *f = freopen("/dev/null", "w", stderr);
			(void)f;
		}
		fn(arg);
		_exit(0);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	return st;
}
#define TEST_ABORTED(st) (WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT)

/* Opaque use of a pointer so the compiler cannot drop a malloc/free pair. */
static inline void test_use(void *p)
{
	__asm__ volatile("" : : "r"(p) : "memory");
}
#endif
