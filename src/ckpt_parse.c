/*
 * ckpt_parse.c - the checkpoint parser: a file image held in a buffer,
 * checked without touching anything else.
 *
 * pm__ckpt_parse() checks magic, version, header crc, sizes and offsets,
 * metadata and table crcs, every section's placement (exactly the layout
 * the writer produces), and, when the buffer holds the whole file, every
 * data crc and the heap's region header.  It reads nothing but the buffer
 * and needs nothing but crc32c and pm__err/pm__fmt: the fuzzer calls it
 * directly, the CLI through ckpt_verify.c.
 *
 * Invariant: no read outside [buf, buf+len), whatever the bytes; every
 * refusal says which check failed and where (section index, file offset).
 */
#include "ckpt.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

typedef unsigned long long ull;

static int str_ok(const char *s, size_t n)
{
	return memchr(s, '\0', n) != NULL;
}

/* The few fields of struct pm_region a file must agree with. */
int pm__ckpt_check_region(const struct pm__ckpt *ck, const unsigned char *r,
			   size_t n)
{
	uint64_t magic, base, size, tbase, top_end;
	if (n < sizeof(struct pm_region))
		return pm__err(PM_ECORRUPT,
			       "heap section 0 holds %zu bytes, less than the "
			       "%zu-byte region header",
			       n, sizeof(struct pm_region));
	memcpy(&magic, r + offsetof(struct pm_region, magic), 8);
	memcpy(&base, r + offsetof(struct pm_region, base), 8);
	memcpy(&size, r + offsetof(struct pm_region, size), 8);
	memcpy(&tbase, r + offsetof(struct pm_region, tbase), 8);
	memcpy(&top_end, r + offsetof(struct pm_region, p.top_end), 8);
	if (magic != PM_REGION_MAGIC)
		return pm__err(PM_ECORRUPT,
			       "region header at file offset %llu: bad magic "
			       "%llx",
			       (ull)ck->h.heap_off, (ull)magic);
	if (base != ck->h.base || size != ck->h.size || tbase != ck->h.tbase ||
	    top_end != ck->h.top_end)
		return pm__err(PM_ECORRUPT,
			       "region header disagrees with the file header "
			       "(base %llx/%llx size %llx/%llx tbase %llx/%llx "
			       "top_end %llx/%llx)",
			       (ull)base, (ull)ck->h.base, (ull)size,
			       (ull)ck->h.size, (ull)tbase, (ull)ck->h.tbase,
			       (ull)top_end, (ull)ck->h.top_end);
	return 0;
}

static int header_layout(uint64_t fsize, struct pm__ckpt *ck);

/* Magic, version, crc, flags of the header. */
static int parse_header(const unsigned char *b, size_t len, uint64_t fsize,
			unsigned how, struct pm__ckpt *ck)
{
	const struct pmf_header *h = &ck->h;
	size_t m = len < PMF_MAGIC_LEN ? len : PMF_MAGIC_LEN;

	if (fsize == 0)
		return pm__err(PM_ETRUNC, "the file is empty");
	if (memcmp(b, PMF_MAGIC, m) != 0)
		return pm__err(PM_EMAGIC, "bad magic in the first 8 bytes: not "
					  "a pmalloc checkpoint");
	if (fsize < PMF_HEADER_SIZE)
		return pm__err(PM_ETRUNC,
			       "the file ends at byte %llu, inside the %d-byte "
			       "header",
			       (ull)fsize, PMF_HEADER_SIZE);
	if (len < PMF_HEADER_SIZE)
		return pm__err(-EINVAL, "parse: %zu bytes given, the header "
					"needs %d",
			       len, PMF_HEADER_SIZE);
	memcpy(&ck->h, b, sizeof ck->h);
	if (h->version != PMF_VERSION && h->version != PMF_VERSION_IMAGE)
		return pm__err(PM_EVERSION,
			       "format version %u at offset 8; this pmalloc "
			       "reads versions %d and %d",
			       h->version, PMF_VERSION, PMF_VERSION_IMAGE);
	uint32_t crc = pm__crc32c(0, b, PMF_HEADER_CRC_OFF);
	if (crc != h->header_crc && !(how & PM__PARSE_NO_CRC))
		return pm__err(PM_ECORRUPT,
			       "header checksum mismatch (offset 252: stored "
			       "%08x, computed %08x)",
			       h->header_crc, crc);
	if (h->kind != (h->version == PMF_VERSION ? PMF_KIND_CHECKPOINT
						  : PMF_KIND_IMAGE))
		return pm__err(PM_ECORRUPT, "header: kind %u in a version %u "
					    "file",
			       h->kind, h->version);
	if (h->header_size != PMF_HEADER_SIZE ||
	    (h->flags != 0 && h->flags != PMF_FLAG_MAC) ||
	    !pm__ckpt_zero(h->reserved, sizeof h->reserved) ||
	    (!(h->flags & PMF_FLAG_MAC) &&
	     !pm__ckpt_zero(h->mac, sizeof h->mac)))
		return pm__err(PM_ECORRUPT, "header: size %u, flags %x, mac "
					    "or reserved bytes not as a "
					    "writer makes them",
			       h->header_size, h->flags);
	return header_layout(fsize, ck);
}

