/*
 * wordindex.c - a program with an expensive start-up, made instant by
 * pmalloc's checkpoint/restore.
 *
 *   wordindex [-n WORDS] [-c CHECKPOINT] [WORD...]
 *
 * What it does
 * ------------
 * At start-up it "reads" a corpus of WORDS words (default 3 million; the
 * corpus is generated from a fixed pseudo-random sequence, so every run sees
 * the same text) and builds an in-memory index: a hash table mapping each
 * distinct word to how often it occurs and at which positions.  That is a
 * few hundred thousand heap blocks and takes a second or two.  Then it
 * answers the query on its command line: for each WORD, its count and first
 * positions; with no WORD, the ten most frequent words.
 *
 * The point
 * ---------
 * The index is built with nothing but plain malloc, realloc, strdup and free,
 * and its root is an ordinary static global (`g_index` below).  There is no
 * special allocation API.  pmalloc keeps the whole heap at a fixed address,
 * so the program only has to:
 *
 *   1. call pm_restore(CHECKPOINT) first thing in main().  If that works,
 *      the heap and every global of this program are exactly as they were
 *      when the checkpoint was written: g_index points at a complete index,
 *      and the build is skipped;
 *   2. otherwise (no file yet, or a file pmalloc refuses: damaged, written
 *      by another build of the program, ...) build the index as usual and
 *      call pm_checkpoint(CHECKPOINT) so that the next run can restore it.
 *
 * Run it under `pmalloc run -- build/examples/wordindex ...`: that turns
 * address-space randomisation off, so that libc and the other libraries load
 * at the same addresses in every run (a restore refuses otherwise, since the
 * heap may hold pointers into them).  See examples/demo.sh.
 *
 * Status lines (timings, restored or built) go to stderr; the answers go to
 * stdout and are the same whether the index was built or restored.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pmalloc.h>

/* ---- the index -------------------------------------------------------------
 *
 * A chained hash table.  Every distinct word has one `struct entry` (a heap
 * block), its spelling (a strdup'ed block) and its positions (a realloc'ed
 * array).  The bucket array itself is a heap block that is replaced by a
 * bigger one as the table grows.
 */
struct entry {
	struct entry *next;  /* next entry in the same bucket */
	char *word;          /* strdup()ed */
	uint32_t count;      /* occurrences = used slots of pos[] */
	uint32_t cap;        /* allocated slots of pos[] */
	uint32_t *pos;       /* word numbers where it occurs, ascending */
};

struct index {
	struct entry **buckets; /* nbuckets chains */
	size_t nbuckets;        /* a power of two */
	size_t ndistinct;       /* entries in the table */
	size_t nwords;          /* corpus length the index was built from */
};

/*
 * THE root of everything: a plain static global.  pm_checkpoint() saves the
 * program's globals along with the heap, and pm_restore() puts them back,
 * so after a restore this struct again points at the restored buckets.
 */
static struct index g_index;

/* ---- helpers ------------------------------------------------------------- */

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n);
	if (!p) {
		fprintf(stderr, "wordindex: out of memory\n");
		exit(1);
	}
	return p;
}

/* FNV-1a: a simple, decent string hash. */
static uint64_t hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	while (*s)
		h = (h ^ (unsigned char)*s++) * 0x100000001b3ULL;
	return h;
}

/* ---- the corpus -------------------------------------------------------------
 *
 * Instead of shipping a big text file we generate one: word number i of the
 * corpus is a function of a pseudo-random sequence with a fixed seed.  Words
 * are spelled from syllables, and their frequencies roughly follow Zipf's
 * law (a few words are very common, most are rare), like a real text.
 */
static const char *const syllables[16] = {
	"a", "be", "ca", "do", "e", "fu", "ga", "hi",
	"i", "jo", "ka", "lu", "ma", "ne", "o", "pi",
};

/* xorshift64*: a tiny deterministic random number generator */
static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dULL;
}

