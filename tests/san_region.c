/* The checks of untrusted heaps (check.c), through the internal API and
 * under ASan+UBSan: pm__region_check_copy refuses a region header with
 * each bad pointer or size, naming the field and its value, and accepts
 * the real one; pm__heap_check_image accepts a copy of a good heap,
 * refuses one with a corrupted chunk size or link, and never reads
 * outside the bytes it is given (ASan would say so: the copy is a malloc
 * block of exactly that length). */
#include <stdarg.h>
#include "pmalloc.h"
#include "testlib.h"
#include "../src/tcache.h"

static struct pm_region good;  /* a copy of the live header */
static unsigned char *image;   /* a copy of [base, top_end) */
static size_t image_len;
static uintptr_t base;
static char libc_data;         /* "an address of the executable's data" */

static void snapshot(void)
{
	/* as pm_heap_check holds it: caches stopped but not drained, fast
	 * lists not merged (a checkpoint's quiesce does both: its files
	 * have neither) */
	pm__lock_persistent();
	pm__lock_transient();
	pm__tc_stop_all();
	base = pm__region->base;
	image_len = pm__region->p.top_end - base;
	free(image);
	image = malloc(image_len);
	memcpy(image, (void *)base, image_len);
	pm__tc_start_all();
	pm__unlock_transient();
	pm__unlock_persistent();
	memcpy(&good, image, sizeof good);
}

/* The header with one change must be refused with a message holding
 * every string given (NULL-terminated list). */
static void refuse(const char *what, const struct pm_region *r, ...)
{
	int rc = pm__region_check_copy(r);
	CHECK_MSG(rc == PM_ECORRUPT, "%s: got %d (%s)", what, rc,
		  rc ? pm_errmsg() : "accepted");
	if (rc != PM_ECORRUPT)
		return;
	const char *msg = pm_errmsg();
	va_list ap;
	va_start(ap, r);
	for (const char *s; (s = va_arg(ap, const char *));)
		CHECK_MSG(strstr(msg, s) != NULL, "%s: \"%s\" lacks \"%s\"",
			  what, msg, s);
	va_end(ap);
	fprintf(stderr, "  %-28s %s\n", what, msg);
}

static const char *hex(uintptr_t v)
{
	static char buf[8][32];
	static int k;
	char *b = buf[k++ & 7];
	snprintf(b, 32, "0x%lx", (unsigned long)v);
	return b;
}

