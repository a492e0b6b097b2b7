/*
 * fuzz_parse.c - the checkpoint and process-image parsers under a fuzzer,
 * and their replay test.
 *
 * Built three ways by fuzz/fuzz.mk, always with the sources compiled
 * -DPM_CKPT_PARSE_ONLY (the parsers touch nothing but their buffers):
 * src/ckpt_parse.c, and for images src/image_parse.c and
 * src/image_kstate_check.c:
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
 *          them); a process image of fuzz/corpus/ must parse, every cut
 *          of it is PM_ETRUNC, every byte flip is refused (every byte of
 *          a small one), and so is each record deleted, doubled or cut
 *          short with every checksum made right (sweep_image).
 *     `fuzz_replay --write-corpus DIR` writes the generated files (the
 *     gen-* seeds in fuzz/corpus/ were made so); `fuzz_replay
 *     --strip-pages IN OUT` drops an image's PAGES sections (the image-*
 *     seeds: `make fuzz-image-corpus`).
 *
 * The fuzz target parses each input three ways: as a whole file; ignoring
 * checksums; and as a prefix of a longer file; a process image's records
 * are then checked (pm__image_parse, which calls pm__ks_check_records)
 * after the first two, and once more as pm__image_open reads them: the
 * prefix and the records each in a buffer of exactly their length.  The
 * fuzzer's own mutator (LLVMFuzzerCustomMutator, below) mutates,
 * sometimes a field of the header or of a section with a value chosen to
 * sit on a boundary, in an image also a field of a record (mutate_record:
 * a mapping, the process facts, a signal's action, a descriptor) or the
 * sections themselves (img_edit: one deleted, copied, resized or moved,
 * the bytes moved with it), and then lays the sections out as a writer
 * would and makes every checksum and the file size right again, so that
 * the checks past the checksums are explored by the first parse too.
 */
#include "../src/ckpt.h"
#include "../src/image.h"

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

/* The same for what pm__image_parse hands out: every pointer into the
 * records, and every string and count it vouched for. */
static void touch_image(const struct pm__image *im)
{
	size_t t = im->nvma + im->npages;
	for (uint32_t i = 0; i < im->nvma; i++)
		t += strlen(pm__image_name(im, im->vma[i].name)) +
		     im->vma[i].prot;
	const struct pmf_proc *p = im->proc;
	t += strlen(im->str + p->argv) + strlen(im->str + p->exe);
	t += im->stack[0] + im->stack[im->stack_len - 1];
	t += im->cpu[0] + im->cpu[sizeof(struct pm__ctx) - 1];
	t += im->signals[im->signals_len - 1];
	const struct pmf_fds *f = (const void *)im->fds;
	const struct pmf_fd *r = (const void *)(f + 1);
	const char *str = (const char *)im->fds + f->strings_off;
	t += strlen(str + f->cwd_off);
	for (uint32_t i = 0; i < f->nfds; i++)
		t += strlen(str + r[i].path_off) + r[i].class;
	for (uint32_t k = 0; k < im->nfiledata; k++)
		t += ((const unsigned char *)im->filedata[k].p)
			[im->filedata[k].len - 1];
	sink = t;
}

/* An image's records checked in buf, the buffer ck was parsed from. */
static void parse_image(const struct pm__ckpt *ck, const void *buf)
{
	struct pm__image im;
	if (ck->h.kind == PMF_KIND_IMAGE && !pm__image_parse(ck, buf, &im))
		touch_image(&im);
}

/* As pm__ckpt_open and pm__image_open read a file: the header, then the
 * prefix [0, table_end), then the records [0, heap_off) into a buffer of
 * their own, each exactly as long as read (ASan sees a byte past it). */
