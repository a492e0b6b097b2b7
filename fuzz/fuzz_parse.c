/*
 * fuzz_parse.c - the checkpoint parser under a fuzzer, and its replay test.
 *
 * Built three ways by fuzz/fuzz.mk, always with src/ckpt_read.c compiled
 * -DPM_CKPT_PARSE_ONLY (the parser touches nothing but its buffer):
 *   build/fuzz_parse        libFuzzer + ASan + UBSan (`make fuzz`)
 *   build/tests/fuzz_replay -DPM_FUZZ_REPLAY, a test in `make check`:
 *       1. generates small valid files of several shapes and checks that
 *          each parses;
 *       2. cuts each at every length (must be PM_ETRUNC) and flips every
 *          byte (must be refused: every byte is covered by a checksum, a
 *          zero-padding rule or a field check);
 *       3. replays every file in fuzz/corpus/ and fuzz/crashes/ through the
 *          fuzz target (must not crash; ASan/UBSan when the compiler has
 *          them).
 *     `fuzz_replay --write-corpus DIR` writes the generated files (the
 *     seeds in fuzz/corpus/ were made so).
 *
 * The fuzz target parses each input three ways: as a whole file; ignoring
 * checksums (or the fuzzer would rarely get past the header crc); and as a
 * prefix of a longer file.
 */
