/*
 * image_killed.c - a process imaged twice to one file (tests/image_killed.sh).
 *
 *   image_killed IMAGE MIB
 * fills MIB MiB of heap with a pattern, prints its sum, calls
 * pm_image(IMAGE), copies the image it wrote to IMAGE.ref, changes the
 * heap, prints the new sum and calls pm_image(IMAGE) again (the call
 * tests/prog/iofault.c kills).  Resumed from an image it prints
 * "resumed N: sum S" (N: which image, S: the heap's sum recomputed)
 * and exits 0: a resume must see the heap as it was at that image.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <pmalloc.h>

static uint64_t *heap;
static size_t words;

static uint64_t sum(void)
{
	uint64_t s = 0;
	for (size_t i = 0; i < words; i++)
		s = s * 1099511628211ull + heap[i];
	return s;
}

static int copy(const char *from, const char *to)
{
	static char buf[1 << 16];
	int a = open(from, O_RDONLY), b = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ssize_t n;
	if (a < 0 || b < 0)
		return -1;
	while ((n = read(a, buf, sizeof buf)) > 0)
		if (write(b, buf, (size_t)n) != n)
			return -1;
	return close(a) | close(b) | (int)n;
}

static void image(const char *path, int which)
{
	int rc = pm_image(path);
	if (rc == PM_RESUMED) {
		printf("resumed %d: sum %016llx\n", which,
		       (unsigned long long)sum());
		exit(0);
	}
	if (rc < 0) {
		fprintf(stderr, "pm_image %d: %d %s\n", which, rc, pm_errmsg());
		exit(3);
	}
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: image_killed IMAGE MIB\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IONBF, 0);
	words = (size_t)atoi(argv[2]) << 17;
	heap = malloc(words * 8);
	if (!heap)
		return 4;
	for (size_t i = 0; i < words; i++)
		heap[i] = i * 0x9e3779b97f4a7c15ull;
	printf("image 1: sum %016llx\n", (unsigned long long)sum());
	image(argv[1], 1);
	char ref[4096];
	snprintf(ref, sizeof ref, "%s.ref", argv[1]);
	if (copy(argv[1], ref))
		return 5;
	for (size_t i = 0; i < words; i += 512)
		heap[i] ^= 0x5555;
	printf("image 2: sum %016llx\n", (unsigned long long)sum());
	image(argv[1], 2);
	return 0;
}
