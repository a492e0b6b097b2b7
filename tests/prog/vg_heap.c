/*
 * vg_heap.c - a program with planted heap bugs, for tests/vg_*.sh: run
 * under memcheck with pmalloc as its allocator (interposed, not linked:
 * the script preloads libpmalloc.so), memcheck must report each bug at an
 * address inside pmalloc's region, and nothing in the clean modes.
 *
 *   clean          the whole malloc family, C strings, usable-size bytes,
 *                  large blocks and malloc_trim, threads, a fork;
 *                  everything freed: no report
 *   uaf            a byte read from a freed block
 *   over           a byte read one past a 24-byte block
 *   leak           a 40-byte block whose only pointer is dropped; with
 *                  <valgrind/memcheck.h>, a leak search right then and
 *                  memcheck's list of the lost blocks (their addresses)
 *   setup F        a list under the root "vg" and a global, checkpointed
 *                  to F (needs pmalloc.h's API: linked with -lpmalloc)
 *   verify F       pm_restore(F) (unless restored before main()), the
 *                  list and the global checked, then every restored
 *                  block freed; no report
 *   restored_uaf F pm_restore(F), one restored block freed, then read
 * Each prints "block 0x..." (the address the bug is about) and "region
 * 0x... 0x..." (pm_heap_info) so the script can compare.
 */
#define _GNU_SOURCE
#include <pmalloc.h>

#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#if defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define HAVE_MEMCHECK_H 1
#endif
#endif

struct node {
	struct node *next;
	long v;
	char name[40];
};

static struct node *list;      /* saved with the executable's globals */
static void *volatile sink;    /* keeps the compiler honest */
static volatile char got;

static void region(void)
{
	struct pm_heap_info hi;
	if (pm_heap_info(&hi) == 0)
		printf("region 0x%lx 0x%lx\n", (unsigned long)hi.base,
		       (unsigned long)(hi.base + hi.size));
}

static void *worker(void *arg)
{
	void *slots[64] = { 0 };
	unsigned s = (unsigned)(uintptr_t)arg;
	for (int i = 0; i < 20000; i++) {
		s = s * 1103515245u + 12345u;
		int k = (int)((s >> 8) % 64);
		if (slots[k]) {
			free(slots[k]);
			slots[k] = NULL;
		} else {
			size_t n = (s >> 16) % 700;
			slots[k] = malloc(n);
			if (slots[k])
				memset(slots[k], 0x5a, n);
		}
	}
	for (int k = 0; k < 64; k++)
		free(slots[k]);
	return NULL;
}

static int clean(void)
{
	char *p = malloc(100);
	memset(p, 1, 100);
	p = realloc(p, 5000); /* grows: the first 100 bytes stay defined */
	if (p[99] != 1)
		return 1;
	memset(p + 100, 2, 4900);
	p = realloc(p, 10); /* shrinks */
	if (p[9] != 1)
		return 1;
	free(p);

	int *z = calloc(50, sizeof *z); /* defined zeros */
	for (int i = 0; i < 50; i++)
		if (z[i])
			return 1;
	free(z);

	/* the usable bytes past the request are the program's after it asks */
	char *u = malloc(20);
	size_t n = malloc_usable_size(u);
	memset(u, 3, n);
	if (u[n - 1] != 3)
		return 1;
	u = realloc(u, n + 100);
	if (u[n - 1] != 3)
		return 1;
	free(u);

	void *a = memalign(256, 100), *b = aligned_alloc(64, 128), *c;
	if (posix_memalign(&c, 4096, 33) || ((uintptr_t)a & 255) ||
	    ((uintptr_t)b & 63) || ((uintptr_t)c & 4095))
		return 1;
	memset(a, 0, 100), memset(b, 0, 128), memset(c, 0, 33);
	free(a), free(b), free(c);
	void *v = valloc(10);
	memset(v, 0, 10);
	free(v);

	char *d = strdup("a string of the program's");
	char *line = NULL;
	if (asprintf(&line, "%s %d", d, 42) < 0 || strcmp(line, "a string of "
						     "the program's 42"))
		return 1;
	free(d), free(line);

	/* blocks in many sizes, freed out of order (caches, bins, top) */
	void *many[300];
	for (int i = 0; i < 300; i++) {
		many[i] = malloc((size_t)(i * 37) % 20000 + 1);
		memset(many[i], i, (size_t)(i * 37) % 20000 + 1);
	}
	for (int i = 0; i < 300; i += 2)
		free(many[i]);
	for (int i = 1; i < 300; i += 2)
		free(many[i]);

	/* large blocks, their pages given back, the memory used again */
	char *big = malloc(40 << 20);
	memset(big, 7, 40 << 20);
	big = realloc(big, 50 << 20);
	if (big[(40 << 20) - 1] != 7)
		return 1;
	free(big);
	malloc_trim(0);
	big = calloc(1, 30 << 20);
	if (big[(30 << 20) - 1])
		return 1;
	free(big);
	struct mallinfo2 mi = mallinfo2();
	if (!mi.arena)
		return 1;

	pthread_t th[2];
	for (long i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, worker, (void *)(i + 1));
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);

	pid_t pid = fork();
	if (pid == 0) {
		char *q = malloc(64);
		memset(q, 0, 64);
		free(q);
		_exit(0);
	}
	int st;
	waitpid(pid, &st, 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		return 1;
	if (pm_heap_check())
		return 1;
	return 0;
}