/* Write the next corpus word into buf (at least 32 bytes). */
static void next_word(uint64_t *rng, char *buf)
{
	/* Pick a number of bits b in 0..20, then a rank below 2^b: each
	 * range [2^(b-1), 2^b) is equally likely, so small ranks are much
	 * more likely than large ones.  Ranks go up to about a million. */
	uint64_t r = rng_next(rng);
	unsigned bits = (unsigned)(r % 21);
	uint64_t rank = (r >> 32) & ((1ULL << bits) - 1);

	/* spell the rank in base 16, one syllable per digit */
	buf[0] = '\0';
	do {
		strcat(buf, syllables[rank % 16]);
		rank /= 16;
	} while (rank);
}

/* ---- building (the expensive start-up) ------------------------------------ */

/* Double the bucket array and move every entry to its new chain. */
static void grow_table(void)
{
	size_t n = g_index.nbuckets ? 2 * g_index.nbuckets : 1024;
	struct entry **nb = calloc(n, sizeof *nb);
	if (!nb) {
		fprintf(stderr, "wordindex: out of memory\n");
		exit(1);
	}
	for (size_t i = 0; i < g_index.nbuckets; i++) {
		struct entry *e = g_index.buckets[i], *next;
		for (; e; e = next) {
			next = e->next;
			size_t b = hash(e->word) & (n - 1);
			e->next = nb[b];
			nb[b] = e;
		}
	}
	free(g_index.buckets);
	g_index.buckets = nb;
	g_index.nbuckets = n;
}

/* Find word's entry, creating it if it is new. */
static struct entry *lookup(const char *word, int create)
{
	if (!g_index.nbuckets)
		return NULL;
	size_t b = hash(word) & (g_index.nbuckets - 1);
	for (struct entry *e = g_index.buckets[b]; e; e = e->next)
		if (!strcmp(e->word, word))
			return e;
	if (!create)
		return NULL;

	struct entry *e = calloc(1, sizeof *e);
	if (!e || !(e->word = strdup(word))) {
		fprintf(stderr, "wordindex: out of memory\n");
		exit(1);
	}
	e->next = g_index.buckets[b];
	g_index.buckets[b] = e;
	g_index.ndistinct++;
	return e;
}

static void build_index(size_t nwords)
{
	uint64_t rng = 0x243f6a8885a308d3ULL; /* the fixed seed */
	char word[32];

	grow_table();
	for (size_t i = 0; i < nwords; i++) {
		next_word(&rng, word);
		struct entry *e = lookup(word, 1);
		if (e->count == e->cap) { /* grow the positions array */
			e->cap = e->cap ? 2 * e->cap : 2;
			e->pos = xrealloc(e->pos, e->cap * sizeof *e->pos);
		}
		e->pos[e->count++] = (uint32_t)i;
		if (g_index.ndistinct > g_index.nbuckets)
			grow_table(); /* keep chains short */
	}
	g_index.nwords = nwords;
}

/* Give every block back (used when a restored index is the wrong size). */
static void free_index(void)
{
	for (size_t i = 0; i < g_index.nbuckets; i++) {
		struct entry *e = g_index.buckets[i], *next;
		for (; e; e = next) {
			next = e->next;
			free(e->word);
			free(e->pos);
			free(e);
		}
	}
	free(g_index.buckets);
	memset(&g_index, 0, sizeof g_index);
}

/* ---- answering ------------------------------------------------------------ */

static void print_entry(const char *word, const struct entry *e)
{
	printf("%-12s %8u", word, e ? e->count : 0);
	for (uint32_t i = 0; e && i < e->count && i < 5; i++)
		printf(" %s%u", i ? "" : "at ", e->pos[i]);
	if (e && e->count > 5)
		printf(" ...");
	printf("\n");
}

static int by_count(const void *a, const void *b)
{
	const struct entry *x = *(struct entry *const *)a;
	const struct entry *y = *(struct entry *const *)b;
	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	return strcmp(x->word, y->word);
}

