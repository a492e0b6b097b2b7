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
 *       3. edits that every checksum and layout field agree with but that
 *          contradict themselves (a 16 EiB section whose length wraps the
 *          layout arithmetic; 40,000 heap sections, more than a writer
 *          makes): must be refused by the parser;
 *       4. replays every file in fuzz/corpus/ and fuzz/crashes/ through the
 *          fuzz target (must not crash; ASan/UBSan when the compiler has
 *          them).
 *     `fuzz_replay --write-corpus DIR` writes the generated files (the
 *     seeds in fuzz/corpus/ were made so).
 *
 * The fuzz target parses each input three ways: as a whole file; ignoring
 * checksums; and as a prefix of a longer file.  The fuzzer's own mutator
 * (LLVMFuzzerCustomMutator, below) mutates, sometimes a field of the
 * header or of a section with a value chosen to sit on a boundary, and
 * then makes every checksum and the file size right again, so that the
 * checks past the checksums are explored by the first parse too.
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

/* ---- the mutator ----------------------------------------------------------- */

static uint64_t rd(const uint8_t *p, int n)
{
	uint64_t v = 0;
	memcpy(&v, p, (size_t)n);
	return v;
}

static void wr(uint8_t *p, int n, uint64_t v) { memcpy(p, &v, (size_t)n); }

static uint32_t crc_at(const uint8_t *d, size_t size, uint64_t off,
		       uint64_t len, uint32_t old)
{
	return pm__range_in(off, len, 0, size) ? pm__crc32c(0, d + off, len)
					       : old;
}

/* Make file_size, the section crcs, meta_crc, table_crc and header_crc
 * what a writer would store, as far as the fields let them be found. */
static void fix_crcs(uint8_t *d, size_t size, int keep_file_size)
{
	if (size < PMF_HEADER_SIZE)
		return;
	if (!keep_file_size)
		wr(d + offsetof(struct pmf_header, file_size), 8, size);
	uint64_t toff = rd(d + offsetof(struct pmf_header, table_off), 8);
	uint64_t n = rd(d + offsetof(struct pmf_header, nsections), 4);
	uint64_t moff = rd(d + offsetof(struct pmf_header, meta_off), 8);
	uint64_t msize = rd(d + offsetof(struct pmf_header, meta_size), 8);
	if (n <= PMF_MAX_SECTIONS &&
	    pm__range_in(toff, n * sizeof(struct pmf_section), 0, size)) {
		for (uint64_t i = 0; i < n; i++) {
			uint8_t *s = d + toff + i * sizeof(struct pmf_section);
			uint64_t len = rd(s + offsetof(struct pmf_section, len),
					  8);
			uint64_t off = rd(s + offsetof(struct pmf_section,
						       data_off), 8);
			uint64_t koff = rd(s + offsetof(struct pmf_section,
							keep_off), 8);
			uint8_t *dc = s + offsetof(struct pmf_section, data_crc);
			uint8_t *kc = s + offsetof(struct pmf_section, keep_crc);
			wr(dc, 4, crc_at(d, size, off, len, (uint32_t)rd(dc, 4)));
			if (rd(s, 4) != PMF_SEC_HEAP)
				wr(kc, 4, crc_at(d, size, koff,
						 pmf_keep_bytes(len),
						 (uint32_t)rd(kc, 4)));
		}
		uint8_t *tc = d + offsetof(struct pmf_header, table_crc);
		wr(tc, 4, crc_at(d, size, toff, n * sizeof(struct pmf_section),
				 (uint32_t)rd(tc, 4)));
	}
	uint8_t *mc = d + offsetof(struct pmf_header, meta_crc);
	wr(mc, 4, crc_at(d, size, moff, msize, (uint32_t)rd(mc, 4)));
	wr(d + PMF_HEADER_CRC_OFF, 4, pm__crc32c(0, d, PMF_HEADER_CRC_OFF));
}

/* Lay the sections out where the writer would put them (globals from the
 * table's end, heap from the next page boundary; bytes are not moved),
 * with the header's counts and offsets to match, and the input grown or
 * cut to the file size that gives, when max allows.  The new size. */
