/*
 * u_fmt.c - pm__fmt (src/util.c, the formatter of every pmalloc message)
 * against snprintf for every conversion the library uses: the
 * format(printf) attribute promises glibc's meaning, so a difference is a
 * wrong message the compiler cannot catch.  Also: truncation keeps the
 * buffer terminated and returns the full length, as snprintf does.
 */
#include "../src/internal.h"
#include "testlib.h"
#include <limits.h>

#define SAME(...)                                                              \
	do {                                                                   \
		char a_[256], b_[256];                                         \
		size_t n_ = pm__fmt(a_, sizeof a_, __VA_ARGS__);               \
		int m_ = snprintf(b_, sizeof b_, __VA_ARGS__);                 \
		CHECK_MSG(!strcmp(a_, b_) && n_ == (size_t)m_,                 \
			  "%s: pm__fmt '%s' (%zu), snprintf '%s' (%d)",         \
			  #__VA_ARGS__, a_, n_, b_, m_);                       \
	} while (0)

/* util.c's warnings write through os.c; not under test here */
void pm__write_all(int fd, const char *s, size_t n)
{
	(void)!write(fd, s, n);
}

int main(void)
{
	int x = 42;
	SAME("plain text");
	SAME("%d %d %d %d", 0, 7, -7, INT_MIN);
	SAME("%i|%5d|%-5d|%05d|%05d", 3, 42, 42, 42, -42);
	SAME("%u %u %x %x", 0u, UINT_MAX, 0u, 0xdeadbeefu);
	SAME("%ld %lu %lx %lld %llu %llx", LONG_MIN, ULONG_MAX, 0x1234abcdUL,
	     LLONG_MAX, ULLONG_MAX, 0xfedcba9876543210ULL);
	SAME("%zu %zx %zd", (size_t)12345, (size_t)0xabc, (ssize_t)-5);
	SAME("%#x %#lx %#lx %#llx", 0x10u, 0xe0000000UL, 0UL, 1ULL);
	SAME("%08x %016lx %08lx %2x", 0xabu, 0x7fffUL, 0UL, 0x100u);
	SAME("%s|%10s|%-10s|%s", "abc", "right", "left", "");
	SAME("%c%c%c", 'p', 'm', '!');
	SAME("mode %o, umask 0%o, %lo", 0620u, 022u, 0777UL); /* was "%o" */
	SAME("%p %p", (void *)&x, (void *)0x1000);
	SAME("%p", (void *)0);
	SAME("100%% %s", "sure");
	SAME("range 0x%lx-0x%lx covers %d", 0x1000UL, 0x2000UL, 16);
	SAME("%s: range %#lx-%#lx covers more than %d loaded objects",
	     "pm_register", 0x7f0000001000UL, 0x7f0000002000UL, 16);

	/* truncation */
	char small[8];
	size_t n = pm__fmt(small, sizeof small, "%s-%d", "abcdef", 12345);
	CHECK_MSG(n == 12 && !strcmp(small, "abcdef-"), "truncated: '%s' %zu",
		  small, n);
	n = pm__fmt(small, 1, "xyz");
	CHECK_MSG(n == 3 && small[0] == '\0', "len 1: %zu", n);
	return test_end();
}
