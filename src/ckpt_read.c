/*
 * ckpt_read.c - reading a checkpoint file: parse, validate, apply.
 *
 * Three steps, and memory is touched only in the last:
 *   1. parse   pm__ckpt_parse() checks a file image held in a buffer:
 *              magic, version, header crc, sizes and offsets, metadata and
 *              table crcs, every section's placement, and (when the buffer
 *              holds the whole file) every data crc.  It reads nothing but
 *              the buffer, so the fuzzer calls it directly.
 *   2. check   against this process: heap base/size, page size, executable
 *              identity, load addresses of every object, each globals
 *              section against this process's spans; then the data crcs
 *              by pread (unless PM_RESTORE_NO_VERIFY), then single thread,
 *              then the heap's own consent (pm__heap_restore_check).
 *   3. apply   heap sections mapped MAP_PRIVATE|MAP_FIXED from the file at
 *              their addresses, gaps zeroed, globals copied word by word
 *              honouring the keep bitmap.  Nothing here can fail for a
 *              reason a check could have seen; a failing mmap is fatal,
 *              because half a heap is worse than none.
 *
 * Every refusal goes through pm__err() with what failed and where (section
 * index, file offset, object name, both addresses).
 *
 * No stdio, no malloc: scratch memory is a private anonymous mapping.
 * Built with -DPM_CKPT_PARSE_ONLY (fuzzer, replay test) only steps 1 and
 * the pread verification remain, needing nothing but crc32c and pm__err.
 */
#include "ckpt.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>

#define KIND_NAME(k)                                                           \
	((k) == PMF_SEC_HEAP		 ? "heap"                              \
	 : (k) == PMF_SEC_DATA		 ? "data"                              \
	 : (k) == PMF_SEC_PERSISTENT	 ? "persistent"                        \
	 : (k) == PMF_SEC_REGISTERED	 ? "registered"                        \
	 : (k) == PMF_SEC_CODE		 ? "code"                              \
					 : "unknown")

typedef unsigned long long ull;

/* Here rather than in ckpt_api.c: see the note there on the CLI. */
int pm__ckpt_restored PM_STATE;

