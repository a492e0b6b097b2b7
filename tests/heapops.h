/*
 * heapops.h - seeded random operation sequences checked against a shadow
 * model, over any malloc-like API (the interposed names or pm_*).
 * Each live block is filled with a pattern derived from its id; every
 * operation checks the blocks it touches, and a full pass checks contents,
 * alignment, usable size and that no two blocks overlap.
 */
#ifndef PM_HEAPOPS_H
#define PM_HEAPOPS_H
#include "testlib.h"

struct heap_api {
	void *(*malloc)(size_t);
	void (*free)(void *);
	void *(*calloc)(size_t, size_t);
	void *(*realloc)(void *, size_t);
	void *(*memalign)(size_t, size_t);
	size_t (*usable)(const void *);
	int (*check)(void);
};

struct shadow {
	unsigned char *p;
	size_t n;
	unsigned seed;
	size_t align;
};

static inline unsigned char pat(unsigned seed, size_t i)
{
	return (unsigned char)(seed * 131u + i * 7u + (i >> 8));
}

static inline void fill(struct shadow *s)
{
	for (size_t i = 0; i < s->n; i++)
		s->p[i] = pat(s->seed, i);
}

static inline int intact(const struct shadow *s)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->p[i] != pat(s->seed, i))
			return 0;
	return 1;
}

static int cmp_shadow(const void *a, const void *b)
{
	const struct shadow *x = a, *y = b;
	return x->p < y->p ? -1 : x->p > y->p;
}

static inline size_t pick_size(uint64_t *rng)
{
	uint64_t r = test_rand(rng);
	switch (r % 64) {
	case 0: return 0;
	case 1: return (r >> 8) % (2u << 20);          /* large */
	case 2: case 3: return (r >> 8) % 200000;
	case 4: case 5: case 6: case 7: return 1000 + (r >> 8) % 30;
	}
	switch (r % 4) {
	case 0: case 1: return (r >> 8) % 128;
	case 2: return (r >> 8) % 1100;
	default: return (r >> 8) % 16384;
	}
}

/* Full pass: contents, alignment, usable size, no overlap. */
static int shadow_verify(const struct heap_api *api, struct shadow *sh,
			 int nslots)
{
	int bad = 0;
	static struct shadow sorted[1 << 14];
	int k = 0;
	for (int i = 0; i < nslots; i++) {
		if (!sh[i].p)
			continue;
		if (!intact(&sh[i]))
			bad++, fprintf(stderr, "slot %d corrupted\n", i);
		if ((uintptr_t)sh[i].p % sh[i].align)
			bad++, fprintf(stderr, "slot %d misaligned\n", i);
		if (api->usable(sh[i].p) < sh[i].n)
			bad++, fprintf(stderr, "slot %d usable %zu < %zu\n", i,
				       api->usable(sh[i].p), sh[i].n);
		sorted[k++] = sh[i];
	}
	qsort(sorted, (size_t)k, sizeof sorted[0], cmp_shadow);
	for (int i = 1; i < k; i++)
		if (sorted[i - 1].p + (sorted[i - 1].n ? sorted[i - 1].n : 1) >
		    sorted[i].p)
			bad++, fprintf(stderr, "blocks overlap\n");
	if (api->check && api->check() != 0)
		bad++, fprintf(stderr, "heap check failed\n");
	return bad;
}

/* Run nops random operations over nslots slots; returns failures. */
static int run_heapops(const struct heap_api *api, uint64_t seed, int nslots,
		       long nops)
{
	struct shadow *sh = calloc((size_t)nslots, sizeof *sh);
	uint64_t rng = seed | 1;
	int bad = 0;
	for (long op = 0; op < nops; op++) {
		int i = (int)(test_rand(&rng) % (uint64_t)nslots);
		struct shadow *s = &sh[i];
		if (s->p && !intact(s)) {
			bad++;
			fprintf(stderr, "op %ld: slot %d corrupted\n", op, i);
		}
		unsigned kind = (unsigned)(test_rand(&rng) % 10);
		if (s->p && kind < 4) {
			api->free(s->p);
			s->p = NULL;
		} else if (s->p && kind < 7) {
			size_t n = pick_size(&rng);
			unsigned char *q = api->realloc(s->p, n);
			if (n == 0) {
				/* glibc semantics: freed, NULL */
				if (q)
					bad++, fprintf(stderr, "realloc(p,0) "
							       "returned %p\n",
						       (void *)q);
				s->p = NULL;
				continue;
			}
			if (!q) {
				bad++;
				continue;
			}
			size_t keep = s->n < n ? s->n : n;
			for (size_t j = 0; j < keep; j++)
				if (q[j] != pat(s->seed, j)) {
					bad++;
					fprintf(stderr, "realloc lost data\n");
					break;
				}
			s->p = q;
			s->n = n;
			s->align = 16;
			fill(s);
		} else if (!s->p) {
			size_t n = pick_size(&rng);
			unsigned k2 = (unsigned)(test_rand(&rng) % 8);
			s->align = 16;
			if (k2 == 0) {
				s->p = api->calloc(1, n);
				for (size_t j = 0; s->p && j < n; j++)
					if (s->p[j]) {
						bad++;
						fprintf(stderr, "calloc not "
								"zero\n");
						break;
					}
			} else if (k2 == 1) {
				s->align = (size_t)1 << (4 + test_rand(&rng) % 10);
				s->p = api->memalign(s->align, n);
			} else {
				s->p = api->malloc(n);
			}
			if (!s->p) {
				bad++;
				fprintf(stderr, "allocation of %zu failed\n", n);
				continue;
			}
			s->n = n;
			s->seed = (unsigned)test_rand(&rng);
			fill(s);
		}
		if (op % (nops / 8 + 1) == 0 || getenv("HEAPOPS_EVERY"))
			bad += shadow_verify(api, sh, nslots);
	}
	bad += shadow_verify(api, sh, nslots);
	for (int i = 0; i < nslots; i++)
		api->free(sh[i].p);
	if (api->check && api->check() != 0)
		bad++, fprintf(stderr, "heap check failed after freeing all\n");
	free(sh);
	return bad;
}
#endif
