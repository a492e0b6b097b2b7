/*
 * testlib.h - the smallest test helper: CHECK() counts and reports (the
 * CHECK_EQ family prints both values), a deterministic PRNG, and a way to
 * run a function in a child and see how it ended.  A test binary returns test_end(): 0 if every check held.
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

/*
 * Comparisons that print both values when they fail:
 *   CHECK_EQ(a, b) CHECK_NE CHECK_LT CHECK_LE CHECK_GT CHECK_GE
 *                       integers (or pointers), printed as signed and hex
 *   CHECK_PTR_EQ(a, b) CHECK_PTR_NE   pointers, printed with %p
 *   CHECK_STR_EQ(a, b)  C strings (NULL allowed), printed quoted
 * Each side is evaluated once, converted to the type ?: gives the pair
 * (the usual arithmetic conversions, or the pointer type): the conversion
 * a == b makes, so the comparison is the same as CHECK(a == b)'s.
 */
#define CHECK_CMP_(a, op, b, text)                                             \
	do {                                                                   \
		__typeof__(0 ? (a) : (b)) test_a_ = (a), test_b_ = (b);        \
		test_checks++;                                                 \
		if (!(test_a_ op test_b_)) {                                   \
			test_failures++;                                       \
			fprintf(stderr,                                        \
				"%s:%d: CHECK failed: %s: "                    \
				"%lld (0x%llx) vs %lld (0x%llx)\n",            \
				__FILE__, __LINE__, text,                      \
				(long long)test_a_,                            \
				(unsigned long long)test_a_,                   \
				(long long)test_b_,                            \
				(unsigned long long)test_b_);                  \
		}                                                              \
	} while (0)
/* the text is made here, before a macro argument (NULL) is expanded */
#define CHECK_EQ(a, b) CHECK_CMP_(a, ==, b, #a " == " #b)
#define CHECK_NE(a, b) CHECK_CMP_(a, !=, b, #a " != " #b)
#define CHECK_LT(a, b) CHECK_CMP_(a, <, b, #a " < " #b)
#define CHECK_LE(a, b) CHECK_CMP_(a, <=, b, #a " <= " #b)
#define CHECK_GT(a, b) CHECK_CMP_(a, >, b, #a " > " #b)
#define CHECK_GE(a, b) CHECK_CMP_(a, >=, b, #a " >= " #b)

#define CHECK_PTR_CMP_(a, op, b, text)                                         \
	do {                                                                   \
		const void *test_a_ = (a);                                     \
		const void *test_b_ = (b);                                     \
		test_checks++;                                                 \
		if (!(test_a_ op test_b_)) {                                   \
			test_failures++;                                       \
			fprintf(stderr,                                        \
				"%s:%d: CHECK failed: %s: %p vs %p\n",         \
				__FILE__, __LINE__, text, test_a_, test_b_);   \
		}                                                              \
	} while (0)
#define CHECK_PTR_EQ(a, b) CHECK_PTR_CMP_(a, ==, b, #a " == " #b)
#define CHECK_PTR_NE(a, b) CHECK_PTR_CMP_(a, !=, b, #a " != " #b)

#define CHECK_STR_EQ(a, b)                                                     \
	do {                                                                   \
		const char *test_a_ = (a);                                     \
		const char *test_b_ = (b);                                     \
		test_checks++;                                                 \
		if (!test_a_ || !test_b_ ? test_a_ != test_b_                  \
					 : strcmp(test_a_, test_b_) != 0) {    \
			test_failures++;                                       \
			fprintf(stderr,                                        \
				"%s:%d: CHECK failed: %s equals %s: "          \
				"%s%s%s vs %s%s%s\n", __FILE__, __LINE__, #a,  \
				#b, test_a_ ? "\"" : "",                       \
				test_a_ ? test_a_ : "NULL", test_a_ ? "\"" : "", \
				test_b_ ? "\"" : "",                           \
				test_b_ ? test_b_ : "NULL", test_b_ ? "\"" : ""); \
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