#ifdef PM_CKPT_PARSE_ONLY
void *pm__scratch(size_t n)
{
	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

void pm__scratch_free(void *p, size_t n)
{
	if (p)
		munmap(p, n);
}
#else
/* past the region, out of the way of the checkpointed process's own
 * mappings (check_code) */
void *pm__scratch(size_t n) { return pm__os_aux(n); }
void pm__scratch_free(void *p, size_t n) { pm__os_aux_free(p, n); }
#endif

static int zero_bytes(const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return 0;
	return 1;
}

static int str_ok(const char *s, size_t n)
{
	return memchr(s, '\0', n) != NULL;
}

/* The few fields of struct pm_region a file must agree with. */
static int check_region(const struct pm__ckpt *ck, const unsigned char *r,
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
	if (h->version != PMF_VERSION)
		return pm__err(PM_EVERSION,
			       "format version %u at offset 8; this pmalloc "
			       "reads version %d",
			       h->version, PMF_VERSION);
	uint32_t crc = pm__crc32c(0, b, PMF_HEADER_CRC_OFF);
	if (crc != h->header_crc && !(how & PM__PARSE_NO_CRC))
		return pm__err(PM_ECORRUPT,
			       "header checksum mismatch (offset 252: stored "
			       "%08x, computed %08x)",
			       h->header_crc, crc);
	if (h->header_size != PMF_HEADER_SIZE ||
	    (h->flags != 0 && h->flags != PMF_FLAG_MAC) ||
	    !zero_bytes(h->reserved, sizeof h->reserved) ||
	    (!(h->flags & PMF_FLAG_MAC) && !zero_bytes(h->mac, sizeof h->mac)))
		return pm__err(PM_ECORRUPT, "header: size %u, flags %x, mac "
					    "or reserved bytes not as version "
					    "1 writes them",
			       h->header_size, h->flags);
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

static int bad_section(uint32_t i, const struct pmf_section *s,
		       const char *why)
{
	return pm__err(PM_ECORRUPT,
		       "section %u (%s, %llx+%llx, file offset %llu): %s", i,
		       KIND_NAME(s->kind), (ull)s->addr, (ull)s->len,
		       (ull)s->data_off, why);
}

/* Placement of every section: the layout the writer produces, exactly. */
static int parse_table(struct pm__ckpt *ck)
{
	const struct pmf_header *h = &ck->h;
	uint64_t ps = h->page_size, gcur = ck->table_end, hcur = h->heap_off;
	uint64_t heap_end = h->base, heap_bytes = 0, globals_bytes = 0;
	uint32_t nheap = 0, nother = 0;

	for (uint32_t i = 0; i < h->nsections; i++) {
		const struct pmf_section *s = &ck->sec[i];
		uint32_t fl = s->kind == PMF_SEC_CODE ? 0 : s->flags;
		if (fl || s->reserved[0] || s->reserved[1] || !s->len)
			return bad_section(i, s, "flags, reserved or length");
		/* no section is longer than the file: every sum below is then
		 * far from overflowing */
		if (s->len > h->file_size)
			return bad_section(i, s, "longer than the file");
		if (s->kind == PMF_SEC_HEAP ? ++nheap > PMF_MAX_HEAP_SECTIONS
					    : ++nother > PMF_MAX_OTHER_SECTIONS)
			return bad_section(i, s, "more sections of its kind "
						 "than a writer makes");
		if (s->kind == PMF_SEC_HEAP) {
			if ((s->addr | s->len | s->data_off) & (ps - 1))
				return bad_section(i, s, "not page-aligned");
			if (nheap == 1 && s->addr != h->base)
				return bad_section(i, s, "the first heap section "
							 "must start at base");
			if (s->addr < heap_end ||
			    !pm__range_in(s->addr, s->len, h->base,
					  (h->top_end + ps - 1) & ~(ps - 1)))
				return bad_section(i, s, "outside the heap's "
							 "used extent or out "
							 "of order");
			if (s->data_off != hcur || s->keep_off || s->keep_crc)
				return bad_section(i, s, "data not where the "
							 "layout puts it");
			heap_end = s->addr + s->len;
			hcur += s->len;
			if (hcur > h->file_size || hcur < s->len)
				return bad_section(i, s, "data past the end of "
							 "the file");
			heap_bytes += s->len;
		} else if (s->kind == PMF_SEC_DATA ||
			   s->kind == PMF_SEC_PERSISTENT ||
			   s->kind == PMF_SEC_REGISTERED ||
			   s->kind == PMF_SEC_CODE) {
			if ((s->addr | s->len) & 7)
				return bad_section(i, s, "not word-aligned");
			if (s->addr + s->len < s->addr)
				return bad_section(i, s, "wraps around the "
							 "address space");
			if (s->kind == PMF_SEC_CODE &&
			    (((s->addr | s->len) & (ps - 1)) ||
			     (s->flags & ~(PMF_PROT_READ | PMF_PROT_WRITE |
					   PMF_PROT_EXEC)) ||
			     !(s->flags & PMF_PROT_READ) ||
			     !(s->flags & PMF_PROT_EXEC)))
				return bad_section(i, s, "code section not "
							 "page-aligned or with "
							 "a bad protection");
			if (s->addr < h->base + h->size &&
			    s->addr + s->len > h->base)
				return bad_section(i, s, "overlaps the heap");
			uint64_t kb = pmf_keep_bytes(s->len);
			if (s->data_off != gcur ||
			    s->keep_off != s->data_off + s->len ||
			    !pm__range_in(s->data_off, s->len + kb, gcur,
					  h->heap_off))
				return bad_section(i, s, "data not where the "
							 "layout puts it");
			gcur = s->keep_off + kb;
			globals_bytes += s->len;
		} else {
			return bad_section(i, s, "unknown kind");
		}
	}
	if (!nheap)
		return pm__err(PM_ECORRUPT, "no heap section");
	if (hcur != h->file_size || heap_bytes != h->heap_bytes ||
	    globals_bytes != h->globals_bytes ||
	    (gcur + ps - 1) / ps * ps != h->heap_off)
		return pm__err(PM_ECORRUPT,
			       "sections add up to %llu heap and %llu globals "
			       "bytes ending at %llu; the header says %llu, "
			       "%llu, %llu",
			       (ull)heap_bytes, (ull)globals_bytes, (ull)hcur,
			       (ull)h->heap_bytes, (ull)h->globals_bytes,
			       (ull)h->file_size);
	ck->globals_end = gcur;
	return 0;
}

static int bad_padding(const struct pm__ckpt *ck)
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
	if (!zero_bytes(b + ck->globals_end, ck->h.heap_off - ck->globals_end))
		return bad_padding(ck);
	for (uint32_t i = 0; i < ck->h.nsections; i++) {
		const struct pmf_section *s = &ck->sec[i];
		uint32_t c = pm__crc32c(0, b + s->data_off, s->len);
		if (c != s->data_crc && !(how & PM__PARSE_NO_CRC))
			return bad_section(i, s, "data checksum mismatch");
		if (s->kind != PMF_SEC_HEAP) {
			c = pm__crc32c(0, b + s->keep_off,
				       pmf_keep_bytes(s->len));
			if (c != s->keep_crc && !(how & PM__PARSE_NO_CRC))
				return bad_section(i, s, "keep bitmap checksum "
							 "mismatch");
		} else if (first) {
			int rc = check_region(ck, b + s->data_off, s->len);
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

/* ---- the file: open, read the prefix, verify by pread --------------------- */

static int pread_full(int fd, void *buf, size_t n, uint64_t off)
{
	unsigned char *p = buf;
	while (n) {
		ssize_t r = pread(fd, p, n, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return pm__err(PM_ETRUNC, "the file ends at %llu, "
						  "before its recorded end",
				       (ull)off);
		p += r;
		off += (uint64_t)r;
		n -= (size_t)r;
	}
	return 0;
}

void pm__ckpt_close(struct pm__ckpt *ck)
{
	if (ck->fd >= 0)
		close(ck->fd);
	pm__scratch_free(ck->map, ck->map_len);
	ck->fd = -1;
	ck->map = NULL;
}

int pm__ckpt_open(const char *path, struct pm__ckpt *ck)
{
	struct stat st;
	union {
		unsigned char b[PMF_HEADER_SIZE];
		uint64_t align;
	} head;
	int fd, rc;

	memset(ck, 0, sizeof *ck);
	ck->fd = -1;
	if (!path || !path[0])
		return pm__err(-EINVAL, "no checkpoint file name");
	/* O_NONBLOCK: a FIFO must not hang us; it is refused below */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		rc = -errno;
		return pm__err(rc, "cannot open %s", path);
	}
	if (fstat(fd, &st) != 0) {
		rc = -errno;
		close(fd);
		return pm__err(rc, "cannot stat %s", path);
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		rc = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
		return pm__err(rc, "%s is not a regular file", path);
	}
	uint64_t fsize = (uint64_t)st.st_size;
	size_t n = fsize < PMF_HEADER_SIZE ? (size_t)fsize : PMF_HEADER_SIZE;
	if ((rc = pread_full(fd, head.b, n, 0)) ||
	    (rc = pm__ckpt_parse(head.b, n, fsize, PM__PARSE_HEADER, ck))) {
		close(fd);
		return rc;
	}
	uint64_t need = (ck->table_end + PM_PAGE - 1) & ~(PM_PAGE - 1);
	size_t maplen = (size_t)need + PM__CHUNK;
	void *map = pm__scratch(maplen);
	if (!map) {
		close(fd);
		return pm__err(-ENOMEM, "no memory to read %llu bytes of "
					"metadata",
			       (ull)need);
	}
	if ((rc = pread_full(fd, map, (size_t)ck->table_end, 0)) ||
	    (rc = pm__ckpt_parse(map, (size_t)ck->table_end, fsize,
				 PM__PARSE_NO_DATA, ck))) {
		pm__scratch_free(map, maplen);
		close(fd);
		return rc;
	}
	ck->fd = fd;
	ck->map = map;
	ck->map_len = maplen;
	ck->chunk = (unsigned char *)map + need;
	return 0;
}

/* crc of [off, off+len) of the file, read in chunks. */
static int crc_file(struct pm__ckpt *ck, uint64_t off, uint64_t len,
		    uint32_t *out)
{
	uint32_t crc = 0;
	while (len) {
		size_t n = len < PM__CHUNK ? (size_t)len : PM__CHUNK;
		int rc = pread_full(ck->fd, ck->chunk, n, off);
		if (rc)
			return rc;
		crc = pm__crc32c(crc, ck->chunk, n);
		off += n;
		len -= n;
	}
	*out = crc;
	return 0;
}

/* ---- the heap data's checksums, on two cores ---------------------------
 * The heap sections are one contiguous range of the file.  Past a size
 * where a thread pays for itself, a helper thread checks the upper half
 * while this one checks the lower: each computes, for every section, the
 * crc of the part of it inside its half, and the two are joined with
 * pm__crc32c_combine.  Reading and checksumming then take about one read
 * pass in wall time, not two.  The helper is joined before anything else
 * happens, so a restore still sees one thread. */
#define PARALLEL_MIN (64UL << 20)

struct crc_half {
	const struct pm__ckpt *ck;
	unsigned char *buf; /* PM__CHUNK bytes */
	uint64_t lo, hi;    /* file range */
	uint32_t *part;     /* per section: crc of its bytes in [lo, hi) */
	int rc;
};

static void crc_heap_range(struct crc_half *j)
{
	const struct pm__ckpt *ck = j->ck;
	j->rc = 0;
	for (uint32_t i = 0; i < ck->h.nsections; i++) {
		const struct pmf_section *s = &ck->sec[i];
		j->part[i] = 0; /* the crc of nothing */
		if (s->kind != PMF_SEC_HEAP)
			continue;
		uint64_t a = s->data_off > j->lo ? s->data_off : j->lo;
		uint64_t b = s->data_off + s->len < j->hi ? s->data_off + s->len
							  : j->hi;
		uint32_t crc = 0;
		while (a < b) {
			size_t n = b - a < PM__CHUNK ? (size_t)(b - a) : PM__CHUNK;
			if ((j->rc = pread_full(ck->fd, j->buf, n, a)))
				return;
			crc = pm__crc32c(crc, j->buf, n);
			a += n;
		}
		j->part[i] = crc;
	}
}

static void *crc_half_thread(void *arg)
{
	crc_heap_range(arg);
	return NULL;
}

/* 1 if the heap sections were checked here (rc set), 0 if the caller must
 * check them one by one. */
static int verify_heap_parallel(struct pm__ckpt *ck, int *rc)
{
	uint64_t lo = ck->h.heap_off, hi = ck->h.file_size;
	if (hi - lo < PARALLEL_MIN)
		return 0;
	size_t nsec = ck->h.nsections;
	size_t len = 2 * nsec * sizeof(uint32_t) + PM__CHUNK;
	unsigned char *m = pm__scratch(len);
	if (!m)
		return 0;
	uint64_t mid = lo + (hi - lo) / 2;
	struct crc_half down = {ck, ck->chunk, lo, mid, (uint32_t *)m, 0};
	struct crc_half up = {ck, m + 2 * nsec * sizeof(uint32_t), mid, hi,
			      (uint32_t *)m + nsec, 0};
	pthread_t t;
	if (pthread_create(&t, NULL, crc_half_thread, &up)) {
		pm__scratch_free(m, len);
		return 0;
	}
	crc_heap_range(&down);
	pthread_join(t, NULL);
	ck->helper_ran = 1;
	*rc = down.rc ? down.rc : up.rc;
	if (*rc == PM_ETRUNC) /* (the helper's own message is its thread's) */
		*rc = pm__err(*rc, "the file ends before its recorded end");
	else if (*rc)
		*rc = pm__err(*rc, "cannot read the checkpoint file: %s",
			      pm_strerror(*rc));
	for (uint32_t i = 0; i < nsec && !*rc; i++) {
		const struct pmf_section *s = &ck->sec[i];
		if (s->kind != PMF_SEC_HEAP)
			continue;
		uint64_t end = s->data_off + s->len;
		uint64_t upper = end <= mid ? 0
				 : s->data_off >= mid ? s->len
						      : end - mid;
		uint32_t c = pm__crc32c_combine(down.part[i], up.part[i], upper);
		if (c != s->data_crc)
			*rc = bad_section(i, s, "data checksum mismatch");
	}
	pm__scratch_free(m, len);
	return 1;
}

int pm__ckpt_verify_data(struct pm__ckpt *ck)
{
	size_t pad = (size_t)(ck->h.heap_off - ck->globals_end);
	int rc = pread_full(ck->fd, ck->chunk, pad, ck->globals_end);
	if (rc)
		return rc;
	if (!zero_bytes(ck->chunk, pad))
		return bad_padding(ck);
	/* the region header at the start of the first heap section */
	for (uint32_t i = 0; i < ck->h.nsections; i++) {
		const struct pmf_section *s = &ck->sec[i];
		if (s->kind != PMF_SEC_HEAP)
			continue;
		size_t n = s->len < PM__CHUNK ? (size_t)s->len : PM__CHUNK;
		if ((rc = pread_full(ck->fd, ck->chunk, n, s->data_off)) ||
		    (rc = check_region(ck, ck->chunk, n)))
			return rc;
		break;
	}
	int heap_done = verify_heap_parallel(ck, &rc);
	if (rc)
		return rc;
	for (uint32_t i = 0; i < ck->h.nsections; i++) {
		const struct pmf_section *s = &ck->sec[i];
		uint32_t c;
		int heap = s->kind == PMF_SEC_HEAP;
		if (heap && heap_done)
			continue;
		rc = crc_file(ck, s->data_off, s->len, &c);
		if (rc)
			return rc;
		if (c != s->data_crc)
			return bad_section(i, s, "data checksum mismatch");
		if (heap)
			continue;
		if ((rc = crc_file(ck, s->keep_off, pmf_keep_bytes(s->len),
				   &c)))
			return rc;
		if (c != s->keep_crc)
			return bad_section(i, s, "keep bitmap checksum "
						 "mismatch");
	}
	return 0;
}

#ifndef PM_CKPT_PARSE_ONLY
/* ---- checks against this process ------------------------------------------ */

static int same_identity(const struct pmf_object *f, const struct pm_object *c)
{
	if (f->build_id_len && c->build_id_len)
		return f->build_id_len == c->build_id_len &&
		       !memcmp(f->build_id, c->build_id, c->build_id_len);
	return !strcmp(f->path, c->path) && f->size == c->size &&
	       f->mtime == c->mtime;
}

static void hex_id(char *out, const uint8_t *id, uint32_t n)
{
	if (!n) {
		memcpy(out, "none", 5);
		return;
	}
	for (uint32_t i = 0; i < n; i++) {
		out[2 * i] = "0123456789abcdef"[id[i] >> 4];
		out[2 * i + 1] = "0123456789abcdef"[id[i] & 15];
	}
	out[2 * n] = '\0';
}

/* The executable and every loaded object. */
static int check_objects(const struct pm__ckpt *ck, unsigned flags,
			 struct pm_object *cur, int ncur, intptr_t *exe_delta)
{
	const struct pmf_object *f = ck->obj;
	int moved_ok = !!(flags & PM_RESTORE_ALLOW_MOVED);
	char a[65], b[65];

	if (ncur < 1)
		return pm__err(PM_ELAYOUT, "cannot list this process's "
					   "loaded objects");
	if (!same_identity(&f[0], &cur[0])) {
		hex_id(a, f[0].build_id, f[0].build_id_len);
		hex_id(b, cur[0].build_id, cur[0].build_id_len);
		return pm__err(PM_EEXEC,
			       "checkpoint made by %s (build-id %s, %llu bytes, "
			       "mtime %llu); this is %s (build-id %s, %llu "
			       "bytes, mtime %llu)",
			       f[0].path, a, (ull)f[0].size, (ull)f[0].mtime,
			       cur[0].path, b, (ull)cur[0].size,
			       (ull)cur[0].mtime);
	}
	*exe_delta = (intptr_t)(cur[0].load - f[0].load);
	for (uint32_t i = 0; i < ck->h.nobjects; i++) {
		const struct pm_object *c = NULL;
		if (i == 0) {
			c = &cur[0];
		} else if (f[i].path[0]) {
			for (int j = 1; j < ncur && !c; j++)
				if (!strcmp(cur[j].path, f[i].path))
					c = &cur[j];
			/* the same file may be named another way (preload
			 * path against rpath): the build-id decides */
			for (int j = 1; j < ncur && !c && f[i].build_id_len; j++)
				if (cur[j].build_id_len == f[i].build_id_len &&
				    !memcmp(cur[j].build_id, f[i].build_id,
					    f[i].build_id_len))
					c = &cur[j];
		} else {
			continue; /* nameless (vdso): nothing to compare */
		}
		if (moved_ok)
			continue;
		if (!c)
			return pm__err(PM_ELAYOUT,
				       "%s was loaded at %llx when the "
				       "checkpoint was made and is not loaded "
				       "now (PMALLOC_ALLOW_MOVED=1 accepts)",
				       f[i].path, (ull)f[i].load);
		if (c->load != f[i].load)
			return pm__err(PM_ELAYOUT,
				       "%s moved: loaded at %llx in the "
				       "checkpoint, at %llx now (run under "
				       "`pmalloc run`, or PMALLOC_ALLOW_MOVED=1 "
				       "accepts)",
				       f[i].path, (ull)f[i].load, (ull)c->load);
		if (i && !same_identity(&f[i], c))
			return pm__err(PM_ELAYOUT,
				       "%s at %llx changed since the checkpoint "
				       "(other build-id, size or mtime)",
				       f[i].path, (ull)c->load);
	}
	return 0;
}

static int gkind(uint32_t k)
{
	return k == PMF_SEC_DATA	 ? PM_GSPAN_DATA
	       : k == PMF_SEC_PERSISTENT ? PM_GSPAN_PERSISTENT
					 : PM_GSPAN_REGISTERED;
}

/* Where a restore may write is computed here, never taken from the file:
 * each globals section must be one of the spans this process would itself
 * persist now (same kind, same bounds; the executable's own moved by its
 * load delta when that is allowed), each span at most once.  Those spans
 * never include libc's, the loader's or pmalloc's memory (register.c
 * refuses to register them); the check against pmalloc's own pages after
 * the heap is a second fence.  A range the program registers with
 * pm_register() is a span only once registered: a restore before the
 * registration (PMALLOC_RESTORE) refuses a file that holds one. */
static int check_globals(const struct pm__ckpt *ck, intptr_t exe_delta,
			 struct pm_gspan *gs, int ngs)
{
	uintptr_t own_lo = pm__region->base, own_hi = pm__os_aux_end();
	for (int j = 0; j < ngs; j++)
		gs[j].prot = 0; /* 1: a section of the file claimed it */
	for (uint32_t i = 0; i < ck->h.nsections; i++) {
		const struct pmf_section *s = &ck->sec[i];
		if (s->kind == PMF_SEC_HEAP || s->kind == PMF_SEC_CODE)
			continue;
		uintptr_t lo = (uintptr_t)s->addr, hi = lo + (uintptr_t)s->len;
		if (s->kind != PMF_SEC_REGISTERED)
			lo += (uintptr_t)exe_delta, hi += (uintptr_t)exe_delta;
		int found = -1;
		for (int j = 0; j < ngs && found < 0; j++)
			if (gs[j].kind == (uint32_t)gkind(s->kind) &&
			    gs[j].lo == lo && gs[j].hi == hi)
				found = j;
		if (found < 0)
			return pm__err(PM_ELAYOUT,
				       "section %u (%s globals %llx-%llx) is not "
				       "memory this process persists%s",
				       i, KIND_NAME(s->kind), (ull)lo, (ull)hi,
				       s->kind == PMF_SEC_REGISTERED
					       ? " (pm_register() it before "
						 "restoring)"
					       : "");
		if (gs[found].prot)
			return pm__err(PM_ECORRUPT,
				       "section %u (%s globals %llx-%llx) "
				       "overlaps another section",
				       i, KIND_NAME(s->kind), (ull)lo, (ull)hi);
		gs[found].prot = 1;
		if (lo < own_hi && hi > own_lo)
			return pm__err(PM_ELAYOUT,
				       "section %u (%s globals %llx-%llx) lies "
				       "in pmalloc's own memory",
				       i, KIND_NAME(s->kind), (ull)lo, (ull)hi);
	}
	return 0;
}

/* The keep words this process computes for itself are ORed into each
 * section's bitmap (loaded at gdata by load_globals): a file can add
 * protection, never remove it. */
static void own_keep_masks(const struct pm__ckpt *ck, unsigned char *gdata,
			   intptr_t exe_delta)
{
	for (uint32_t i = 0; i < ck->h.nsections; i++) {
		const struct pmf_section *s = &ck->sec[i];
		if (s->kind == PMF_SEC_HEAP)
			continue;
		if (s->kind != PMF_SEC_CODE) {
			uintptr_t lo = (uintptr_t)s->addr;
			if (s->kind != PMF_SEC_REGISTERED)
				lo += (uintptr_t)exe_delta;
			pm__globals_fixed_mask(lo, lo + (uintptr_t)s->len,
					       gdata + s->len);
		}
		gdata += s->len + pmf_keep_bytes(s->len);
	}
}

/* A number from a /proc/sys file, or dflt. */
static uint64_t read_sysctl(const char *path, uint64_t dflt)
{
	char b[32];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return dflt;
	ssize_t n = read(fd, b, sizeof b - 1);
	close(fd);
	if (n <= 0)
		return dflt;
	uint64_t v = 0;
	int any = 0;
	for (ssize_t i = 0; i < n && b[i] >= '0' && b[i] <= '9'; i++, any = 1)
		v = v * 10 + (uint64_t)(b[i] - '0');
	return any ? v : dflt;
}

static int count_cb(void *vctx, uintptr_t lo, uintptr_t hi,
		    const char *perms, const char *path)
{
	(void)lo, (void)hi, (void)perms, (void)path;
	++*(uint64_t *)vctx;
	return 0;
}

/* The apply step maps every heap section (splitting the region's mapping
 * around it) and every code section: that many mappings must fit under
 * vm.max_map_count now, or the kernel would refuse one half-way. */
static int check_map_count(const struct pm__ckpt *ck)
{
	uint64_t have = 0, need = 4, limit;
	for (uint32_t i = 0; i < ck->h.nsections; i++)
		need += ck->sec[i].kind == PMF_SEC_HEAP ? 2
			: ck->sec[i].kind == PMF_SEC_CODE ? 1
							   : 0;
	limit = read_sysctl("/proc/sys/vm/max_map_count", 65530);
	pm__os_maps(count_cb, &have);
	if (have + need + 64 > limit)
		return pm__err(-ENOMEM,
			       "restore needs up to %llu more mappings; this "
			       "process has %llu and vm.max_map_count is %llu",
			       (ull)need, (ull)have, (ull)limit);
	return 0;
}

/* Give back the reservations of code sections [0, upto). */
static void unreserve_code(const struct pm__ckpt *ck, uint32_t upto)
{
	for (uint32_t i = 0; i < upto; i++)
		if (ck->sec[i].kind == PMF_SEC_CODE)
			pm__code_unreserve((uintptr_t)ck->sec[i].addr,
					   (size_t)ck->sec[i].len);
}

/* Each code section (JIT code, codemap.c) goes back where it was, outside
 * the heap, over nothing this process has mapped: each range is reserved
 * now (which also refuses ranges that overlap or cannot be mapped), and
 * filled by apply_globals.  On failure nothing stays reserved. */
static int check_code(const struct pm__ckpt *ck)
{
	char what[96];
	/* the kernel's floor, and never the first 64 KiB (NULL plus an
	 * offset must keep faulting) */
	uintptr_t min = (uintptr_t)read_sysctl("/proc/sys/vm/mmap_min_addr",
					       65536);
	if (min < 65536)
		min = 65536;
	uintptr_t own_lo = pm__region->base, own_hi = pm__os_aux_end();
	for (uint32_t i = 0; i < ck->h.nsections; i++) {
		const struct pmf_section *s = &ck->sec[i];
		if (s->kind != PMF_SEC_CODE)
			continue;
		uintptr_t lo = (uintptr_t)s->addr, hi = lo + (uintptr_t)s->len;
		int rc = 0;
		if (lo < min)
			rc = pm__err(PM_ELAYOUT,
				     "section %u (code %llx-%llx) lies below "
				     "the lowest address a process may map "
				     "(%llx)",
				     i, (ull)lo, (ull)hi, (ull)min);
		else if (lo < own_hi && hi > own_lo)
			rc = pm__err(PM_ELAYOUT,
				     "section %u (code %llx-%llx) lies in the "
				     "heap or pmalloc's own memory",
				     i, (ull)lo, (ull)hi);
		else if (!pm__code_range_free(lo, hi, what, sizeof what))
			rc = pm__err(PM_ELAYOUT,
				     "section %u (code %llx-%llx, JIT code of "
				     "the checkpointed process) cannot go back: "
				     "this process has %s there",
				     i, (ull)lo, (ull)hi, what);
		else if ((rc = pm__code_reserve(lo, (size_t)s->len)))
			rc = pm__err(PM_ELAYOUT,
				     "section %u (code %llx-%llx) cannot be "
				     "mapped back here: %s",
				     i, (ull)lo, (ull)hi, pm_strerror(rc));
		if (rc) {
			unreserve_code(ck, i);
			return rc;
		}
	}
	return 0;
}

/* Who may have written the file (the trust model, docs/FORMAT.md): its
 * owner must be root or the user running us (in a program with privileges
 * its user lacks, the user it runs as), and nobody else may write to it.
 * Checked on the open descriptor, so it is the file that will be mapped. */
static int check_trust(const struct pm__ckpt *ck, unsigned flags)
{
	struct stat st;
	if (flags & PM_RESTORE_ANY_OWNER)
		return 0;
	if (fstat(ck->fd, &st) != 0)
		return pm__err(-errno, "cannot stat the checkpoint file");
	uid_t me = pm__secure() ? geteuid() : getuid();
	if (st.st_uid != 0 && st.st_uid != me)
		return pm__err(PM_EUNTRUSTED,
			       "the file is owned by uid %u, not by uid %u "
			       "(this %s) or root: restoring it would run what "
			       "another user wrote (PMALLOC_TRUST_ANY_OWNER=1 "
			       "accepts)",
			       (unsigned)st.st_uid, (unsigned)me,
			       pm__secure() ? "program's effective user"
					    : "process's user");
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		return pm__err(PM_EUNTRUSTED,
			       "the file is writable by %s (mode %o): anyone "
			       "who can write it can run code here "
			       "(PMALLOC_TRUST_ANY_OWNER=1 accepts)",
			       (st.st_mode & S_IWOTH) ? "others" : "its group",
			       (unsigned)(st.st_mode & 07777));
	return 0;
}

/* The region header of the file against this heap (pread of its start). */
static int check_heap(struct pm__ckpt *ck)
{
	const struct pmf_header *h = &ck->h;
	struct pm_region *r = pm__region;
	if (h->base != r->base || h->size != r->size || h->tbase != r->tbase)
		return pm__err(PM_EBASE,
			       "checkpoint heap at %llx, %llu MiB (persistent "
			       "part up to %llx); this heap at %llx, %llu MiB "
			       "(up to %llx)",
			       (ull)h->base, (ull)(h->size >> 20),
			       (ull)h->tbase, (ull)r->base,
			       (ull)(r->size >> 20), (ull)r->tbase);
	if (h->page_size != (uint64_t)sysconf(_SC_PAGESIZE))
		return pm__err(PM_ELAYOUT, "checkpoint page size %u, this "
					   "system's %ld",
			       h->page_size, sysconf(_SC_PAGESIZE));
	size_t n = sizeof(struct pm_region);
	const struct pmf_section *first = NULL;
	for (uint32_t i = 0; i < ck->h.nsections && !first; i++)
		if (ck->sec[i].kind == PMF_SEC_HEAP)
			first = &ck->sec[i];
	if (!first || first->len < n)
		return pm__err(PM_ECORRUPT, "the first heap section is shorter "
					    "than the %zu-byte region header",
			       n);
	int rc = pread_full(ck->fd, ck->chunk, n, h->heap_off);
	if (rc || (rc = check_region(ck, ck->chunk, n)))
		return rc;
	uint32_t ver, hsz;
	memcpy(&ver, ck->chunk + offsetof(struct pm_region, version), 4);
	memcpy(&hsz, ck->chunk + offsetof(struct pm_region, header_size), 4);
	if (ver != r->version || hsz != r->header_size)
		return pm__err(PM_EVERSION,
			       "heap layout version %u (header %u bytes) in "
			       "the checkpoint, %u (%u bytes) here",
			       ver, hsz, r->version, r->header_size);
	/* every pointer and size the allocator will follow from the header,
	 * against the arena's bounds (ck->chunk is page-aligned) */
	return pm__region_check_copy((const struct pm_region *)ck->chunk);
}

/* PM_RESTORE_CHECK_HEAP: the whole heap of the file, walked as the heap
 * checker walks a live one, before anything is committed.  The file's
 * heap sections are mapped read-only at their offsets into a private view
 * (gaps read as zero, pages come in as the walk reads them). */
static int check_heap_image(struct pm__ckpt *ck)
{
	uintptr_t base = (uintptr_t)ck->h.base;
	size_t len = ((uintptr_t)ck->h.top_end - base + PM_PAGE - 1) &
		     ~(size_t)(PM_PAGE - 1);
	unsigned char *view = pm__scratch(len);
	if (!view)
		return pm__err(-ENOMEM, "no memory to view the heap of the "
					"checkpoint (%zu bytes)",
			       len);
	int rc = 0;
	for (uint32_t i = 0; i < ck->h.nsections && !rc; i++) {
		const struct pmf_section *s = &ck->sec[i];
		if (s->kind != PMF_SEC_HEAP)
			continue;
		void *at = view + (s->addr - base);
		if (mmap(at, (size_t)s->len, PROT_READ, MAP_PRIVATE | MAP_FIXED,
			 ck->fd, (off_t)s->data_off) != at)
			rc = pm__err(-errno, "cannot map heap section %u of the "
					     "checkpoint to check it",
				     i);
	}
	if (!rc)
		rc = pm__heap_check_image(view, base, len);
	pm__scratch_free(view, len);
	return rc;
}

/* ---- apply ------------------------------------------------------------------ */

/* Globals: read into scratch (so apply does no I/O that can fail), checked
 * even with PM_RESTORE_NO_VERIFY since the bytes are read anyway. */
static int load_globals(struct pm__ckpt *ck, unsigned char *dst)
{
	for (uint32_t i = 0; i < ck->h.nsections; i++) {
		const struct pmf_section *s = &ck->sec[i];
		if (s->kind == PMF_SEC_HEAP)
			continue;
		uint64_t kb = pmf_keep_bytes(s->len);
		int rc = pread_full(ck->fd, dst, (size_t)(s->len + kb),
				    s->data_off);
		if (rc)
			return rc;
		if (pm__crc32c(0, dst, s->len) != s->data_crc)
			return bad_section(i, s, "data checksum mismatch");
		if (pm__crc32c(0, dst + s->len, kb) != s->keep_crc)
			return bad_section(i, s, "keep bitmap checksum "
						 "mismatch");
		dst += s->len + kb;
	}
	return 0;
}

static void apply_globals(const struct pm__ckpt *ck, const unsigned char *src,
			  intptr_t exe_delta)
{
	for (uint32_t i = 0; i < ck->h.nsections; i++) {
		const struct pmf_section *s = &ck->sec[i];
		if (s->kind == PMF_SEC_HEAP)
			continue;
		if (s->kind == PMF_SEC_CODE) {
			/* never writable and executable at once: JIT code
			 * that was rwx comes back r-x */
			unsigned prot = s->flags;
			if (prot & PMF_PROT_EXEC)
				prot &= ~PMF_PROT_WRITE;
			pm__code_apply((uintptr_t)s->addr, (size_t)s->len, prot,
				       src);
			src += s->len + pmf_keep_bytes(s->len);
			continue;
		}
		uintptr_t to = (uintptr_t)s->addr;
		if (s->kind != PMF_SEC_REGISTERED)
			to += (uintptr_t)exe_delta;
		const unsigned char *keep = src + s->len;
		size_t nw = (size_t)s->len / 8;
		for (size_t w = 0; w < nw;) {
			if (keep[w / 8] & (1u << (w % 8))) {
				w++;
				continue;
			}
			size_t e = w + 1;
			while (e < nw && !(keep[e / 8] & (1u << (e % 8))))
				e++;
			memcpy((void *)(to + w * 8), src + w * 8, (e - w) * 8);
			w = e;
		}
		src += s->len + pmf_keep_bytes(s->len);
	}
}

static void apply_heap(const struct pm__ckpt *ck, int copy)
{
	/* One fresh anonymous mapping over the whole used extent (so every
	 * gap reads as zero), then the file's sections over it: one mmap per
	 * section.  With copy, the sections are read into that anonymous
	 * memory instead: slower, but the process no longer depends on the
	 * file (which must then never be rewritten in place while mapped). */
	pm__os_region_has_files = pm__os_region_has_files || !copy;
	pm__os_release((void *)(uintptr_t)ck->h.base,
		       (uintptr_t)ck->h.top_end - (uintptr_t)ck->h.base);
	if (copy)
		pm__os_commit((void *)(uintptr_t)ck->h.base,
			      (uintptr_t)ck->h.top_end - (uintptr_t)ck->h.base);
	for (uint32_t i = 0; i < ck->h.nsections; i++) {
		const struct pmf_section *s = &ck->sec[i];
		if (s->kind != PMF_SEC_HEAP)
			continue;
		void *at = (void *)(uintptr_t)s->addr;
		if (copy) {
			size_t done = 0;
			while (done < s->len) {
				ssize_t r = pread(ck->fd, (char *)at + done,
						  (size_t)s->len - done,
						  (off_t)(s->data_off + done));
				if (r < 0 && errno == EINTR)
					continue;
				if (r <= 0)
					pm__fatal("restore: cannot read a heap "
						  "section of the checkpoint "
						  "file; the heap is half "
						  "restored",
						  at);
				done += (size_t)r;
			}
			continue;
		}
		void *p = mmap(at, (size_t)s->len, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_FIXED, ck->fd,
			       (off_t)s->data_off);
		if (p != at)
			pm__fatal("restore: cannot map a heap section of the "
				  "checkpoint file; the heap is half restored",
				  at);
	}
}

int pm__ckpt_restore(const char *path, unsigned flags)
{
	struct pm__ckpt ck;
	int rc, ncur, ngs, code_reserved = 0;
	intptr_t exe_delta = 0;
	const char *am = pm__env("PMALLOC_ALLOW_MOVED");

	if (am && am[0] == '1')
		flags |= PM_RESTORE_ALLOW_MOVED;
	const char *cp = pm__env("PMALLOC_RESTORE_COPY");
	if (cp && cp[0] == '1')
		flags |= PM_RESTORE_COPY;
	const char *ao = pm__env("PMALLOC_TRUST_ANY_OWNER");
	if (ao && ao[0] == '1')
		flags |= PM_RESTORE_ANY_OWNER;
	if (pm__ensure_init() || !pm__region)
		return pm__err(PM_ENOHEAP, "restore: the heap is not available");
	if ((rc = pm__ckpt_open(path, &ck)))
		return rc;
	if ((rc = check_trust(&ck, flags))) {
		pm__ckpt_close(&ck);
		return rc;
	}

	/* scratch: objects, spans, then the globals' bytes */
	size_t objs = PMF_MAX_OBJECTS * sizeof(struct pm_object);
	size_t spans = PM_GSPAN_MAX * sizeof(struct pm_gspan);
	size_t glob = 0;
	for (uint32_t i = 0; i < ck.h.nsections; i++)
		if (ck.sec[i].kind != PMF_SEC_HEAP)
			glob += (size_t)(ck.sec[i].len +
					 pmf_keep_bytes(ck.sec[i].len));
	size_t slen = objs + spans + glob;
	unsigned char *scr = pm__scratch(slen);
	if (!scr) {
		rc = pm__err(-ENOMEM, "restore: no scratch memory");
		goto out;
	}
	struct pm_object *cur = (struct pm_object *)scr;
	struct pm_gspan *gs = (struct pm_gspan *)(scr + objs);
	unsigned char *gdata = scr + objs + spans;

	if ((rc = check_heap(&ck)))
		goto out;
	if ((rc = pm__ckpt_verify_mac(&ck))) /* a key: the file's MAC */
		goto out;
	ncur = pm__objects(cur, PMF_MAX_OBJECTS);
	if ((rc = check_objects(&ck, flags, cur, ncur, &exe_delta)))
		goto out;
	ngs = pm__globals_spans(gs, PM_GSPAN_MAX);
	if (ngs < 0) {
		rc = ngs;
		goto out;
	}
	if ((rc = check_globals(&ck, exe_delta, gs, ngs)) ||
	    (rc = check_code(&ck)))
		goto out;
	code_reserved = 1; /* from here, a refusal gives the ranges back */
	if (!(flags & PM_RESTORE_NO_VERIFY) &&
	    (rc = pm__ckpt_verify_data(&ck)))
		goto out;
	if ((flags & PM_RESTORE_CHECK_HEAP) && (rc = check_heap_image(&ck)))
		goto out;
	if ((rc = load_globals(&ck, gdata)))
		goto out;
	own_keep_masks(&ck, gdata, exe_delta);
	if ((rc = check_map_count(&ck)))
		goto out;
	/* a joined helper (verify) may still count for a moment: it has
	 * woken its joiner but not yet left the thread group */
	for (int i = 0; ck.helper_ran && i < 400 && pm__thread_count() > 1; i++)
		usleep(250);
	if (pm__thread_count() > 1) {
		rc = pm__err(-EBUSY, "restore: %d threads are running; restore "
				     "needs a single-threaded process",
			     pm__thread_count());
		goto out;
	}

	uint64_t keys_before[PM_TSD_WORDS];
	pm__tsd_probe(keys_before);
	pm__heap_quiesce();
	if ((rc = pm__heap_restore_check())) {
		pm__heap_resume();
		goto out;
	}
	/* ---- from here on, no way back ---- */
	apply_heap(&ck, (flags & PM_RESTORE_COPY) != 0);
	apply_globals(&ck, gdata, exe_delta);
	pm__heap_after_restore();
	pm__heap_resume();
	pm__tsd_restore(keys_before); /* may allocate: after resuming */
	pm__ckpt_restored = 1;
	rc = 0;
out:
	if (rc && code_reserved)
		unreserve_code(&ck, ck.h.nsections);
	pm__scratch_free(scr, slen);
	pm__ckpt_close(&ck);
	return rc;
}
#endif /* PM_CKPT_PARSE_ONLY */