static void parse_as_opened(const uint8_t *data, size_t size)
{
	struct pm__ckpt ck;
	uint64_t head[PMF_HEADER_SIZE / 8];
	size_t n = size < PMF_HEADER_SIZE ? size : PMF_HEADER_SIZE;
	memcpy(head, data, n);
	if (pm__ckpt_parse(head, n, size, PM__PARSE_HEADER, &ck) ||
	    ck.table_end > size)
		return;
	size_t tlen = (size_t)ck.table_end;
	uint64_t *pre = malloc(tlen), *rec;
	if (!pre)
		return;
	memcpy(pre, data, tlen);
	if (!pm__ckpt_parse(pre, tlen, size, PM__PARSE_NO_DATA, &ck) &&
	    ck.h.kind == PMF_KIND_IMAGE && ck.h.heap_off <= size &&
	    (rec = malloc(ck.h.heap_off ? ck.h.heap_off : 1))) {
		memcpy(rec, data, ck.h.heap_off);
		parse_image(&ck, rec);
		free(rec);
	}
	free(pre);
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
	if (!pm__ckpt_parse(buf, size, size, 0, &ck)) {
		touch(&ck);
		parse_image(&ck, buf);
	}
	if (!pm__ckpt_parse(buf, size, size, PM__PARSE_NO_CRC, &ck)) {
		touch(&ck);
		parse_image(&ck, buf);
	}
	if (!pm__ckpt_parse(buf, size, (uint64_t)size + 4096,
			    PM__PARSE_NO_CRC | PM__PARSE_NO_DATA, &ck))
		touch(&ck);
	free(buf);
	parse_as_opened(data, size);
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

/* A process image (version 2, kind 1: records and PAGES) rather than a
 * checkpoint (heap and globals sections with keep bitmaps). */
static int is_image(const uint8_t *d, size_t size)
{
	return size >= PMF_HEADER_SIZE &&
	       rd(d + offsetof(struct pmf_header, kind), 4) == PMF_KIND_IMAGE;
}

/* Where a section's bytes go in the file: the heap's and PAGES from
 * heap_off, the others (globals, records) from the table's end. */
static int paged(uint32_t kind, int image)
{
	return kind == (image ? PMF_SEC_PAGES : PMF_SEC_HEAP);
}

/* Bytes a section takes before the next one: globals are followed by
 * their keep bitmap, records are padded to 8. */
static uint64_t span(uint64_t len, int image)
{
	return image ? (len + 7) & ~7ull : len + pmf_keep_bytes(len);
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
	int image = is_image(d, size);
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
			if (rd(s, 4) != PMF_SEC_HEAP && !image)
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

/* Lay the sections out where the writer would put them (globals or
 * records from the table's end, heap or PAGES from the next page
 * boundary; bytes are not moved), with the header's counts and offsets to
 * match, and the input grown or cut to the file size that gives, when max
 * allows.  The new size. */
static size_t relayout(uint8_t *d, size_t size, size_t max)
{
	if (size < PMF_HEADER_SIZE)
		return size;
	uint64_t ps = rd(d + offsetof(struct pmf_header, page_size), 4);
	uint64_t toff = rd(d + offsetof(struct pmf_header, table_off), 8);
	uint64_t n = rd(d + offsetof(struct pmf_header, nsections), 4);
	int image = is_image(d, size);
	if (ps < PMF_MIN_PAGE || ps > PMF_MAX_PAGE || (ps & (ps - 1)) ||
	    n > PMF_MAX_SECTIONS ||
	    !pm__range_in(toff, n * sizeof(struct pmf_section), 0, size))
		return size;
	uint64_t gcur = toff + n * sizeof(struct pmf_section), gb = 0, hb = 0;
	for (uint64_t i = 0; i < n; i++) {
		uint8_t *s = d + toff + i * sizeof(struct pmf_section);
		uint64_t len = rd(s + offsetof(struct pmf_section, len), 8);
		if (paged((uint32_t)rd(s, 4), image))
			continue;
		wr(s + offsetof(struct pmf_section, data_off), 8, gcur);
		wr(s + offsetof(struct pmf_section, keep_off), 8,
		   image ? 0 : gcur + len);
		if (image)
			wr(s + offsetof(struct pmf_section, keep_crc), 4, 0);
		gcur += span(len, image); /* may wrap: the point */
		gb += len;
	}
	uint64_t heap_off = (gcur + ps - 1) & ~(ps - 1), hcur = heap_off;
	for (uint64_t i = 0; i < n; i++) {
		uint8_t *s = d + toff + i * sizeof(struct pmf_section);
		uint64_t len = rd(s + offsetof(struct pmf_section, len), 8);
		if (!paged((uint32_t)rd(s, 4), image))
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
	for (uint64_t i = 0; image && i < n; i++) {
		/* and a record's padding to 8 */
		uint8_t *s = d + toff + i * sizeof(struct pmf_section);
		uint64_t len = rd(s + offsetof(struct pmf_section, len), 8);
		uint64_t off = rd(s + offsetof(struct pmf_section, data_off), 8);
		if (!paged((uint32_t)rd(s, 4), 1) &&
		    pm__range_in(off, span(len, 1), 0, size))
			memset(d + off + len, 0, span(len, 1) - len);
	}
	return size;
}

/* ---- images: sections moved, added, removed ----------------------------- */

enum img_op { IMG_DELETE, IMG_COPY, IMG_RESIZE, IMG_MOVE, IMG_NOPS };

struct isec {
	struct pmf_section s;
	const uint8_t *p; /* its bytes in the old file */
	uint64_t have;    /* how many of them are there */
};

/* Rewrite the image d (size bytes, room for max) with section k deleted,
 * copied to position j, resized to len (new bytes zero) or moved to
 * position j; every section's bytes moved with it, laid out as a writer
 * would.  The new size, or size when the table cannot be read or the
 * result would not fit. */
static size_t img_edit(uint8_t *d, size_t size, size_t max, enum img_op op,
		       uint32_t k, uint32_t j, uint64_t len)
{
	if (!is_image(d, size))
		return size;
	uint64_t ps = rd(d + offsetof(struct pmf_header, page_size), 4);
	uint64_t toff = rd(d + offsetof(struct pmf_header, table_off), 8);
	uint64_t n = rd(d + offsetof(struct pmf_header, nsections), 4);
	if (ps < PMF_MIN_PAGE || ps > PMF_MAX_PAGE || (ps & (ps - 1)) ||
	    n == 0 || n > 4096 || k >= n ||
	    !pm__range_in(toff, n * sizeof(struct pmf_section), 0, size))
		return size;
	struct isec *t = calloc(n + 1, sizeof *t);
	uint8_t *old = malloc(size);
	if (!t || !old) {
		free(t);
		free(old);
		return size;
	}
	memcpy(old, d, size);
	for (uint64_t i = 0; i < n; i++) {
		memcpy(&t[i].s, old + toff + i * sizeof t[i].s, sizeof t[i].s);
		uint64_t off = t[i].s.data_off;
		t[i].p = old + (off < size ? off : size);
		t[i].have = off < size ? size - off : 0;
		if (t[i].have > t[i].s.len)
			t[i].have = t[i].s.len;
	}
	j %= (uint32_t)n;
	struct isec one = t[k];
	switch (op) {
	case IMG_DELETE:
		if (n == 1)
			goto out;
		memmove(&t[k], &t[k + 1], (n - k - 1) * sizeof *t);
		n--;
		break;
	case IMG_COPY:
		memmove(&t[j + 1], &t[j], (n - j) * sizeof *t);
		t[j] = one;
		n++;
		break;
	case IMG_RESIZE:
		if (len > max)
			goto out;
		t[k].s.len = len;
		if (t[k].have > len)
			t[k].have = len;
		break;
	default:
		memmove(&t[k], &t[k + 1], (n - k - 1) * sizeof *t);
		memmove(&t[j + 1], &t[j], (n - 1 - j) * sizeof *t);
		t[j] = one;
		break;
	}
	/* the layout, in 64 bits that cannot wrap for lengths below max */
	uint64_t gcur = toff + n * sizeof(struct pmf_section), gb = 0, hb = 0;
	for (uint64_t i = 0; i < n; i++)
		if (!paged(t[i].s.kind, 1) && t[i].s.len <= max) {
			t[i].s.data_off = gcur;
			gcur += span(t[i].s.len, 1);
			gb += t[i].s.len;
		} else if (t[i].s.len > max) {
			goto out;
		}
	uint64_t heap_off = (gcur + ps - 1) & ~(ps - 1), end = heap_off;
	for (uint64_t i = 0; i < n && end <= max; i++)
		if (paged(t[i].s.kind, 1)) {
			t[i].s.data_off = end;
			end += t[i].s.len;
			hb += t[i].s.len;
		}
	if (end > max)
		goto out;
	memset(d + toff, 0, end - toff);
	for (uint64_t i = 0; i < n; i++) {
		t[i].s.keep_off = 0;
		t[i].s.keep_crc = 0;
		memcpy(d + toff + i * sizeof t[i].s, &t[i].s, sizeof t[i].s);
		memcpy(d + t[i].s.data_off, t[i].p, t[i].have);
	}
	wr(d + offsetof(struct pmf_header, nsections), 4, n);
	wr(d + offsetof(struct pmf_header, heap_off), 8, heap_off);
	wr(d + offsetof(struct pmf_header, heap_bytes), 8, hb);
	wr(d + offsetof(struct pmf_header, globals_bytes), 8, gb);
	wr(d + offsetof(struct pmf_header, file_size), 8, end);
	size = end;
out:
	free(t);
	free(old);
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

/* The fields of an image's records, as offset << 4 | size: a header at
 * the record's start, then (SIGNALS, FDS, VMAS) an array of records. */
#define F(off, n) ((off) << 4 | (n))
static const uint16_t f_vma[] = {F(0, 8),  F(8, 8),  F(16, 8), F(24, 8),
				 F(32, 8), F(40, 4), F(44, 4), F(48, 4),
				 F(52, 4), F(56, 8)};
static const uint16_t f_proc[] = {
	F(0, 8),   F(8, 8),   F(16, 8),  F(24, 8),  F(32, 8),  F(72, 8),
	F(112, 8), F(160, 4), F(164, 4), F(168, 4), F(172, 4), F(176, 4),
	F(180, 4), F(184, 8), F(192, 8), F(232, 8)};
static const uint16_t f_sig[] = {F(0, 4),  F(4, 4),  F(8, 8), F(16, 8),
				 F(24, 4), F(28, 4), F(32, 8)};
static const uint16_t f_act[] = {F(0, 8), F(8, 8), F(16, 8), F(24, 8)};
static const uint16_t f_fds[] = {F(0, 4),  F(4, 4),  F(8, 4),
				 F(12, 4), F(16, 4), F(20, 4),
				 F(24, 8), F(32, 8), F(40, 8)};
static const uint16_t f_fd[] = {F(0, 4),   F(4, 4),   F(8, 4),  F(12, 4),
				F(16, 8),  F(40, 8),  F(48, 8), F(64, 4),
				F(68, 4),  F(72, 4),  F(76, 4), F(80, 8),
				F(88, 8),  F(120, 8)};
static const uint16_t f_filedata[] = {F(0, 4), F(4, 4), F(8, 8), F(16, 8)};
#undef F
#define NF(a) (sizeof(a) / sizeof(a)[0])

/* Set one field of a record (len bytes at p, of kind) to v, a value near
 * its old one, or a small number (classes, counts, descriptor numbers). */
static void mutate_record(uint8_t *p, uint64_t len, uint32_t kind,
			  unsigned r, uint64_t v)
{
	const uint16_t *hf = NULL, *rf = NULL;
	size_t nh = 0, nr = 0;
	uint64_t base = 0, stride = 0, off;
	if (!len)
		return;
	switch (kind) {
	case PMF_SEC_VMAS: rf = f_vma, nr = NF(f_vma), stride = 64; break;
	case PMF_SEC_PROC: hf = f_proc, nh = NF(f_proc); break;
	case PMF_SEC_SIGNALS:
		hf = f_sig, nh = NF(f_sig), rf = f_act, nr = NF(f_act);
		base = 64, stride = 32;
		break;
	case PMF_SEC_FDS:
		hf = f_fds, nh = NF(f_fds), rf = f_fd, nr = NF(f_fd);
		base = 64, stride = 128;
		break;
	case PMF_SEC_FILEDATA: hf = f_filedata, nh = NF(f_filedata); break;
	}
	unsigned f;
	if (rf && (!nh || r & 1) && len >= base + stride) {
		f = rf[(r >> 1) % nr];
		off = base + (r >> 8) % ((len - base) / stride) * stride;
	} else if (nh) {
		f = hf[(r >> 1) % nh];
		off = 0;
	} else { /* STACK, CPU, STRINGS: any word, or a string's byte */
		off = (r >> 1) % len & ~7ull;
		if (kind == PMF_SEC_STRINGS && r & 2) {
			p[(r >> 2) % len] = "\0/\377a"[(r >> 24) % 4];
			return;
		}
		f = len - off >= 8 ? 8 : 1;
	}
	off += f >> 4;
	int n = f & 15;
	if (off + (unsigned)n > len)
		return;
	switch ((r >> 28) % 4) {
	case 0: v = rd(p + off, n) + ((r >> 24) & 1 ? 1 : -1); break;
	case 1: v = (r >> 16) % 80; break;
	default: break;
	}
	wr(p + off, n, v);
}

/* Set one field of the header or of a section to an edge value; in an
 * image, sometimes a field of a record. */
static void mutate_field(uint8_t *d, size_t size, unsigned r)
{
	unsigned r2 = r * 2654435761u;
	uint64_t v = edge(r2 >> 8, d);
	uint64_t toff = rd(d + offsetof(struct pmf_header, table_off), 8);
	uint64_t n = rd(d + offsetof(struct pmf_header, nsections), 4);
	int image = is_image(d, size);
	/* a checkpoint: the header one time in three; an image, whose
	 * records have more fields to reach: the header one time in three
	 * as well, the other times mostly a record */
	if ((image ? r % 3 == 1 : r % 3 != 0) || !n ||
	    !pm__range_in(toff, n * sizeof(struct pmf_section), 0, size)) {
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
	if (image && r % 5 < 3 && rd(s, 4) != PMF_SEC_PAGES &&
	    rd(s + 16, 8) <= size && pm__range_in(off, rd(s + 16, 8), 0, size)) {
		mutate_record(d + off, rd(s + 16, 8), (uint32_t)rd(s, 4),
			      r * 2246822519u, v);
		return;
	}
	switch ((r >> 16) % 6) {
	case 0: /* kind: in an image mostly an image's */
		wr(s, 4, is_image(d, size) && v % 8 ? 6 + v % 9 : 1 + v % 6);
		break;
	case 1: wr(s + 4, 4, v & 7); break;            /* flags */
	case 2: wr(s + 8, 8, v); break;                /* addr */
	case 3: wr(s + 16, 8, v); break;               /* len */
	case 4: wr(s + 24, 8, v); break;               /* data_off */
	default: wr(s + 32, 8, v); break;              /* keep_off */
	}
}

/* Delete, copy, resize or move a section of an image. */
static size_t mutate_image(uint8_t *d, size_t size, size_t max, unsigned r)
{
	uint64_t n = rd(d + offsetof(struct pmf_header, nsections), 4);
	uint64_t toff = rd(d + offsetof(struct pmf_header, table_off), 8);
	if (!n || !pm__range_in(toff, n * sizeof(struct pmf_section), 0, size))
		return size;
	uint32_t k = (r >> 3) % (uint32_t)n, j = (r >> 13) % (uint32_t)n;
	uint64_t len = rd(d + toff + k * sizeof(struct pmf_section) + 16, 8);
	static const int64_t delta[] = {1, -1, 8, -8, 4096, -4096, 64, -64};
	switch ((r >> 20) % 4) {
	case 0: len += (uint64_t)delta[(r >> 23) % 8]; break;
	case 1: len = (r >> 23) % 9000; break;
	case 2: len /= 2; break;
	default: len *= 2; break;
	}
	return img_edit(d, size, max, (enum img_op)(r % IMG_NOPS), k, j, len);
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max,
			       unsigned int seed)
{
	if (seed % 4 == 0 && size >= PMF_HEADER_SIZE)
		mutate_field(data, size, seed >> 2);
	else if (seed % 4 == 1 && is_image(data, size) && seed % 16 != 1)
		size = mutate_image(data, size, max, seed >> 2);
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

/* The whole of path in a malloc'd buffer (8-aligned); NULL if unreadable. */
static unsigned char *slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return NULL;
	size_t cap = 1 << 16, n = 0;
	unsigned char *b = malloc(cap);
	size_t r;
	while ((r = fread(b + n, 1, cap - n, fp)) > 0) {
		n += r;
		if (n == cap)
			b = realloc(b, cap *= 2);
	}
	fclose(fp);
	*len = n;
	return b;
}

/* An image as a resume reads it: parsed whole, then its records. */
static int image_rc(unsigned char *f, size_t size)
{
	struct pm__ckpt ck;
	struct pm__image im;
	int rc = pm__ckpt_parse(f, size, size, 0, &ck);
	return rc ? rc : pm__image_parse(&ck, f, &im);
}

/* A valid image (a seed of fuzz/corpus): it parses; every cut is
 * PM_ETRUNC; every byte is covered (a flip is refused; every byte of a
 * small image, every 4093rd of a larger one); edits that every checksum agrees
 * with are refused: a record missing or twice, a record cut short. */
static void sweep_image(const char *path, unsigned char *f, size_t size)
{
	struct pm__ckpt ck;
	int rc = image_rc(f, size);
	EXPECT(rc == 0, "%s does not parse: %d %s", path, rc, pm_errmsg());
	if (rc)
		return;
	size_t upto = size <= (64 << 10) ? size : 0;
	for (size_t cut = 0; cut < size; cut += cut < upto ? 1 : 4093) {
		rc = pm__ckpt_parse(f, cut, cut, 0, &ck);
		EXPECT(rc == PM_ETRUNC, "%s cut at %zu: %d %s", path, cut, rc,
		       pm_errmsg());
	}
	for (size_t at = 0; at < size; at += at < upto ? 1 : 4093) {
		f[at] ^= (unsigned char)(1u << at % 8);
		rc = image_rc(f, size);
		EXPECT(rc != 0, "%s: flip of bit %zu at %zu not detected",
		       path, at % 8, at);
		f[at] ^= (unsigned char)(1u << at % 8);
	}
	size_t cap = size + (64 << 10);
	unsigned char *g = malloc(cap);
	pm__ckpt_parse(f, size, size, 0, &ck);
	uint32_t n = ck.h.nsections;
	static const char *const what[] = {"deleted", "twice", "shorter"};
	for (uint32_t k = 0; k < n; k++) {
		uint32_t kind = ck.sec[k].kind;
		uint64_t len = ck.sec[k].len;
		if (kind == PMF_SEC_PAGES)
			continue;
		for (int op = 0; op < 3; op++) {
			if (op == 2 && (kind == PMF_SEC_STRINGS || len < 16))
				continue; /* (a shorter STRINGS may hold) */
			memcpy(g, f, size);
			size_t m = img_edit(g, size, cap,
					    op == 0   ? IMG_DELETE
					    : op == 1 ? IMG_COPY
						      : IMG_RESIZE,
					    k, k, len - 8);
			fix_crcs(g, m, 1);
			struct pm__ckpt ck2;
			EXPECT(!pm__ckpt_parse(g, m, m, 0, &ck2) &&
				       ck2.h.nsections == n + (op == 1) - (op == 0),
			       "%s: section %u %s: the edit does not parse: %s",
			       path, k, what[op], pm_errmsg());
			rc = image_rc(g, m);
			EXPECT(rc == PM_ECORRUPT, "%s: section %u (%s) %s: %d",
			       path, k, PM__KIND_NAME(kind), what[op], rc);
		}
	}
	free(g);
}

static int replay_file(const char *path)
{
	size_t n;
	unsigned char *b = slurp(path, &n);
	if (!b)
		return -1;
	LLVMFuzzerTestOneInput(b, n);
	struct pm__ckpt ck;
	if (!pm__ckpt_parse(b, n, n, 0, &ck) && ck.h.kind == PMF_KIND_IMAGE &&
	    strstr(path, "/corpus/"))
		sweep_image(path, b, n);
	free(b);
	return 0;
}

/* fuzz_replay --strip-pages IN OUT: the image IN without its PAGES
 * sections (a small seed whose records are real). */
static int strip_pages(const char *in, const char *out)
{
	size_t n;
	unsigned char *b = slurp(in, &n);
	if (!b || !is_image(b, n))
		return fprintf(stderr, "%s: not an image\n", in), 1;
	struct pm__ckpt ck;
	for (;;) {
		if (pm__ckpt_parse(b, n, n, 0, &ck))
			return fprintf(stderr, "%s: %s\n", in, pm_errmsg()), 1;
		uint32_t k = 0;
		while (k < ck.h.nsections && ck.sec[k].kind != PMF_SEC_PAGES)
			k++;
		if (k == ck.h.nsections)
			break;
		n = img_edit(b, n, n, IMG_DELETE, k, 0, 0);
		fix_crcs(b, n, 1);
	}
	/* a readable copied mapping of a file is saved whole (a reader
	 * refuses it without its pages): made anonymous, it needs none */
	for (uint32_t k = 0; k < ck.h.nsections; k++) {
		if (ck.sec[k].kind != PMF_SEC_VMAS)
			continue;
		struct pmf_vma *v = (struct pmf_vma *)(b + ck.sec[k].data_off);
		for (uint64_t i = 0; i < ck.sec[k].len / sizeof *v; i++)
			if (v[i].vclass == PMF_VMA_COPIED &&
			    (v[i].flags & PMF_VMAF_FILE)) {
				v[i].flags &= ~PMF_VMAF_FILE;
				v[i].offset = v[i].dev = v[i].inode = 0;
			}
	}
	fix_crcs(b, n, 1);
	FILE *fp = fopen(out, "wb");
	if (!fp || fwrite(b, 1, n, fp) != n || fclose(fp))
		return perror(out), 1;
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
	if (argc == 4 && !strcmp(argv[1], "--strip-pages"))
		return strip_pages(argv[2], argv[3]);
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