static void header_cases(void)
{
	struct pm_region r;
	uintptr_t evil = (uintptr_t)&libc_data & ~(uintptr_t)15;
	uintptr_t first = (good.p.lo + 15) & ~(uintptr_t)15;
#define CASE(what, change, ...)                                                \
	do {                                                                   \
		r = good;                                                      \
		change;                                                        \
		refuse(what, &r, __VA_ARGS__, (const char *)NULL);             \
	} while (0)
	CASE("magic", r.magic ^= 1, "magic");
	CASE("version", r.version = 99, "version 99");
	CASE("header_size", r.header_size = 8, "header_size 8");
	CASE("tbase", r.tbase = r.base + r.size, "tbase", hex(r.tbase));
	CASE("arena hi", r.p.hi += PM_PAGE, "arena range");
	CASE("top in data", r.p.top = evil, "top ", hex(evil));
	CASE("top misaligned", r.p.top += 8, "top ", hex(r.p.top));
	CASE("top_end", r.p.top_end = r.p.hi + PM_PAGE, "top_end",
	     hex(r.p.top_end));
	CASE("zero_from", r.p.zero_from = first - 16, "zero_from");
	CASE("trim_mark", r.p.trim_mark = evil, "trim_mark", hex(evil));
	CASE("fast head in data", r.p.fast[3] = evil, "fast list 3 head",
	     hex(evil), "outside the arena");
	CASE("fast head misaligned", r.p.fast[5] = first + 40,
	     "fast list 5 head", hex(first + 40));
	CASE("fast head above top", r.p.fast[7] = r.p.top + 16,
	     "fast list 7 head", hex(r.p.top + 16));
	CASE("fast head of size 16", r.p.fast[1] = first + 16,
	     "fast list 1 head");
	/* an empty small bin pointed at data: both links, then one */
	uintptr_t h9 = (uintptr_t)&((struct pm_region *)base)->p.bins[18] - 16;
	int empty9 = good.p.bins[18] == h9;
	CASE("bin fd/bk in data",
	     (r.p.bins[18] = r.p.bins[19] = evil, r.p.smallmap |= 1 << 9),
	     "small bin 9 fd", hex(evil));
	CASE("bin bk alone", r.p.bins[19] = evil, "small bin 9");
	CASE("bitmap", r.p.smallmap ^= 1ULL << 9, "small bin 9",
	     empty9 ? "is empty but its bitmap bit is set"
		    : "not empty but its bitmap bit is clear");
	CASE("large bitmap", r.p.largemap ^= 1ULL << 40, "large bin 40");
	CASE("live_bytes", r.p.live_bytes += 16, "live");
	CASE("free_bytes", r.p.free_bytes = (size_t)1 << 40, "free");
	CASE("fast_bytes odd", r.p.fast_bytes += 8, "deferred");
	CASE("tcaches in data", r.tcaches = evil, "thread cache list",
	     hex(evil));
	CASE("root pointer", (strcpy(r.roots[2].name, "x"),
			      r.roots[2].ptr = evil),
	     "root 2", hex(evil));
	CASE("root name", memset(r.roots[4].name, 'a', PM_ROOT_NAME),
	     "root 4: name not NUL-terminated");
	CASE("nkeys", r.nkeys = PM_NKEYS + 1, "pthread keys");
	CASE("key number", (r.nkeys = 1, r.keys[0].key = 5000),
	     "pthread key entry 0: key 5000");
#undef CASE
	CHECK_MSG(pm__region_check_copy(&good) == 0, "good header: %s",
		  pm_errmsg());
}

/* An image with one word changed must be refused, holding `want`. */
static void refuse_image(const char *what, uintptr_t addr, uintptr_t val,
			 const char *want)
{
	uintptr_t *w = (uintptr_t *)(image + (addr - base)), old = *w;
	*w = val;
	int rc = pm__heap_check_image(image, base, image_len);
	*w = old;
	CHECK_MSG(rc == PM_ECORRUPT, "%s: got %d", what, rc);
	if (rc == PM_ECORRUPT) {
		CHECK_MSG(strstr(pm_errmsg(), want) != NULL,
			  "%s: \"%s\" lacks \"%s\"", what, pm_errmsg(), want);
		fprintf(stderr, "  %-28s %s\n", what, pm_errmsg());
	}
}

/* tcache.h computes a small request's class by a short path: it must
 * agree with the general rule (request -> chunk size -> class) for every
 * request a cache serves. */
static void class_of_request(void)
{
	int bad = 0;
	for (size_t n = 0; n <= TC_MAXREQ; n++) {
		size_t sz = pm__request2size(n);
		unsigned want = sz < 1024 ? (unsigned)(sz >> 4)
					  : pm__tc_class_of_chunk(sz - 1) + 1;
		unsigned got = pm__tc_class_of_request(n);
		if (sz == 1024)
			want = TC_NSMALL;
		if (got != want && bad++ < 5)
			CHECK_MSG(0, "request %zu: class %u, want %u", n, got,
				  want);
		if (pm__tc_class_size(got) < sz ||
		    (got > 2 && pm__tc_class_size(got - 1) >= sz))
			if (bad++ < 5)
				CHECK_MSG(0, "request %zu: class %u of size %zu",
					  n, got, pm__tc_class_size(got));
	}
	CHECK_EQ(bad, 0);
}

/* A restored header the check was not asked about, or a write that
 * hit the live header: the allocator itself must abort with one line
 * naming the problem when it meets the bad field, not follow it.  Each
 * case runs in a child with stderr to a pipe. */