/* The header's sizes and offsets: the file's, the heap's, each part's. */
static int header_layout(uint64_t fsize, struct pm__ckpt *ck)
{
	const struct pmf_header *h = &ck->h;
	uint64_t ps = h->page_size;
	if (ps < PMF_MIN_PAGE || ps > PMF_MAX_PAGE || (ps & (ps - 1)))
		return pm__err(PM_ECORRUPT, "header: page size %llu", (ull)ps);
	if (fsize < h->file_size)
		return pm__err(PM_ETRUNC,
			       "the file has %llu bytes, its header says %llu",
			       (ull)fsize, (ull)h->file_size);
	if (fsize > h->file_size)
		return pm__err(PM_ECORRUPT,
			       "%llu bytes past the end the header records "
			       "(%llu)",
			       (ull)(fsize - h->file_size), (ull)h->file_size);
	if ((h->base | h->size | h->tbase) & (ps - 1) || h->size == 0 ||
	    h->base + h->size < h->base || h->tbase <= h->base ||
	    h->tbase > h->base + h->size || h->top_end <= h->base ||
	    h->top_end > h->tbase || (h->top_end & 7))
		return pm__err(PM_ECORRUPT,
			       "header: heap base %llx size %llx tbase %llx "
			       "top_end %llx are inconsistent",
			       (ull)h->base, (ull)h->size, (ull)h->tbase,
			       (ull)h->top_end);
	if (h->nobjects < 1 || h->nobjects > PMF_MAX_OBJECTS ||
	    h->nsections < 1 || h->nsections > PMF_MAX_SECTIONS)
		return pm__err(PM_ECORRUPT, "header: %u objects, %u sections",
			       h->nobjects, h->nsections);
	uint64_t msize = sizeof(struct pmf_meta) +
			 (uint64_t)h->nobjects * sizeof(struct pmf_object);
	if (h->meta_off != PMF_HEADER_SIZE || h->meta_size != msize ||
	    h->table_off != h->meta_off + msize)
		return pm__err(PM_ECORRUPT,
			       "header: metadata at %llu+%llu, table at %llu; "
			       "expected 256+%llu, %llu",
			       (ull)h->meta_off, (ull)h->meta_size,
			       (ull)h->table_off, (ull)msize,
			       (ull)(PMF_HEADER_SIZE + msize));
	ck->table_end = h->table_off +
			(uint64_t)h->nsections * sizeof(struct pmf_section);
	if (ck->table_end > h->file_size || h->heap_off < ck->table_end ||
	    h->heap_off > h->file_size || (h->heap_off & (ps - 1)))
		return pm__err(PM_ECORRUPT,
			       "header: table ends at %llu, heap data at %llu, "
			       "file size %llu",
			       (ull)ck->table_end, (ull)h->heap_off,
			       (ull)h->file_size);
	ck->file_size = fsize;
	return 0;
}

