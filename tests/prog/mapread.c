/*
 * mapread ckpt|image FILE MIB - one block of MIB MiB filled with a
 * pattern, then pm_checkpoint(FILE) or pm_image(FILE).  Prints
 * "restored SUM" when the process started from a restored heap (a
 * checkpoint restored at start-up: the block is found by its root),
 * "resumed SUM" in a process resumed from the image, else "saved RC".
 * For tests/ckpt_mapread.sh.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pmalloc.h"

static unsigned long sum(const unsigned char *p, size_t n)
{
	unsigned long s = 0;
	for (size_t i = 0; i < n; i += 4093)
		s = s * 31 + p[i];
	return s;
}

int main(int argc, char **argv)
{
	if (argc != 4)
		return 2;
	size_t n = (size_t)atoi(argv[3]) << 20;
	unsigned char *b = pm_root_get("block");
	if (b) {
		printf("restored %lu\n", sum(b, n));
		return 0;
	}
	b = malloc(n);
	if (!b)
		return 3;
	for (size_t i = 0; i < n; i++)
		b[i] = (unsigned char)(i * 7 + i / 4096);
	int rc;
	if (!strcmp(argv[1], "ckpt")) {
		pm_root_set("block", b);
		rc = pm_checkpoint(argv[2]);
	} else {
		rc = pm_image(argv[2]);
		if (rc == PM_RESUMED) {
			printf("resumed %lu\n", sum(b, n));
			return 0;
		}
	}
	printf("saved %d\n", rc);
	return 0;
}