static int err_pipe[2];
static void child_bad_fast(void *arg)
{
	(void)arg;
	dup2(err_pipe[1], 2);
	pm__lock_persistent();
	pm__region->p.fast[3] = (uintptr_t)&libc_data & ~(uintptr_t)15;
	test_use(pm__arena_alloc(&pm__region->p, 40));
}
static void child_bad_top(void *arg)
{
	(void)arg;
	dup2(err_pipe[1], 2);
	pm__lock_persistent();
	pm__region->p.top = (uintptr_t)&libc_data & ~(uintptr_t)15;
	test_use(pm__arena_alloc(&pm__region->p, 100000));
}
static void child_bad_size(void *arg)
{
	/* a binned free chunk whose size grew: taking it must fail */
	(void)arg;
	dup2(err_pipe[1], 2);
	pm__lock_persistent();
	pm__arena_consolidate(&pm__region->p); /* fast lists into bins */
	uintptr_t c = 0;
	for (int b = PM_NSMALL; b < PM_NSMALL + PM_NLARGE && !c; b++) {
		uintptr_t h = (uintptr_t)&pm__region->p.bins[2 * b] - 16;
		if (pm__region->p.bins[2 * b] != h)
			c = pm__region->p.bins[2 * b];
	}
	if (!c)
		_exit(9);
	/* the smallest chunk of the first non-empty large bin, made to
	 * look huge: a request of its true size reaches it first */
	size_t sz = ((size_t *)c)[1] & ~(size_t)15;
	((size_t *)c)[1] += (size_t)1 << 30;
	test_use(pm__arena_alloc(&pm__region->p, sz - 8));
}

static void must_abort(const char *what, void (*fn)(void *), void *arg,
		       const char *want)
{
	if (pipe(err_pipe) != 0)
		return;
	int st = test_in_child(fn, arg, 1);
	close(err_pipe[1]);
	char out[1024];
	ssize_t n = read(err_pipe[0], out, sizeof out - 1);
	close(err_pipe[0]);
	out[n > 0 ? n : 0] = 0;
	char *nl = strchr(out, '\n');
	CHECK_MSG(TEST_ABORTED(st), "%s: status %#x \"%s\"", what, st, out);
	CHECK_MSG(nl && nl[1] == 0 && strncmp(out, "pmalloc: ", 9) == 0 &&
			  strstr(out, want),
		  "%s: \"%s\" (want one line with \"%s\")", what, out, want);
	fprintf(stderr, "  %-28s %s", what, out);
}

