/*
 * lazy_transient.c - the transient arena is made at its first request
 * (init.c, pm__transient_make): a process that only mallocs has its first
 * page still reserved (no access), and every reader of the heap works
 * before it exists; libc's first allocation after main() (a FILE) makes
 * it, and is counted in it.
 *
 * Prints "before PERMS live N | after PERMS live N" (PERMS: the maps'
 * permissions of the transient arena's first page), then the readers'
 * results; exit status 0 unless a call failed.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pmalloc.h>

/* the permissions of the mapping that holds address a, read with read(2)
 * into a static buffer (stdio would allocate: that is what is tested) */
#include <fcntl.h>
#include <unistd.h>
static char maps[1 << 20];
static const char *perms_at(unsigned long a)
{
	static char out[8];
	int fd = open("/proc/self/maps", O_RDONLY);
	size_t n = 0;
	ssize_t r;
	while (fd >= 0 && n < sizeof maps - 1 &&
	       (r = read(fd, maps + n, sizeof maps - 1 - n)) > 0)
		n += (size_t)r;
	if (fd >= 0)
		close(fd);
	maps[n] = '\0';
	strcpy(out, "none");
	for (char *l = maps; *l;) {
		unsigned long lo, hi;
		char p[5];
		if (sscanf(l, "%lx-%lx %4s", &lo, &hi, p) == 3 && a >= lo &&
		    a < hi) {
			memcpy(out, p, 5);
			break;
		}
		char *e = strchr(l, '\n');
		if (!e)
			break;
		l = e + 1;
	}
	return out;
}

int main(void)
{
	struct pm_heap_info hi;
	char line[256];
	int bad = 0;
	void *p = malloc(100); /* the program's own: persistent */
	if (!p || pm_heap_info(&hi))
		return 2;
	unsigned long tbase = hi.base + hi.size - ((hi.size / 8) & ~((1ul << 20) - 1));
	/* the readers, with no transient arena yet */
	struct mallinfo2 mi = mallinfo2();
	int trimmed = malloc_trim(0);
	size_t live0 = hi.transient;
	int n = snprintf(line, sizeof line, "before %s live %zu | ",
			 perms_at(tbase), live0);
	/* libc's FILE: the transient arena's first request */
	FILE *f = fopen("/dev/null", "r");
	if (!f || pm_heap_info(&hi))
		return 2;
	n += snprintf(line + n, sizeof line - (size_t)n, "after %s live %s\n",
		      perms_at(tbase), hi.transient > 0 ? ">0" : "0");
	fclose(f);
	bad |= write(1, line, (size_t)n) != n;
	/* readers once it exists */
	struct mallinfo2 mi2 = mallinfo2();
	printf("mallinfo grew %d trim %d\n", mi2.arena > mi.arena, trimmed >= 0);
	malloc_stats();
	bad |= mallopt(M_TRIM_THRESHOLD, 1 << 20) != 1;
	free(p);
	return bad;
}
