/*
 * t_globals.c - pm_register() through libpmalloc.so: the documented errors,
 * the heap (wherever it was placed) refused, the table of 256.
 */
#include <pmalloc.h>
#include <errno.h>
#include <sys/mman.h>
#include "testlib.h"

static long data_words[8];

int main(void)
{
	void *p = malloc(100); /* the heap exists from here on */
	test_use(p);
	struct pm_heap_info hi;
	CHECK_EQ(pm_heap_info(&hi), 0);

	CHECK_EQ(pm_register(NULL, 8), -EINVAL);
	CHECK_PTR_NE(strstr(pm_errmsg(), "NULL"), NULL);
	CHECK_EQ(pm_register(data_words, 0), -EINVAL);
	CHECK_EQ(pm_register((void *)hi.base, 8), -EINVAL);
	CHECK_PTR_NE(strstr(pm_errmsg(), "heap"), NULL);
	CHECK_EQ(pm_register((void *)(hi.base + hi.size - 8), 64), -EINVAL);
	CHECK_EQ(pm_register((void *)(hi.base - 8), 16), -EINVAL);
	CHECK_EQ(pm_register(p, 8), -EINVAL); /* a heap block */
	CHECK_EQ(pm_register((void *)-8L, 16), -EINVAL);
	/* just below the heap: unmapped, then a page of our own there */
	CHECK_EQ(pm_register((void *)(hi.base - 8), 8), -EFAULT);
	void *below = mmap((void *)(hi.base - 4096), 4096,
			   PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
			   -1, 0);
	CHECK_EQ(below, (void *)(hi.base - 4096));
	CHECK_EQ(pm_register((void *)(hi.base - 8), 8), 0);
	CHECK_EQ(pm_register(data_words, sizeof data_words), 0);
	CHECK_EQ(pm_register(data_words, sizeof data_words), 0); /* again */

	char *m = mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK_NE(m, MAP_FAILED);
	int ok = 0, rc = 0;
	for (int i = 0; i < 300; i++) {
		rc = pm_register(m + 16 * i, 8);
		if (rc)
			break;
		ok++;
	}
	CHECK_MSG(ok == 254 && rc == -ENOMEM, "%d registered, rc %d", ok, rc);
	free(p);
	return test_end();
}