int main(void)
{
	class_of_request();
	/* a heap with live blocks, binned free chunks (small and large)
	 * and full fast lists (the quiesce drains caches onto them) */
	static void *keep[400], *drop[400];
	for (int i = 0; i < 400; i++) {
		size_t n = i % 4 == 0 ? 3000 + 50 * (size_t)i : 24 + 8 * (size_t)(i % 90);
		keep[i] = pm_malloc(n);
		drop[i] = pm_malloc(n + 100);
		memset(keep[i], 1, n);
	}
	for (int i = 0; i < 400; i++)
		pm_free(drop[i]);
	/* more frees of one class than its cache and its transfer stack
	 * hold: the overflow goes to the arena's fast list */
	static void *many[2000];
	for (int i = 0; i < 2000; i++)
		many[i] = pm_malloc(40);
	for (int i = 0; i < 2000; i++)
		pm_free(many[i]);
	CHECK_EQ(pm_heap_check(), 0);
	snapshot();
	int rc = pm__heap_check_image(image, base, image_len);
	CHECK_MSG(rc == 0, "good image: %s", pm_errmsg());
	int nfast = 0, nbins = 0;
	CHECK_NE(good.tcaches, 0);
	for (int i = 0; i < PM_NSMALL; i++)
		nfast += good.p.fast[i] != 0;
	nbins = __builtin_popcountll(good.p.smallmap) +
		__builtin_popcountll(good.p.largemap);
	CHECK_MSG(nfast > 0 && nbins > 0, "fast lists %d bins %d", nfast,
		  nbins);
	header_cases();

	/* chunk sizes and links inside the image */
	uintptr_t c = (uintptr_t)keep[10] - 16; /* a live small chunk */
	refuse_image("chunk size huge", c + 8, ((size_t)1 << 40) | 3,
		     "bad size");
	refuse_image("chunk size 0", c + 8, 3, "bad size");
	refuse_image("chunk size off by 16", c + 8,
		     (((size_t *)(image + (c + 8 - base)))[0] + 16), "chunk");
	/* a free chunk's fd pointed at data, and out of the image */
	uintptr_t bh = 0;
	for (int b = 0; b < PM_NSMALL + PM_NLARGE && !bh; b++) {
		uintptr_t h = (uintptr_t)&((struct pm_region *)base)->p
				      .bins[2 * b] - 16;
		if (good.p.bins[2 * b] != h)
			bh = good.p.bins[2 * b];
	}
	CHECK_NE(bh, 0);
	if (bh) {
		refuse_image("free chunk fd in data", bh + 16,
			     (uintptr_t)&libc_data & ~(uintptr_t)15, "bin");
		refuse_image("free chunk fd far away", bh + 16,
			     base + ((size_t)1 << 40), "bin");
		refuse_image("free chunk footer", bh + 8,
			     (((size_t *)(image + (bh + 8 - base)))[0] + 32),
			     "arena");
	}
	/* a fast-list block's link out of the image */
	for (int i = 0; i < PM_NSMALL; i++)
		if (good.p.fast[i]) {
			refuse_image("fast link far away", good.p.fast[i],
				     base + ((size_t)1 << 40), "fast list");
			refuse_image("fast key", good.p.fast[i] + 8, 0,
				     "fast list");
			break;
		}
	/* a transfer chain's link in data, and its length wrong */
	int nxfer = 0;
	for (int i = 0; i < PM_NSMALL; i++) {
		uintptr_t h = good.xfer[i] & TC_XFER_PTR;
		if (!h)
			continue;
		nxfer++;
		refuse_image("transfer link in data", h,
			     (uintptr_t)&libc_data & ~(uintptr_t)15,
			     "transfer stack");
		uint64_t w = *(uint64_t *)(image + (h + 16 - base));
		refuse_image("transfer chain length", h + 16,
			     (uintptr_t)(w + ((uint64_t)1 << 48)),
			     "transfer stack");
		break;
	}
	CHECK_MSG(nxfer > 0, "no chain on a transfer stack");
	/* a cached block's link in data */
	if (good.tcaches) {
		const struct pm_tcache *tc =
			(const void *)(image + (good.tcaches - base));
		for (int i = 0; i < TC_NCLASS; i++)
			if (tc->lists[i].head) {
				refuse_image("cached link in data",
					     (uintptr_t)tc->lists[i].head,
					     (uintptr_t)&libc_data & ~(uintptr_t)15,
					     "thread cache");
				break;
			}
	}
	/* a shorter image than the header says */
	rc = pm__heap_check_image(image, base, image_len - PM_PAGE);
	CHECK_MSG(rc == PM_ECORRUPT && strstr(pm_errmsg(), "does not hold"),
		  "short image: %d %s", rc, pm_errmsg());
	/* the live allocator meeting bad fields */
	must_abort("live: fast head in data", child_bad_fast, NULL,
		   "corrupted fast list");
	must_abort("live: top in data", child_bad_top, NULL,
		   "corrupted top chunk");
	must_abort("live: free chunk size", child_bad_size, NULL,
		   "corrupted free chunk");
	/* as a checkpoint sees it: quiesced (caches drained, fast lists
	 * merged) */
	pm__heap_quiesce();
	unsigned char *q = malloc(pm__region->p.top_end - base);
	size_t qlen = pm__region->p.top_end - base;
	memcpy(q, (void *)base, qlen);
	pm__heap_resume();
	rc = pm__region_check_copy((const struct pm_region *)q);
	CHECK_MSG(rc == 0, "quiesced header: %s", pm_errmsg());
	rc = pm__heap_check_image(q, base, qlen);
	CHECK_MSG(rc == 0, "quiesced image: %s", pm_errmsg());
	free(q);
	/* and still good after all that */
	rc = pm__heap_check_image(image, base, image_len);
	CHECK_MSG(rc == 0, "good image again: %s", pm_errmsg());
	for (int i = 0; i < 400; i++)
		pm_free(keep[i]);
	CHECK_EQ(pm_heap_check(), 0);
	free(image);
	return test_end();
}
