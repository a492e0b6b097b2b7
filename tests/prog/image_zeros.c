/*
 * image_zeros.c - pages of zeros the program touched are left out of an
 * image in long streaks, and read as zeros again after the resume
 * (tests/image_zeros.sh).
 *
 *   image_zeros IMAGE [fill]
 * makes a 16 MiB heap table and a 4 MiB anonymous mapping, writes zeros
 * over both (every page present), then one marker word in a few pages,
 * and one short run of three zero pages between two marked pages.  With
 * "fill" the table holds ones instead (the image must then carry it).
 * Then pm_image(IMAGE); STOP=1 ends the imaging run there.  Both runs
 * then check every word of both areas, write over them, and print one
 * line that a resumed run must repeat.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <pmalloc.h>

#define TABLE (16u << 20)
#define MAPPED (4u << 20)
#define PAGE 4096u

static const size_t marks[] = {0, 100, 104, 105, 2000, 4095}; /* pages */

static uint64_t want(const uint64_t *base, size_t i, int fill)
{
	size_t page = i * 8 / PAGE;
	for (size_t k = 0; k < sizeof marks / sizeof *marks; k++)
		if (i * 8 == marks[k] * PAGE)
			return 0x1000 + page;
	(void)base;
	return fill ? 0x0101010101010101ull : 0;
}

/* the number of words that differ from what they should hold */
static size_t check(const uint64_t *a, size_t bytes, int fill)
{
	size_t bad = 0;
	for (size_t i = 0; i < bytes / 8; i++)
		if (a[i] != want(a, i, fill))
			bad++;
	return bad;
}

static void mark(uint64_t *a, size_t bytes)
{
	for (size_t k = 0; k < sizeof marks / sizeof *marks; k++)
		if (marks[k] * PAGE < bytes)
			a[marks[k] * PAGE / 8] = 0x1000 + marks[k];
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	int fill = argc > 2 && !strcmp(argv[2], "fill");
	uint64_t *table = malloc(TABLE);
	uint64_t *mapped = mmap(NULL, MAPPED, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!table || mapped == MAP_FAILED)
		return 2;
	memset(table, fill ? 1 : 0, TABLE);
	memset(mapped, 0, MAPPED);
	mark(table, TABLE);
	mark(mapped, MAPPED);
	int rc = pm_image(argv[1]);
	fprintf(stderr, "pm_image = %d\n", rc);
	if (rc < 0) {
		fprintf(stderr, "pm_image: %s\n", pm_errmsg());
		return 1;
	}
	if (rc == 0 && getenv("STOP"))
		return 0;
	size_t bt = check(table, TABLE, fill), bm = check(mapped, MAPPED, 0);
	/* the areas are writable, zero pages included */
	memset(table, 7, TABLE);
	memset(mapped, 7, MAPPED);
	size_t sevens = 0;
	for (size_t i = 0; i < TABLE / 8; i += 512)
		sevens += table[i] == 0x0707070707070707ull;
	for (size_t i = 0; i < MAPPED / 8; i += 512)
		sevens += mapped[i] == 0x0707070707070707ull;
	printf("table wrong words %zu, mapping wrong words %zu, written %zu\n",
	       bt, bm, sevens);
	return 0;
}