static int parse_meta(const unsigned char *b, unsigned how,
		      struct pm__ckpt *ck)
{
	const struct pmf_header *h = &ck->h;
	uint32_t crc = pm__crc32c(0, b + h->meta_off, h->meta_size);
	if (crc != h->meta_crc && !(how & PM__PARSE_NO_CRC))
		return pm__err(PM_ECORRUPT,
			       "metadata checksum mismatch (offset %llu, %llu "
			       "bytes: stored %08x, computed %08x)",
			       (ull)h->meta_off, (ull)h->meta_size, h->meta_crc,
			       crc);
	crc = pm__crc32c(0, b + h->table_off, ck->table_end - h->table_off);
	if (crc != h->table_crc && !(how & PM__PARSE_NO_CRC))
		return pm__err(PM_ECORRUPT,
			       "section table checksum mismatch (offset %llu, "
			       "%u entries: stored %08x, computed %08x)",
			       (ull)h->table_off, h->nsections, h->table_crc,
			       crc);
	ck->meta = (const struct pmf_meta *)(b + h->meta_off);
	ck->obj = (const struct pmf_object *)(ck->meta + 1);
	ck->sec = (const struct pmf_section *)(b + h->table_off);
	if (!str_ok(ck->meta->creator, sizeof ck->meta->creator) ||
	    !str_ok(ck->meta->host, sizeof ck->meta->host))
		return pm__err(PM_ECORRUPT, "metadata: unterminated string");
	for (uint32_t i = 0; i < h->nobjects; i++) {
		const struct pmf_object *o = &ck->obj[i];
		if (!str_ok(o->path, sizeof o->path) ||
		    o->build_id_len > sizeof o->build_id || o->flags)
			return pm__err(PM_ECORRUPT,
				       "metadata: object %u (offset %llu) is "
				       "malformed",
				       i,
				       (ull)((const unsigned char *)o - b));
	}
	if (!ck->obj[0].path[0] && !ck->obj[0].build_id_len)
		return pm__err(PM_ECORRUPT, "metadata: the executable (object "
					    "0) has neither path nor build-id");
	return 0;
}

int pm__ckpt_bad_section(uint32_t i, const struct pmf_section *s,
			  const char *why)
{
	return pm__err(PM_ECORRUPT,
		       "section %u (%s, %llx+%llx, file offset %llu): %s", i,
		       PM__KIND_NAME(s->kind), (ull)s->addr, (ull)s->len,
		       (ull)s->data_off, why);
}

/* Where the table walk has got to: the next heap and globals data offsets
 * in the file, the end of the last heap section in memory, the totals. */
struct placement {
	uint64_t gcur, hcur, heap_end, heap_bytes, globals_bytes;
	uint32_t nheap, nother;
};

#define BAD(why) pm__ckpt_bad_section(i, s, why)

/* A run of pages (heap or image PAGES): its data next in the file after
 * the previous run's, its address after the previous run's end. */
static int place_run(const struct pm__ckpt *ck, uint32_t i,
		     const struct pmf_section *s, struct placement *pl)
{
	if (s->data_off != pl->hcur)
		return BAD("data not where the layout puts it");
	pl->heap_end = s->addr + s->len;
	pl->hcur += s->len;
	if (pl->hcur > ck->h.file_size || pl->hcur < s->len)
		return BAD("data past the end of the file");
	pl->heap_bytes += s->len;
	return 0;
}

static int place_heap(const struct pm__ckpt *ck, uint32_t i,
		      const struct pmf_section *s, struct placement *pl)
{
	const struct pmf_header *h = &ck->h;
	uint64_t ps = h->page_size;
	if ((s->addr | s->len | s->data_off) & (ps - 1))
		return BAD("not page-aligned");
	if (pl->nheap == 1 && s->addr != h->base)
		return BAD("the first heap section must start at base");
	if (s->addr < pl->heap_end ||
	    !pm__range_in(s->addr, s->len, h->base,
			  (h->top_end + ps - 1) & ~(ps - 1)))
		return BAD("outside the heap's used extent or out of order");
	if (s->keep_off || s->keep_crc)
		return BAD("a keep bitmap on a heap section");
	return place_run(ck, i, s, pl);
}

/* data, persistent, registered and code sections */
static int place_other(const struct pm__ckpt *ck, uint32_t i,
		       const struct pmf_section *s, struct placement *pl)
{
	const struct pmf_header *h = &ck->h;
	uint64_t ps = h->page_size;
	if ((s->addr | s->len) & 7)
		return BAD("not word-aligned");
	if (s->addr + s->len < s->addr)
		return BAD("wraps around the address space");
	if (s->kind == PMF_SEC_CODE &&
	    (((s->addr | s->len) & (ps - 1)) ||
	     (s->flags &
	      ~(PMF_PROT_READ | PMF_PROT_WRITE | PMF_PROT_EXEC)) ||
	     !(s->flags & PMF_PROT_READ) || !(s->flags & PMF_PROT_EXEC)))
		return BAD("code section not page-aligned or with a bad "
			   "protection");
	if (s->addr < h->base + h->size && s->addr + s->len > h->base)
		return BAD("overlaps the heap");
	if (s->kind == PMF_SEC_CODE && s->addr < PMF_MIN_CODE_ADDR)
		return BAD("code in the first 64 KiB");
	uint64_t kb = pmf_keep_bytes(s->len);
	if (s->data_off != pl->gcur || s->keep_off != s->data_off + s->len ||
	    !pm__range_in(s->data_off, s->len + kb, pl->gcur, h->heap_off))
		return BAD("data not where the layout puts it");
	pl->gcur = s->keep_off + kb;
	pl->globals_bytes += s->len;
	return 0;
}