static void print_top(size_t k)
{
	/* collect every entry, sort by count (this array is a temporary
	 * block: it lives and dies in this run) */
	struct entry **all = xrealloc(NULL, (g_index.ndistinct + 1) *
						    sizeof *all);
	size_t n = 0;
	for (size_t i = 0; i < g_index.nbuckets; i++)
		for (struct entry *e = g_index.buckets[i]; e; e = e->next)
			all[n++] = e;
	qsort(all, n, sizeof *all, by_count);
	printf("the %zu most frequent words:\n", k < n ? k : n);
	for (size_t i = 0; i < k && i < n; i++)
		print_entry(all[i]->word, all[i]);
	free(all);
}

/* ---- main ----------------------------------------------------------------- */

static void usage(void)
{
	fprintf(stderr, "usage: wordindex [-n WORDS] [-c CHECKPOINT] [WORD...]\n"
			"  -n WORDS       corpus length (default 3000000)\n"
			"  -c CHECKPOINT  checkpoint file (default "
			"wordindex.ckpt)\n");
	exit(2);
}

int main(int argc, char **argv)
{
	/*
	 * Everything main() needs to remember across pm_restore() is kept
	 * in local variables: pm_restore() overwrites the program's globals
	 * with their checkpointed values, but it leaves the stack alone.
	 * Also, nothing here calls malloc before pm_restore(): a restore
	 * refuses (-EBUSY) once the program holds heap blocks of its own.
	 */
	double t0 = now();
	size_t want = 3000000;
	const char *ckpt = "wordindex.ckpt";
	int i = 1;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "-n") && i + 1 < argc) {
			char *end;
			want = strtoul(argv[++i], &end, 10);
			if (*end || want == 0 || want > UINT32_MAX)
				usage();
		} else if (!strcmp(argv[i], "-c") && i + 1 < argc) {
			ckpt = argv[++i];
		} else if (!strcmp(argv[i], "--")) {
			i++;
			break;
		} else {
			usage();
		}
	}

	/* Step 1: try to get the index back from the checkpoint. */
	int restored = 0;
	if (pm_restored()) {
		/* `pmalloc run --restore FILE` (PMALLOC_RESTORE=FILE) already
		 * restored a checkpoint before main() */
		restored = 1;
	} else {
		int rc = pm_restore(ckpt);
		if (rc == 0)
			restored = 1;
		else if (rc == -ENOENT)
			fprintf(stderr, "wordindex: no checkpoint %s yet\n", ckpt);
		else
			/* pm_errmsg() says exactly which check failed */
			fprintf(stderr, "wordindex: checkpoint %s refused: %s\n",
				ckpt, pm_errmsg());
	}

	/* A restored index for another corpus length is of no use: free it
	 * (restored blocks are ordinary heap blocks) and build afresh. */
	if (restored && g_index.nwords != want) {
		fprintf(stderr, "wordindex: %s holds an index of %zu words, "
				"not %zu\n", ckpt, g_index.nwords, want);
		free_index();
		restored = 0;
	}

	/* Step 2: if nothing was restored, do the expensive work and save
	 * the result for the next run. */
	double t1 = now(), t2 = t1;
	if (!restored) {
		fprintf(stderr, "wordindex: building the index of %zu words\n",
			want);
		build_index(want);
		t2 = now();
		int rc = pm_checkpoint(ckpt);
		if (rc)
			fprintf(stderr, "wordindex: cannot write %s: %s\n",
				ckpt, pm_errmsg());
	}
	double t3 = now();

	if (restored)
		fprintf(stderr, "wordindex: start-up %.3f s (restored from %s)\n",
			t3 - t0, ckpt);
	else
		fprintf(stderr, "wordindex: start-up %.3f s (built in %.3f s, "
				"checkpoint written in %.3f s)\n",
			t3 - t0, t2 - t1, t3 - t2);

	/* Step 3: the actual work of this run. */
	printf("%zu words, %zu distinct\n", g_index.nwords, g_index.ndistinct);
	if (i == argc)
		print_top(10);
	for (; i < argc; i++)
		print_entry(argv[i], lookup(argv[i], 0));
	return 0;
}