static size_t relayout(uint8_t *d, size_t size, size_t max)
{
	if (size < PMF_HEADER_SIZE)
		return size;
	uint64_t ps = rd(d + offsetof(struct pmf_header, page_size), 4);
	uint64_t toff = rd(d + offsetof(struct pmf_header, table_off), 8);
	uint64_t n = rd(d + offsetof(struct pmf_header, nsections), 4);
	if (ps < PMF_MIN_PAGE || ps > PMF_MAX_PAGE || (ps & (ps - 1)) ||
	    n > PMF_MAX_SECTIONS ||
	    !pm__range_in(toff, n * sizeof(struct pmf_section), 0, size))
		return size;
	uint64_t gcur = toff + n * sizeof(struct pmf_section), gb = 0, hb = 0;
	for (uint64_t i = 0; i < n; i++) {
		uint8_t *s = d + toff + i * sizeof(struct pmf_section);
		uint64_t len = rd(s + offsetof(struct pmf_section, len), 8);
		if (rd(s, 4) == PMF_SEC_HEAP)
			continue;
		wr(s + offsetof(struct pmf_section, data_off), 8, gcur);
		wr(s + offsetof(struct pmf_section, keep_off), 8, gcur + len);
		gcur += len + pmf_keep_bytes(len); /* may wrap: the point */
		gb += len;
	}
	uint64_t heap_off = (gcur + ps - 1) & ~(ps - 1), hcur = heap_off;
	for (uint64_t i = 0; i < n; i++) {
		uint8_t *s = d + toff + i * sizeof(struct pmf_section);
		uint64_t len = rd(s + offsetof(struct pmf_section, len), 8);
		if (rd(s, 4) != PMF_SEC_HEAP)
			continue;
		wr(s + offsetof(struct pmf_section, data_off), 8, hcur);
		wr(s + offsetof(struct pmf_section, keep_off), 8, 0);
		wr(s + offsetof(struct pmf_section, keep_crc), 4, 0);
		hcur += len;
		hb += len;
	}
	wr(d + offsetof(struct pmf_header, heap_off), 8, heap_off);
	wr(d + offsetof(struct pmf_header, heap_bytes), 8, hb);
	wr(d + offsetof(struct pmf_header, globals_bytes), 8, gb);
	wr(d + offsetof(struct pmf_header, file_size), 8, hcur);
	if (hcur <= max && hcur >= PMF_HEADER_SIZE) {
		if (hcur > size)
			memset(d + size, 0, hcur - size);
		size = hcur;
	}
	if (gcur <= heap_off && heap_off <= size)
		memset(d + gcur, 0, heap_off - gcur); /* the zero padding */
	return size;
}

#ifndef PM_FUZZ_REPLAY
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max,
			       unsigned int seed);

/* Values on the edges the parser must get right. */
static uint64_t edge(unsigned r, const uint8_t *d)
{
	uint64_t base = rd(d + offsetof(struct pmf_header, base), 8);
	uint64_t size = rd(d + offsetof(struct pmf_header, size), 8);
	switch (r % 16) {
	case 0: return 0;
	case 1: return 1;
	case 2: return 8;
	case 3: return 4096;
	case 4: return ~0ull;
	case 5: return ~0ull - 7;
	case 6: return ~0ull - 4095;
	case 7: return 1ull << 63;
	case 8: return 0xfc0fc0fc0fc0fc08ull; /* len + keep_bytes(len) = 2^64 */
	case 9: return base;
	case 10: return base + size;
	case 11: return base - 4096;
	case 12: return 1ull << 32;
	case 13: return PMF_MAX_SECTIONS + 1ull;
	case 14: return (uint64_t)(r >> 4);
	default: return rd(d + (r >> 4) % PMF_HEADER_CRC_OFF / 8 * 8, 8);
	}
}

