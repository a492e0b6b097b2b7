/*
 * uaf_forge.c - the program of tests/attack_uaf.sh: heap misuse that gets
 * past the freed-block checks because the mark of a cached block
 * (PM_FREE_KEY, "pfreed_k") is a constant anyone can write and a
 * thread-cache pop checks nothing else but the heap's bounds.
 *
 *   uaf_forge interior   a use-after-free write links a cached block to
 *                        the inside of a live block whose bytes hold the
 *                        constant at +8: the second malloc returns it
 *   uaf_forge header     the same aimed at the region header (allocator
 *                        metadata): the table of roots, whose name bytes
 *                        the program chose
 *   uaf_forge spirit     free() of a fake chunk (a plausible size word
 *                        and successor) inside a live block: malloc
 *                        hands it out
 * Prints "OVERLAP ..." and exits 1 when malloc handed out the forged
 * address; the expected outcome is an abort at the misuse.
 */
#include <pmalloc.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY 0x7066726565645f6bULL /* src/internal.h PM_FREE_KEY */

static void *volatile sink;

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc != 2)
		return 2;
	if (!strcmp(argv[1], "interior") || !strcmp(argv[1], "header")) {
		uint64_t *target;
		char *big = malloc(4096);
		memset(big, 'B', 4096);
		if (argv[1][0] == 'i') {
			target = (uint64_t *)(big + 1024);
			target[1] = KEY;
		} else {
			/* the first root's name, 16-aligned in the header:
			 * bytes 8-15 of the name are the key */
			if (pm_root_set("AAAAAAAAk_deerfp", big))
				return 2;
			struct pm_heap_info hi;
			pm_heap_info(&hi);
			target = NULL;
			for (uintptr_t a = hi.base; a < hi.base + 16384; a += 16)
				if (((uint64_t *)a)[1] == KEY &&
				    !memcmp((char *)a, "AAAAAAAA", 8)) {
					target = (uint64_t *)a;
					break;
				}
			if (!target)
				return 2;
		}
		char *a = malloc(40), *b = malloc(40);
		free(b);
		free(a);
		*(uint64_t **)a = target; /* the write after free */
		sink = malloc(40);
		char *y = malloc(40);
		if ((void *)y == (void *)target) {
			printf("OVERLAP: malloc returned %p, %s\n", (void *)y,
			       argv[1][0] == 'i' ? "inside a live block"
						 : "inside the region header");
			return 1;
		}
		printf("malloc returned %p, not the forged %p\n", (void *)y,
		       (void *)target);
		return 0;
	}
	if (!strcmp(argv[1], "spirit")) {
		char *big = malloc(4096);
		memset(big, 0, 4096);
		uint64_t *f = (uint64_t *)(big + 512); /* prev_foot, head */
		f[1] = 0x30 | 3;                       /* 48 bytes, in use */
		((uint64_t *)(big + 512 + 0x30))[1] = 0x30 | 3;
		void *p = big + 512 + 16;
		free(p);
		void *q = malloc(32);
		if (q == p) {
			printf("OVERLAP: free of a fake chunk inside a live "
			       "block; malloc returned it (%p)\n", q);
			return 1;
		}
		printf("malloc returned %p, not the fake chunk %p\n", q, p);
		return 0;
	}
	return 2;
}