/* A process image's section: a record (8-aligned, after the table) or
 * PAGES (page-aligned, after heap_off, in address order). */
static int place_image(const struct pm__ckpt *ck, uint32_t i,
		       const struct pmf_section *s, struct placement *pl)
{
	const struct pmf_header *h = &ck->h;
	uint64_t ps = h->page_size;
	if (s->keep_off || s->keep_crc)
		return BAD("a keep bitmap in an image");
	if (s->kind == PMF_SEC_PAGES) {
		if ((s->addr | s->len | s->data_off) & (ps - 1))
			return BAD("not page-aligned");
		if (s->addr < pl->heap_end || s->addr + s->len < s->addr)
			return BAD("out of address order");
		return place_run(ck, i, s, pl);
	}
	if (s->kind < PMF_SEC_VMAS || s->kind > PMF_SEC_MAX_KIND)
		return BAD("a checkpoint's kind in an image");
	/* only the stack record has an address (the saved stack pointer) */
	if (s->kind != PMF_SEC_STACK && s->addr)
		return BAD("an address on a record that has none");
	if (s->data_off != pl->gcur ||
	    !pm__range_in(s->data_off, s->len, pl->gcur, h->heap_off))
		return BAD("data not where the layout puts it");
	pl->gcur += (s->len + 7) & ~7ull;
	pl->globals_bytes += s->len;
	return 0;
}

static int place_section(const struct pm__ckpt *ck, uint32_t i,
			 struct placement *pl)
{
	const struct pmf_section *s = &ck->sec[i];
	int image = ck->h.kind == PMF_KIND_IMAGE;
	if (image && (s->flags || s->reserved[0] || s->reserved[1] || !s->len))
		return BAD("flags, reserved or length");
	if (image && s->len > ck->h.file_size)
		return BAD("longer than the file");
	if (image && (s->kind == PMF_SEC_PAGES
			      ? ++pl->nheap > PMF_MAX_HEAP_SECTIONS
			      : ++pl->nother > PMF_MAX_OTHER_SECTIONS))
		return BAD("more sections of its kind than a writer makes");
	if (image)
		return place_image(ck, i, s, pl);
	uint32_t fl = s->kind == PMF_SEC_CODE ? 0 : s->flags;
	if (fl || s->reserved[0] || s->reserved[1] || !s->len)
		return BAD("flags, reserved or length");
	/* no section is longer than the file: every sum is then far from
	 * overflowing */
	if (s->len > ck->h.file_size)
		return BAD("longer than the file");
	if (s->kind == PMF_SEC_HEAP ? ++pl->nheap > PMF_MAX_HEAP_SECTIONS
				    : ++pl->nother > PMF_MAX_OTHER_SECTIONS)
		return BAD("more sections of its kind than a writer makes");
	if (s->kind == PMF_SEC_HEAP)
		return place_heap(ck, i, s, pl);
	if (s->kind == PMF_SEC_DATA || s->kind == PMF_SEC_PERSISTENT ||
	    s->kind == PMF_SEC_REGISTERED || s->kind == PMF_SEC_CODE)
		return place_other(ck, i, s, pl);
	return BAD("unknown kind");
}

#undef BAD

/* No two sections other than heap ones may share a byte: each is a range
 * of the writer's own memory, written back once (at most 300 of them). */