#include "../src/ckpt.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* util.c's warning path writes with this (os.c is not linked here). */
void pm__write_all(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t w = write(fd, s, n);
		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

static volatile size_t sink;

/* Use what a successful parse hands out, so that ASan sees any pointer
 * the parser let past the buffer. */
static void touch(const struct pm__ckpt *ck)
{
	size_t t = strlen(ck->meta->creator) + strlen(ck->meta->host);
	for (uint32_t i = 0; i < ck->h.nobjects; i++)
		t += strlen(ck->obj[i].path) + ck->obj[i].build_id_len;
	for (uint32_t i = 0; i < ck->h.nsections; i++)
		t += ck->sec[i].len + ck->sec[i].data_crc;
	sink = t;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pm__ckpt ck;
	/* the parser wants an 8-aligned buffer, as its callers give it */
	uint64_t *buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	if (!pm__ckpt_parse(buf, size, size, 0, &ck))
		touch(&ck);
	if (!pm__ckpt_parse(buf, size, size, PM__PARSE_NO_CRC, &ck))
		touch(&ck);
	if (!pm__ckpt_parse(buf, size, (uint64_t)size + 4096,
			    PM__PARSE_NO_CRC | PM__PARSE_NO_DATA, &ck))
		touch(&ck);
	free(buf);
	return 0;
}

#ifdef PM_FUZZ_REPLAY
/* ---- generated files ------------------------------------------------------- */

#define GBASE 0xe0000000ull
#define GSIZE (1ull << 32)
#define GPAGE 4096ull

struct gsec {
	uint32_t kind;
	uint64_t addr, len;
	uint32_t flags;
};

/* Lay out and fill a valid file as ckpt_write.c would. */
static size_t gen(int shape, unsigned char **out)
{
	struct gsec s[80];
	int n = 0, nobj = 1;
	uint64_t regpages = (sizeof(struct pm_region) + GPAGE - 1) / GPAGE;
	uint64_t top_end = GBASE + 64 * GPAGE;

	switch (shape) {
	case 0: /* the smallest: region header only */
		s[n++] = (struct gsec){PMF_SEC_HEAP, GBASE, regpages * GPAGE};
		top_end = GBASE + regpages * GPAGE;
		break;
	case 1: /* every kind of globals and code, three heap spans */
		nobj = 4;
		s[n++] = (struct gsec){PMF_SEC_DATA, 0x555555558000ull, 112};
		s[n++] = (struct gsec){PMF_SEC_PERSISTENT, 0x555555558070ull, 8};
		s[n++] = (struct gsec){PMF_SEC_DATA, 0x555555558078ull, 520};
		s[n++] = (struct gsec){PMF_SEC_REGISTERED, 0x7ffff7fa0000ull,
				       64};
		s[n++] = (struct gsec){PMF_SEC_CODE, 0x7ffff7d03000ull, GPAGE,
				       PMF_PROT_READ | PMF_PROT_WRITE |
					       PMF_PROT_EXEC};
		s[n++] = (struct gsec){PMF_SEC_HEAP, GBASE,
				       (regpages + 1) * GPAGE};
		s[n++] = (struct gsec){PMF_SEC_HEAP, GBASE + 8 * GPAGE, GPAGE};
		s[n++] = (struct gsec){PMF_SEC_HEAP, GBASE + 20 * GPAGE,
				       3 * GPAGE};
		break;
	case 2: /* many small heap sections */
		s[n++] = (struct gsec){PMF_SEC_HEAP, GBASE, regpages * GPAGE};
		for (int i = 0; i < 30; i++)
			s[n++] = (struct gsec){PMF_SEC_HEAP,
					       GBASE + (regpages + 1 + 2 * i) *
							       GPAGE,
					       GPAGE};
		break;
	default: /* globals only around a bare heap, one long bitmap */
		nobj = 2;
		s[n++] = (struct gsec){PMF_SEC_DATA, 0x400000ull, 8 * 1000};
		s[n++] = (struct gsec){PMF_SEC_HEAP, GBASE, regpages * GPAGE};
		break;
	}

	uint64_t msize = sizeof(struct pmf_meta) + nobj * sizeof(struct pmf_object);
	uint64_t table_end = PMF_HEADER_SIZE + msize + n * sizeof(struct pmf_section);
	uint64_t cur = table_end, gb = 0, hb = 0;
	for (int i = 0; i < n; i++)
		if (s[i].kind != PMF_SEC_HEAP)
			cur += s[i].len + pmf_keep_bytes(s[i].len), gb += s[i].len;
	uint64_t heap_off = (cur + GPAGE - 1) / GPAGE * GPAGE, size = heap_off;
	for (int i = 0; i < n; i++)
		if (s[i].kind == PMF_SEC_HEAP)
			size += s[i].len, hb += s[i].len;

	unsigned char *f = calloc(1, size);
	struct pmf_header *h = (struct pmf_header *)f;
	struct pmf_meta *m = (struct pmf_meta *)(f + PMF_HEADER_SIZE);
	struct pmf_object *o = (struct pmf_object *)(m + 1);
	struct pmf_section *t = (struct pmf_section *)(f + PMF_HEADER_SIZE + msize);
	memcpy(h->magic, PMF_MAGIC, 8);
	h->version = PMF_VERSION;
	h->header_size = PMF_HEADER_SIZE;
	h->page_size = GPAGE;
	h->base = GBASE;
	h->size = GSIZE;
	h->tbase = GBASE + GSIZE * 7 / 8;
	h->top_end = top_end;
	h->file_size = size;
	h->time_ns = 1700000000ull * 1000000000ull;
	h->meta_off = PMF_HEADER_SIZE;
	h->meta_size = msize;
	h->table_off = PMF_HEADER_SIZE + msize;
	h->nsections = (uint32_t)n;
	h->nobjects = (uint32_t)nobj;
	h->heap_bytes = hb;
	h->globals_bytes = gb;
	h->live_bytes = hb / 2;
	h->checkpoints = (uint64_t)shape + 1;
	h->heap_off = heap_off;
	strcpy(m->creator, "pmalloc " PMALLOC_VERSION_STRING);
	strcpy(m->host, "fuzz");
	m->pid = 4242;
	m->nthreads = 1;
	for (int i = 0; i < nobj; i++) {
		o[i].load = 0x555555554000ull + (uint64_t)i * 0x100000000ull;
		o[i].size = 10000u + (unsigned)i;
		o[i].mtime = 1700000000u;
		o[i].build_id_len = i == 2 ? 0 : 20;
		for (int k = 0; k < 20; k++)
			o[i].build_id[k] = (uint8_t)(i * 31 + k);
		snprintf(o[i].path, sizeof o[i].path, i ? "/lib/obj%d.so" : "/bin/prog", i);
	}
	uint64_t gcur = table_end, hcur = heap_off;
	for (int i = 0; i < n; i++) {
		t[i].kind = s[i].kind;
		t[i].flags = s[i].flags;
		t[i].addr = s[i].addr;
		t[i].len = s[i].len;
		unsigned char *d;
		if (s[i].kind == PMF_SEC_HEAP) {
			t[i].data_off = hcur;
			d = f + hcur;
			hcur += s[i].len;
			for (uint64_t k = 0; k < s[i].len; k++)
				d[k] = (unsigned char)(k * 7 + (uint64_t)i);
			if (s[i].addr == GBASE) {
				struct pm_region r;
				memset(&r, 0, sizeof r);
				r.magic = PM_REGION_MAGIC;
				r.version = 1;
				r.header_size = sizeof r;
				r.base = GBASE;
				r.size = GSIZE;
				r.tbase = h->tbase;
				r.p.top_end = top_end;
				memcpy(d, &r, sizeof r);
			}
		} else {
			uint64_t kb = pmf_keep_bytes(s[i].len);
			t[i].data_off = gcur;
			t[i].keep_off = gcur + s[i].len;
			d = f + gcur;
			for (uint64_t k = 0; k < s[i].len; k++)
				d[k] = (unsigned char)(k * 13 + (uint64_t)i);
			for (uint64_t k = 0; k < s[i].len / 64; k++)
				d[s[i].len + k] = (unsigned char)(0x5a ^ k);
			t[i].keep_crc = pm__crc32c(0, d + s[i].len, kb);
			gcur += s[i].len + kb;
		}
		t[i].data_crc = pm__crc32c(0, d, s[i].len);
	}
	h->meta_crc = pm__crc32c(0, m, msize);
	h->table_crc = pm__crc32c(0, t, n * sizeof *t);
	if (shape == 1) { /* a MAC (the parser checks only its placement) */
		h->flags = PMF_FLAG_MAC;
		for (int i = 0; i < PMF_MAC_LEN; i++)
			h->mac[i] = (uint8_t)(0xa5 ^ i);
	}
	h->header_crc = pm__crc32c(0, h, PMF_HEADER_CRC_OFF);
	*out = f;
	return size;
}
#define NSHAPES 4

static int failures;

#define EXPECT(c, ...)                                                         \
	do {                                                                   \
		if (!(c)) {                                                    \
			failures++;                                            \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);   \
			fprintf(stderr, __VA_ARGS__);                          \
			fputc('\n', stderr);                                   \
		}                                                              \
	} while (0)

