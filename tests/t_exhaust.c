/* Running out of heap: with PMALLOC_SIZE=64M (set in the environment and
 * re-executing, since the heap is made before main) 1 MiB blocks run out
 * with ENOMEM after a plausible number (the persistent part is 7/8 of the
 * region), the heap stays consistent, all of it is reusable after freeing,
 * and the same holds for small blocks.  Impossible sizes fail cleanly with
 * ENOMEM and realloc leaves the old block alone. */
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include "pmalloc.h"
#include "testlib.h"

#define MIB (1u << 20)

static void heap_ok(const char *when)
{
	int rc = pm_heap_check();
	CHECK_MSG(rc == 0, "pm_heap_check %s: %d %s", when, rc, pm_errmsg());
}

/* Allocate n-byte blocks until malloc fails; returns how many. */
static size_t fill_up(void **v, size_t max, size_t n, unsigned char tag)
{
	size_t k = 0;
	while (k < max) {
		errno = 0;
		void *p = malloc(n);
		if (!p) {
			CHECK_MSG(errno == ENOMEM, "malloc(%zu) failed with "
				  "errno %d, not ENOMEM", n, errno);
			return k;
		}
		/* touch every page: the memory really is there */
		for (size_t i = 0; i < n; i += 4096)
			((unsigned char *)p)[i] = tag;
		((unsigned char *)p)[n - 1] = tag;
		v[k++] = p;
	}
	CHECK_MSG(0, "%zu blocks of %zu bytes and still no failure", max, n);
	return k;
}

static int all_tagged(void **v, size_t k, size_t n, unsigned char tag)
{
	for (size_t j = 0; j < k; j++) {
		const unsigned char *p = v[j];
		for (size_t i = 0; i < n; i += 4096)
			if (p[i] != tag)
				return 0;
		if (p[n - 1] != tag)
			return 0;
	}
	return 1;
}

#define MAXSMALL (2u << 20)

/* volatile: the sizes reach the calls at run time (gcc would warn about
 * constants beyond the largest object size) */
static volatile size_t size_max = SIZE_MAX, ptrdiff_max = PTRDIFF_MAX;

int main(int argc, char **argv)
{
	(void)argc;
	const char *sz = getenv("PMALLOC_SIZE");
	if (!sz || strcmp(sz, "64M") != 0) {
		if (setenv("PMALLOC_SIZE", "64M", 1) != 0) {
			perror("setenv");
			return 1;
		}
		execv("/proc/self/exe", argv);
		perror("execv /proc/self/exe");
		return 1;
	}
	struct pm_heap_info hi;
	CHECK_EQ(pm_heap_info(&hi), 0);
	CHECK_MSG(hi.size == 64u * MIB, "region is %zu bytes, not 64 MiB",
		  hi.size);

	static void *big[128];
	size_t nbig = fill_up(big, 128, MIB, 0xa5);
	fprintf(stderr, "1 MiB blocks: %zu\n", nbig);
	CHECK_MSG(nbig >= 40 && nbig <= 56, "%zu blocks of 1 MiB in a 64 MiB "
		  "region (persistent part 56 MiB)", nbig);
	CHECK(all_tagged(big, nbig, MIB, 0xa5));
	heap_ok("with the heap full");
	for (size_t i = 0; i < nbig; i++)
		free(big[i]);
	heap_ok("after freeing the 1 MiB blocks");

	/* reusable: the same number again */
	size_t again = fill_up(big, 128, MIB, 0x5a);
	CHECK_MSG(again == nbig, "second round: %zu blocks, first %zu", again,
		  nbig);
	CHECK(all_tagged(big, again, MIB, 0x5a));
	for (size_t i = 0; i < again; i++)
		free(big[i]);
	heap_ok("after the second round");

	/* small blocks until NULL (the table of pointers is a static array,
	 * out of the heap) */
	static void *small[MAXSMALL];
	size_t nsmall = fill_up(small, MAXSMALL, 48, 0x77);
	fprintf(stderr, "48-byte blocks: %zu\n", nsmall);
	CHECK_MSG(nsmall > 40u * MIB / 64, "only %zu blocks of 48 bytes",
		  nsmall);
	CHECK(all_tagged(small, nsmall, 48, 0x77));
	heap_ok("full of small blocks");
	for (size_t i = 0; i < nsmall; i++)
		free(small[i]);
	heap_ok("after freeing the small blocks");
	/* and large blocks fit again after the small ones are gone */
	size_t third = fill_up(big, 128, MIB, 0x3c);
	CHECK_MSG(third + 1 >= nbig, "after small blocks: %zu 1 MiB blocks, "
		  "first %zu", third, nbig);
	for (size_t i = 0; i < third; i++)
		free(big[i]);

	/* impossible sizes */
	errno = 0;
	CHECK(malloc(size_max) == NULL && errno == ENOMEM);
	errno = 0;
	CHECK(malloc(ptrdiff_max) == NULL && errno == ENOMEM);
	errno = 0;
	CHECK(malloc(65u * MIB) == NULL && errno == ENOMEM);
	errno = 0;
	CHECK(calloc(size_max / 2, 3) == NULL && errno == ENOMEM);
	errno = 0;
	CHECK(calloc(1, size_max) == NULL && errno == ENOMEM);
	char *p = malloc(100);
	CHECK_PTR_NE(p, NULL);
	if (p) {
		memset(p, 'x', 100);
		errno = 0;
		CHECK(realloc(p, size_max) == NULL && errno == ENOMEM);
		errno = 0;
		CHECK(realloc(p, ptrdiff_max) == NULL && errno == ENOMEM);
		errno = 0;
		CHECK(realloc(p, 100u * MIB) == NULL && errno == ENOMEM);
		int same = 1;
		for (int i = 0; i < 100; i++)
			same &= p[i] == 'x';
		CHECK_MSG(same, "realloc failure changed the block");
		p = realloc(p, 200);
		CHECK_PTR_NE(p, NULL);
		free(p);
	}
	void *q = NULL;
	CHECK_EQ(posix_memalign(&q, 4096, size_max - 4096), ENOMEM);
	errno = 0;
	CHECK(memalign(64, size_max) == NULL && errno == ENOMEM);
	heap_ok("at the end");
	return test_end();
}