static int check_overlaps(const struct pm__ckpt *ck)
{
	for (uint32_t i = 0; i < ck->h.nsections; i++) {
		const struct pmf_section *a = &ck->sec[i];
		if (a->kind == PMF_SEC_HEAP)
			continue;
		for (uint32_t j = i + 1; j < ck->h.nsections; j++) {
			const struct pmf_section *b = &ck->sec[j];
			if (b->kind != PMF_SEC_HEAP && a->addr < b->addr + b->len &&
			    b->addr < a->addr + a->len)
				return pm__ckpt_bad_section(j, b, "overlaps "
							       "another "
							       "section");
		}
	}
	return 0;
}

/* Placement of every section: the layout the writer produces, exactly. */
static int parse_table(struct pm__ckpt *ck)
{
	const struct pmf_header *h = &ck->h;
	uint64_t ps = h->page_size;
	struct placement pl = { ck->table_end, h->heap_off,
				h->kind == PMF_KIND_IMAGE ? 0 : h->base, 0, 0,
				0, 0 };
	for (uint32_t i = 0; i < h->nsections; i++) {
		int rc = place_section(ck, i, &pl);
		if (rc)
			return rc;
	}
	if (!pl.nheap && h->kind == PMF_KIND_CHECKPOINT)
		return pm__err(PM_ECORRUPT, "no heap section");
	if (pl.hcur != h->file_size || pl.heap_bytes != h->heap_bytes ||
	    pl.globals_bytes != h->globals_bytes ||
	    (pl.gcur + ps - 1) / ps * ps != h->heap_off)
		return pm__err(PM_ECORRUPT,
			       "sections add up to %llu heap and %llu globals "
			       "bytes ending at %llu; the header says %llu, "
			       "%llu, %llu",
			       (ull)pl.heap_bytes, (ull)pl.globals_bytes,
			       (ull)pl.hcur, (ull)h->heap_bytes,
			       (ull)h->globals_bytes, (ull)h->file_size);
	ck->globals_end = pl.gcur;
	return h->kind == PMF_KIND_IMAGE ? 0 : check_overlaps(ck);
}

int pm__ckpt_bad_padding(const struct pm__ckpt *ck)
{
	return pm__err(PM_ECORRUPT,
		       "padding at file offsets %llu-%llu (before the heap "
		       "data) is not zero",
		       (ull)ck->globals_end, (ull)ck->h.heap_off);
}

static int section_crcs(const unsigned char *b, unsigned how,
			struct pm__ckpt *ck)
{
	int first = 1;
	if (!pm__ckpt_zero(b + ck->globals_end,
			   ck->h.heap_off - ck->globals_end))
		return pm__ckpt_bad_padding(ck);
	for (uint32_t i = 0; i < ck->h.nsections; i++) {
		const struct pmf_section *s = &ck->sec[i];
		uint32_t c = pm__crc32c(0, b + s->data_off, s->len);
		if (c != s->data_crc && !(how & PM__PARSE_NO_CRC))
			return pm__ckpt_bad_section(i, s,
						    "data checksum mismatch");
		if (ck->h.kind == PMF_KIND_IMAGE)
			continue;
		if (s->kind != PMF_SEC_HEAP) {
			c = pm__crc32c(0, b + s->keep_off,
				       pmf_keep_bytes(s->len));
			if (c != s->keep_crc && !(how & PM__PARSE_NO_CRC))
				return pm__ckpt_bad_section(
					i, s, "keep bitmap checksum mismatch");
		} else if (first) {
			int rc = pm__ckpt_check_region(ck, b + s->data_off,
						       s->len);
			if (rc)
				return rc;
			first = 0;
		}
	}
	return 0;
}

int pm__ckpt_parse(const void *buf, size_t len, uint64_t file_size,
		   unsigned how, struct pm__ckpt *ck)
{
	const unsigned char *b = buf;
	int rc;

	memset(ck, 0, sizeof *ck);
	ck->fd = -1;
	if ((uintptr_t)buf & 7)
		return pm__err(-EINVAL, "parse: buffer not 8-aligned");
	if (len > file_size)
		len = file_size;
	if ((rc = parse_header(b, len, file_size, how, ck)))
		return rc;
	if (how & PM__PARSE_HEADER)
		return 0;
	if (len < ck->table_end)
		return pm__err(-EINVAL, "parse: %zu bytes given, metadata and "
					"table need %llu",
			       len, (ull)ck->table_end);
	if ((rc = parse_meta(b, how, ck)) || (rc = parse_table(ck)))
		return rc;
	if (!(how & PM__PARSE_NO_DATA) && len == file_size)
		return section_crcs(b, how, ck);
	return 0;
}