static void sweep(int shape, unsigned char *f, size_t size)
{
	struct pm__ckpt ck;
	int rc = pm__ckpt_parse(f, size, size, 0, &ck);
	EXPECT(rc == 0, "shape %d does not parse: %d %s", shape, rc,
	       pm_errmsg());
	for (size_t cut = 0; cut < size; cut++) {
		rc = pm__ckpt_parse(f, cut, cut, 0, &ck);
		EXPECT(rc == PM_ETRUNC, "shape %d cut at %zu: %d %s", shape,
		       cut, rc, pm_errmsg());
		if (cut < 1024 || cut % 97 == 0)
			LLVMFuzzerTestOneInput(f, cut);
	}
	for (size_t at = 0; at < size; at++) {
		for (int bit = (int)(at % 8); bit < 8; bit += 8) {
			f[at] ^= (unsigned char)(1u << bit);
			rc = pm__ckpt_parse(f, size, size, 0, &ck);
			EXPECT(rc != 0, "shape %d: flip of bit %d at %zu not "
					"detected",
			       shape, bit, at);
			if (at < 1024 || at % 509 == 0)
				LLVMFuzzerTestOneInput(f, size);
			f[at] ^= (unsigned char)(1u << bit);
		}
	}
	/* trailing garbage */
	unsigned char *g = calloc(1, size + 8);
	memcpy(g, f, size);
	rc = pm__ckpt_parse(g, size + 1, size + 1, 0, &ck);
	EXPECT(rc == PM_ECORRUPT, "shape %d + 1 byte: %d", shape, rc);
	free(g);
}

static int replay_file(const char *path)
{
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return -1;
	size_t cap = 1 << 16, n = 0;
	unsigned char *b = malloc(cap);
	size_t r;
	while ((r = fread(b + n, 1, cap - n, fp)) > 0) {
		n += r;
		if (n == cap)
			b = realloc(b, cap *= 2);
	}
	fclose(fp);
	LLVMFuzzerTestOneInput(b, n);
	free(b);
	return 0;
}

/* Every file of dir; -1 if dir is not a directory. */
static int replay_dir(const char *dir)
{
	DIR *d = opendir(dir);
	int count = 0;
	if (!d)
		return -1;
	struct dirent *e;
	char p[4096];
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
		if (!replay_file(p))
			count++;
	}
	closedir(d);
	return count;
}

#ifndef PM_TOP
#define PM_TOP "."
#endif

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--write-corpus")) {
		for (int i = 0; i < NSHAPES; i++) {
			unsigned char *f;
			size_t n = gen(i, &f);
			char p[4096];
			snprintf(p, sizeof p, "%s/gen-%d.ckpt", argv[2], i);
			FILE *fp = fopen(p, "wb");
			if (!fp || fwrite(f, 1, n, fp) != n || fclose(fp)) {
				perror(p);
				return 1;
			}
			free(f);
		}
		return 0;
	}
	for (int i = 0; i < NSHAPES; i++) {
		unsigned char *f;
		size_t n = gen(i, &f);
		sweep(i, f, n);
		free(f);
	}
	const char *top = getenv("PMALLOC_TOP");
	if (!top)
		top = PM_TOP;
	char dir[4096];
	int replayed = 0;
	for (int k = 1; k < argc; k++) {
		int c = replay_dir(argv[k]);
		replayed += c >= 0 ? c : !replay_file(argv[k]);
	}
	if (argc == 1) {
		static const char *const sub[] = {"corpus", "crashes"};
		for (int k = 0; k < 2; k++) {
			snprintf(dir, sizeof dir, "%s/fuzz/%s", top, sub[k]);
			int c = replay_dir(dir);
			replayed += c > 0 ? c : 0;
		}
	}
	fprintf(stderr, "%d shapes swept, %d files replayed, %d failures\n",
		NSHAPES, replayed, failures);
	return failures ? 1 : 0;
}
#endif /* PM_FUZZ_REPLAY */