/* Set one field of the header or of a section to an edge value. */
static void mutate_field(uint8_t *d, size_t size, unsigned r)
{
	unsigned r2 = r * 2654435761u;
	uint64_t v = edge(r2 >> 8, d);
	uint64_t toff = rd(d + offsetof(struct pmf_header, table_off), 8);
	uint64_t n = rd(d + offsetof(struct pmf_header, nsections), 4);
	if (r % 3 || !n || !pm__range_in(toff, n * sizeof(struct pmf_section),
					 0, size)) {
		/* a header field: 8-byte fields at 24..96 and 112..152 */
		static const unsigned char f8[] = {24, 32, 40, 48, 56, 64,
						   72, 80, 88, 112, 120, 144};
		static const unsigned char f4[] = {8, 12, 16, 20, 96, 100};
		if (r & 4)
			wr(d + f8[(r >> 3) % sizeof f8], 8, v);
		else
			wr(d + f4[(r >> 3) % sizeof f4], 4, v);
		return;
	}
	uint8_t *s = d + toff + (r >> 3) % n * sizeof(struct pmf_section);
	uint64_t off = rd(s + offsetof(struct pmf_section, data_off), 8);
	if (r % 5 == 0 && rd(s, 4) == PMF_SEC_HEAP &&
	    pm__range_in(off, sizeof(struct pm_region), 0, size)) {
		/* a word of a heap section's first bytes: in the first one,
		 * the region header's pointers and counts */
		wr(d + off + (r >> 8) % (sizeof(struct pm_region) / 8) * 8, 8,
		   v);
		return;
	}
	switch ((r >> 16) % 6) {
	case 0: wr(s, 4, 1 + v % 6); break;            /* kind */
	case 1: wr(s + 4, 4, v & 7); break;            /* flags */
	case 2: wr(s + 8, 8, v); break;                /* addr */
	case 3: wr(s + 16, 8, v); break;               /* len */
	case 4: wr(s + 24, 8, v); break;               /* data_off */
	default: wr(s + 32, 8, v); break;              /* keep_off */
	}
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max,
			       unsigned int seed)
{
	if (seed % 4 == 0 && size >= PMF_HEADER_SIZE)
		mutate_field(data, size, seed >> 2);
	else
		size = LLVMFuzzerMutate(data, size, max);
	if (seed % 8 < 6)
		size = relayout(data, size, max);
	fix_crcs(data, size, seed % 8 >= 6 || seed % 64 == 1);
	return size;
}
#endif /* !PM_FUZZ_REPLAY */

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
		s[n++] = (struct gsec){PMF_SEC_HEAP, GBASE, regpages * GPAGE, 0};
		top_end = GBASE + regpages * GPAGE;
		break;
	case 1: /* every kind of globals and code, three heap spans */
		nobj = 4;
		s[n++] = (struct gsec){PMF_SEC_DATA, 0x555555558000ull, 112, 0};
		s[n++] = (struct gsec){PMF_SEC_PERSISTENT, 0x555555558070ull,
				       8, 0};
		s[n++] = (struct gsec){PMF_SEC_DATA, 0x555555558078ull, 520, 0};
		s[n++] = (struct gsec){PMF_SEC_REGISTERED, 0x7ffff7fa0000ull,
				       64, 0};
		s[n++] = (struct gsec){PMF_SEC_CODE, 0x7ffff7d03000ull, GPAGE,
				       PMF_PROT_READ | PMF_PROT_EXEC};
		s[n++] = (struct gsec){PMF_SEC_HEAP, GBASE,
				       (regpages + 1) * GPAGE, 0};
		s[n++] = (struct gsec){PMF_SEC_HEAP, GBASE + 8 * GPAGE, GPAGE, 0};
		s[n++] = (struct gsec){PMF_SEC_HEAP, GBASE + 20 * GPAGE,
				       3 * GPAGE, 0};
		break;
	case 2: /* many small heap sections */
		s[n++] = (struct gsec){PMF_SEC_HEAP, GBASE, regpages * GPAGE, 0};
		for (int i = 0; i < 30; i++)
			s[n++] = (struct gsec){PMF_SEC_HEAP,
					       GBASE + (regpages + 1 + 2 * i) *
							       GPAGE,
					       GPAGE, 0};
		break;
	case 3: /* globals only around a bare heap, one long bitmap */
		nobj = 2;
		s[n++] = (struct gsec){PMF_SEC_DATA, 0x400000ull, 8 * 1000, 0};
		s[n++] = (struct gsec){PMF_SEC_HEAP, GBASE, regpages * GPAGE, 0};
		break;
	default: /* 4..7: one section of each globals kind and a heap */
		nobj = 2;
		s[n++] = (struct gsec){PMF_SEC_HEAP, GBASE,
				       (regpages + 2) * GPAGE, 0};
		if (shape == 4)
			s[n++] = (struct gsec){PMF_SEC_DATA, 0x555555558000ull,
					       4096 + 64, 0};
		else if (shape == 5)
			s[n++] = (struct gsec){PMF_SEC_PERSISTENT,
					       0x555555559010ull, 48, 0};
		else if (shape == 6)
			s[n++] = (struct gsec){PMF_SEC_REGISTERED,
					       0x7ffff7f7f000ull, 1024, 0};
		else
			s[n++] = (struct gsec){PMF_SEC_CODE, 0x7ffff7ff0000ull,
					       2 * GPAGE,
					       PMF_PROT_READ | PMF_PROT_EXEC};
		break;
	}

	/* the persistent arena ends with its top chunk, at the end of the
	 * last heap section */
	for (int i = 0; i < n; i++)
		if (s[i].kind == PMF_SEC_HEAP)
			top_end = s[i].addr + s[i].len;
	uint64_t top = top_end - 64;

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
			if (top >= s[i].addr && top - s[i].addr < s[i].len) {
				uint64_t head = 64 | 1; /* size | PINUSE */
				memcpy(d + (top - s[i].addr) + 8, &head, 8);
			}
			if (s[i].addr == GBASE) {
				struct pm_region r;
				memset(&r, 0, sizeof r);
				/* an arena as pm__arena_init leaves it: empty
				 * bins linked to themselves, then a top */
				r.magic = PM_REGION_MAGIC;
				r.version = 3;
				r.header_size = sizeof r;
				r.base = GBASE;
				r.size = GSIZE;
				r.tbase = h->tbase;
				r.p.lo = GBASE + sizeof r;
				r.p.hi = h->tbase;
				for (int b = 0; b < PM_NSMALL + PM_NLARGE; b++)
					r.p.bins[2 * b] = r.p.bins[2 * b + 1] =
						GBASE +
						offsetof(struct pm_region,
							 p.bins) +
						16 * (uint64_t)b - 16;
				r.p.top = top;
				r.p.top_end = top_end;
				r.p.zero_from = top;
				r.p.trim_threshold = 16 << 20;
				memcpy(d, &r, sizeof r);
			}
		} else {
			uint64_t kb = pmf_keep_bytes(s[i].len);
			t[i].data_off = gcur;
			t[i].keep_off = gcur + s[i].len;
			d = f + gcur;
			for (uint64_t k = 0; k < s[i].len; k++)
				d[k] = (unsigned char)(k * 13 + (uint64_t)i);
			for (uint64_t k = 0; k < s[i].len / 64 &&
					     s[i].kind != PMF_SEC_CODE; k++)
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
#define NSHAPES 8

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

/* Parse the prefix [0, table end) of f (a generated file whose table was
 * edited) after laying it out and checksumming it as a writer would. */
static int parse_edited(unsigned char *f, size_t cap)
{
	struct pm__ckpt ck;
	struct pmf_header h;
	relayout(f, cap, 0);
	fix_crcs(f, cap, 1);
	memcpy(&h, f, sizeof h);
	size_t len = h.table_off + (size_t)h.nsections * sizeof(struct pmf_section);
	return pm__ckpt_parse(f, len, h.file_size, PM__PARSE_NO_DATA, &ck);
}

/* Edits that every checksum and layout field agree with, and that the
 * parser must still refuse: they are a file's own contradictions. */
static void edges(void)
{
	unsigned char *f;
	size_t n = gen(1, &f), cap = n + 64;
	struct pmf_header h;
	f = realloc(f, cap);
	memcpy(&h, f, sizeof h);
	struct pmf_section *t = (struct pmf_section *)(f + h.table_off);
	/* a 16 EiB section: len + keep_bytes(len) wraps to 0, the globals
	 * cursor stands still, and the section's data would be read past
	 * any buffer */
	for (uint32_t i = 0; i < h.nsections; i++) {
		if (t[i].kind != PMF_SEC_REGISTERED)
			continue;
		t[i].len = 0xfc0fc0fc0fc0fc08ull;
		EXPECT(t[i].len + pmf_keep_bytes(t[i].len) == 0, "no wrap");
		int rc = parse_edited(f, n);
		EXPECT(rc == PM_ECORRUPT, "a %llx-byte section parses: %d %s",
		       (unsigned long long)t[i].len, rc,
		       rc ? pm_errmsg() : "accepted");
	}
	free(f);

	/* more heap sections than a writer makes (16384): refused when the
	 * table is read, before any of them is applied */
	const uint32_t many = 40000;
	n = gen(0, &f);
	memcpy(&h, f, sizeof h);
	cap = h.table_off + (many + 1) * sizeof(struct pmf_section);
	f = realloc(f, cap);
	memset(f + h.table_off + sizeof(struct pmf_section), 0,
	       cap - h.table_off - sizeof(struct pmf_section));
	t = (struct pmf_section *)(f + h.table_off);
	for (uint32_t k = 1; k < many; k++)
		t[k] = (struct pmf_section){.kind = PMF_SEC_HEAP,
					    .addr = t[0].addr + t[0].len +
						    (2 * k - 1) * GPAGE,
					    .len = GPAGE};
	h.top_end = t[many - 1].addr + GPAGE;
	h.nsections = many;
	memcpy(f, &h, sizeof h);
	int rc = parse_edited(f, cap);
	EXPECT(rc == PM_ECORRUPT, "%u heap sections parse: %d %s", many, rc,
	       rc ? pm_errmsg() : "accepted");
	/* (the padding after a shorter table is zeroed: this one second) */
	h.nsections = 16384;
	memcpy(f, &h, sizeof h);
	rc = parse_edited(f, cap);
	EXPECT(rc == 0, "16384 heap sections (what a writer makes) are "
			"refused: %d %s",
	       rc, pm_errmsg());
	free(f);
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
	edges();
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
