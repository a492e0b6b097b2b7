/*
 * envprog.c - a small C program for tests/real_pmalloc_env.sh: allocates
 * blocks of a few sizes, prints a fixed text, and with a file name argument
 * writes there the addresses of two blocks ("small 0x..", "large 0x..")
 * and then a copy of /proc/self/maps.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	char *blocks[64];
	unsigned long sum = 0;
	for (int i = 0; i < 64; i++) {
		size_t n = (size_t)(i * i * 37 % 5000) + 1;
		blocks[i] = malloc(n);
		if (!blocks[i])
			return 3;
		memset(blocks[i], i, n);
		sum += n;
	}
	char *small = malloc(40);
	char *large = malloc(1 << 20);
	if (!small || !large)
		return 3;
	memset(large, 7, 1 << 20);
	for (int i = 0; i < 64; i += 2)
		free(blocks[i]);
	printf("envprog: %lu bytes in 64 blocks, large[12345]=%d\n", sum, large[12345]);
	if (argc > 1) {
		FILE *f = fopen(argv[1], "w");
		FILE *m = fopen("/proc/self/maps", "r");
		char line[512];
		if (!f || !m)
			return 4;
		fprintf(f, "small %p\nlarge %p\n", (void *)small, (void *)large);
		while (fgets(line, sizeof line, m))
			fputs(line, f);
		fclose(m);
		fclose(f);
	}
	for (int i = 1; i < 64; i += 2)
		free(blocks[i]);
	free(small);
	free(large);
	return 0;
}