static int setup(const char *f)
{
	for (int i = 0; i < 200; i++) {
		struct node *n = malloc(sizeof *n);
		n->next = list;
		n->v = i;
		snprintf(n->name, sizeof n->name, "node %d", i);
		list = n;
		free(malloc((size_t)i * 13 + 1)); /* free chunks between */
	}
	pm_root_set("vg", list);
	int rc = pm_checkpoint(f);
	if (rc) {
		printf("pm_checkpoint: %s\n", pm_errmsg());
		return 1;
	}
	while (list) {
		struct node *n = list->next;
		free(list);
		list = n;
	}
	pm_root_set("vg", NULL);
	return 0;
}

static int restore(const char *f)
{
	/* restored already before main() (PMALLOC_RESTORE)? */
	if (pm_restored())
		printf("restored before main\n");
	int rc = pm_restored() ? 0 : pm_restore(f);
	if (rc) {
		printf("pm_restore: %s: %s\n", pm_strerror(rc), pm_errmsg());
		return 1;
	}
	if (pm_root_get("vg") != list) {
		printf("root %p, list %p\n", pm_root_get("vg"), (void *)list);
		return 1;
	}
	long want = 199;
	for (struct node *n = list; n; n = n->next, want--) {
		char name[40];
		snprintf(name, sizeof name, "node %ld", want);
		if (n->v != want || strcmp(n->name, name)) {
			printf("node %ld: %ld %s\n", want, n->v, n->name);
			return 1;
		}
	}
	if (want != -1) {
		printf("list ends at %ld\n", want);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *m = argc > 1 ? argv[1] : "clean";
	const char *f = argc > 2 ? argv[2] : "";
	setvbuf(stdout, NULL, _IONBF, 0);
	region();
	if (!strcmp(m, "clean"))
		return clean();
	if (!strcmp(m, "uaf")) {
		char *volatile p = malloc(24); /* volatile: no compiler warning */
		memset(p, 'a', 24);
		printf("block %p\n", (void *)p);
		free(p);
		got = p[3];
		return 0;
	}
	if (!strcmp(m, "over")) {
		char *volatile p = malloc(24);
		memset(p, 'a', 24);
		printf("block %p\n", (void *)p);
		got = p[24];
		free(p);
		return 0;
	}
	if (!strcmp(m, "leak")) {
		sink = malloc(40);
		printf("block %p\n", sink);
		sink = NULL;
#ifdef HAVE_MEMCHECK_H
		VALGRIND_DO_LEAK_CHECK;
		VALGRIND_MONITOR_COMMAND("block_list 1");
#endif
		return 0;
	}
	if (!strcmp(m, "setup"))
		return setup(f);
	if (!strcmp(m, "verify") || !strcmp(m, "restored_uaf")) {
		if (restore(f))
			return 1;
		if (!strcmp(m, "restored_uaf")) {
			struct node *volatile n = list->next;
			printf("block %p\n", (void *)n);
			list->next = n->next;
			free(n);
			got = n->name[0];
		}
		pm_root_set("vg", NULL);
		while (list) {
			struct node *n = list->next;
			free(list);
			list = n;
		}
		return 0;
	}
	fprintf(stderr, "usage: vg_heap clean|uaf|over|leak|setup F|verify F|"
			"restored_uaf F\n");
	return 2;
}
