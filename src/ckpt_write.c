/*
 * ckpt_write.c - the checkpoint's image: what is saved, its layout (in
 * format.h), its checksums and MAC.  The file it goes into, from the
 * target check to the rename, is ckpt_file.c's (struct pm__ckpt_out).
 *
 * pm__ckpt_write runs these steps, in this order, sharing one struct job:
 *   1. check the target (a regular file or nothing); map the scratch;
 *   2. start the MAC if a key is configured; open the file: directory,
 *      stale temps removed (before anything is reserved: a killed writer's
 *      temp on a nearly full disk must not make every later checkpoint
 *      fail with ENOSPC), temp created, locked and given its mode;
 *   3. list loaded objects and globals spans BEFORE quiescing: listing
 *      objects takes the loader's lock, and a thread inside dlopen() holds
 *      that lock while it waits for malloc;
 *   4. quiesce the heap; find the heap spans (free interiors skipped by
 *      pm__heap_spans, pages never touched skipped with /proc/self/pagemap);
 *      compute the keep bitmaps; fix the layout; compare the size with
 *      RLIMIT_FSIZE; fallocate (a full disk is found before anything is
 *      written);
 *   5. write globals and heap straight from memory, a piece at a time,
 *      each piece checksummed just before it is written (one pass over
 *      memory);
 *   6. resume the heap: the file's bytes are in the page cache now, the rest
 *      (header, table, fsync) does not need other threads stopped;
 *   7. write header, metadata and table at offset 0, after the data whose
 *      checksums the table holds; fsync; rename; fsync the directory
 *      (PM_EDIRSYNC if that fails: the new file is in place).
 *      On any error before the rename the temp file is unlinked.
 * Between quiesce and resume nothing may allocate or take a lock that a
 * thread holds while it waits for malloc: no messages with pm_strerror
 * (it may allocate for translations), so failures there resume first.
 *
 * No stdio, no malloc, no mutable file-scope state; all scratch memory is
 * one private anonymous mapping.
 */
#include "ckpt.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <sys/utsname.h>

typedef unsigned long long ull;

/* Checksummed, then written while still in the cache (64 KiB to 4 MiB
 * measured alike). */
#define WRITE_PIECE (256u << 10)

/* Data written from memory, a piece at a time: each piece is first copied
 * into a cache-sized scratch buffer, then checksummed and written from the
 * copy.  Other threads of the program may be writing the memory meanwhile
 * (only the allocator is quiesced), and the loader may fill a lazy GOT
 * slot in the middle of a checkpoint: the crc must describe exactly the
 * bytes written, whatever the memory does. */
/* pmalloc's own state (PM_STATE) when libpmalloc.a is linked into the
 * executable: inside the data section, yet it describes this process (a
 * restore keeps the live words) and may hold the checkpoint key, so the
 * file gets zeros there. */
extern char __start_pm_state[] __attribute__((visibility("hidden"), weak));
extern char __stop_pm_state[] __attribute__((visibility("hidden"), weak));

static void blank_own_state(unsigned char *piece, uintptr_t at, size_t n)
{
	uintptr_t sl = (uintptr_t)__start_pm_state;
	uintptr_t sh = (uintptr_t)__stop_pm_state;
	if (!sl || sh <= sl || at >= sh || at + n <= sl)
		return;
	uintptr_t lo = at > sl ? at : sl, hi = at + n < sh ? at + n : sh;
	memset(piece + (lo - at), 0, hi - lo);
}

static int write_mem(const struct pm__ckpt_out *o, const void *src,
		     uint64_t len, uint64_t off, uint32_t *crc_out,
		     unsigned char *piece, int checked, struct pm__sha256 *body)
{
	const unsigned char *p = src;
	uint32_t crc = 0;
	while (len) {
		size_t n = len < WRITE_PIECE ? (size_t)len : WRITE_PIECE;
		if (!checked)
			memcpy(piece, p, n);
		else if (pm__copy_checked(piece, p, n))
			return pm__err(-EFAULT, "checkpoint: the code mapping "
						"at %p went away while it was "
						"copied",
				       (const void *)p);
		blank_own_state(piece, (uintptr_t)p, n);
		crc = pm__crc32c(crc, piece, n);
		if (body) /* a key: the MAC's hash of the body, same bytes */
			pm__sha256_update(body, piece, n);
		int rc = pm__ckpt_out_write(o, piece, n, off);
		if (rc)
			return rc;
		p += n;
		off += n;
		len -= n;
	}
	*crc_out = crc;
	return 0;
}

/* n zero bytes into the body hash (the padding before heap_off). */
static void mac_zeros(struct pm__sha256 *body, uint64_t n)
{
	static const unsigned char zero[256];
	while (n) {
		size_t k = n < sizeof zero ? (size_t)n : sizeof zero;
		pm__sha256_update(body, zero, k);
		n -= k;
	}
}

static void copy_str(char *dst, size_t cap, const char *src)
{
	size_t i;
	for (i = 0; src[i] && i + 1 < cap; i++)
		dst[i] = src[i];
	dst[i] = '\0';
}

/* Scratch layout (one mapping). */
struct scratch {
	struct pm_object *objs;
	struct pm_gspan *gspans;
	void *runs;        /* pm__ckpt_runs_scratch() bytes */
	char *tmp, *dir;
	uint8_t *prefix;   /* header + metadata + table, built in place */
	uint8_t *keep;     /* keep bitmaps of the globals spans */
	unsigned char *piece; /* WRITE_PIECE bytes: the copy being written */
	size_t prefix_cap, keep_cap, runs_cap;
};

static void *carve(uintptr_t *at, size_t n)
{
	void *p = (void *)*at;
	*at += (n + 63) & ~(size_t)63;
	return p;
}

/* Lays the scratch out from base (0: only to learn the size). */
static size_t scratch_layout(struct scratch *s, uintptr_t base)
{
	uintptr_t at = base;
	s->objs = carve(&at, PMF_MAX_OBJECTS * sizeof(struct pm_object));
	s->gspans = carve(&at, PM_GSPAN_MAX * sizeof(struct pm_gspan));
	s->runs = carve(&at, s->runs_cap);
	s->tmp = carve(&at, PM__CKPT_NAME_CAP);
	s->dir = carve(&at, PM__CKPT_NAME_CAP);
	s->prefix = carve(&at, s->prefix_cap);
	s->keep = carve(&at, s->keep_cap);
	s->piece = carve(&at, WRITE_PIECE);
	return (size_t)(at - base);
}

/* One checkpoint's state, shared by the steps of pm__ckpt_write. */
struct job {
	struct pm__ckpt_out out;
	struct scratch s;
	unsigned char *map; /* the scratch mapping */
	size_t maplen;
	struct pm__ckpt_runs runs;
	int ngs;            /* globals and code spans: the first sections */
	int nobj;           /* loaded objects */
	int quiesced;
	struct pm__hmac_sha256 hm;
	struct pm__sha256 body_ctx;
	struct pm__sha256 *body; /* a key: &body_ctx until the MAC is made */
	/* the layout, in s.prefix */
	struct pmf_header *h;
	struct pmf_meta *meta;
	struct pmf_object *fo;
	struct pmf_section *sec;
	uint32_t nsec;
	uint64_t msize, table_end, heap_off, file_size, gbytes, hbytes;
};

static void resume(struct job *j)
{
	if (j->quiesced)
		pm__heap_resume();
	j->quiesced = 0;
}

/* A write to the temp failed: resume first (the message may allocate). */
static int write_failed(struct job *j, int rc)
{
	resume(j);
	if (rc == -EFAULT) /* write_mem said what went away */
		return rc;
	return pm__ckpt_out_failed(&j->out, rc);
}

/* The scratch, mapped once: its size depends on the globals and code
 * spans, listed into a stack array first. */
static int map_scratch(struct job *j)
{
	struct scratch *s = &j->s;
	s->runs_cap = pm__ckpt_runs_scratch();
	s->prefix_cap = PMF_HEADER_SIZE + sizeof(struct pmf_meta) +
			PMF_MAX_OBJECTS * sizeof(struct pmf_object) +
			(PMF_MAX_HEAP_SECTIONS + PM_GSPAN_MAX) *
				sizeof(struct pmf_section);
	s->keep_cap = 0; /* known after the spans are listed */
	size_t fixed = scratch_layout(s, 0);
	struct pm_gspan gs[PM_GSPAN_MAX];
	int ngs = pm__globals_spans(gs, PM_GSPAN_MAX);
	if (ngs < 0)
		return ngs;
	int ncode = pm__code_spans(gs + ngs, PM_GSPAN_MAX - ngs);
	if (ncode < 0)
		return ncode;
	ngs += ncode;
	for (int i = 0; i < ngs; i++)
		s->keep_cap += pmf_keep_bytes(gs[i].hi - gs[i].lo);
	size_t maplen = fixed + s->keep_cap + 64;
	unsigned char *map = pm__scratch(maplen);
	if (!map)
		return pm__err(-ENOMEM, "checkpoint: no scratch memory");
	j->map = map;
	j->maplen = maplen;
	scratch_layout(s, (uintptr_t)map);
	memcpy(s->gspans, gs, (size_t)ngs * sizeof *gs);
	j->ngs = ngs;
	return 0;
}

/* A key (pm_key_set, PMALLOC_KEY_FILE): the file gets a MAC, and the body
 * is hashed as it is written. */
static int start_mac(struct job *j)
{
	int rc = pm__key_hmac(&j->hm, "checkpoint");
	if (rc < 0)
		return rc;
	if (rc > 0) {
		j->body = &j->body_ctx;
		pm__sha256_init(j->body);
	}
	return 0;
}

static int list_objects(struct job *j)
{
	j->nobj = pm__objects(j->s.objs, PMF_MAX_OBJECTS);
	pm__tsd_record(); /* into the region header: part of the image */
	if (j->nobj < 1)
		return pm__err(-ENOENT, "checkpoint: cannot list loaded objects");
	return 0;
}

/* Globals and code sections, each followed by its keep bitmap (computed
 * here, quiesced); returns the offset after the last. */
static uint64_t lay_out_globals(struct job *j, uint64_t cur)
{
	uint8_t *keep = j->s.keep;
	for (int i = 0; i < j->ngs; i++) {
		const struct pm_gspan *g = &j->s.gspans[i];
		struct pmf_section *x = &j->sec[i];
		uint64_t len = g->hi - g->lo;
		uint32_t k = g->kind;
		x->kind = k == PM_GSPAN_DATA	     ? PMF_SEC_DATA
			  : k == PM_GSPAN_PERSISTENT ? PMF_SEC_PERSISTENT
			  : k == PM_GSPAN_CODE	     ? PMF_SEC_CODE
						     : PMF_SEC_REGISTERED;
		x->flags = k == PM_GSPAN_CODE ? g->prot : 0;
		x->addr = g->lo;
		x->len = len;
		x->data_off = cur;
		x->keep_off = cur + len;
		memset(keep, 0, pmf_keep_bytes(len));
		if (k != PM_GSPAN_CODE) /* code is copied whole */
			pm__globals_keep_mask(g->lo, g->hi, keep,
					      pm__transient_live);
		x->keep_crc = pm__crc32c(0, keep, pmf_keep_bytes(len));
		keep += pmf_keep_bytes(len);
		cur += len + pmf_keep_bytes(len);
		j->gbytes += len;
	}
	return cur;
}

/* The file's layout: header, metadata, table, globals with their keep
 * bitmaps, then the heap runs from a page boundary. */
static void lay_out(struct job *j)
{
	uint8_t *prefix = j->s.prefix;
	j->h = (struct pmf_header *)prefix;
	j->meta = (struct pmf_meta *)(prefix + PMF_HEADER_SIZE);
	j->fo = (struct pmf_object *)(j->meta + 1);
	j->nsec = (uint32_t)(j->ngs + (int)j->runs.nruns);
	j->msize = sizeof *j->meta + (uint64_t)j->nobj * sizeof *j->fo;
	j->sec = (struct pmf_section *)(prefix + PMF_HEADER_SIZE + j->msize);
	j->table_end = PMF_HEADER_SIZE + j->msize + j->nsec * sizeof *j->sec;
	memset(prefix, 0, (size_t)j->table_end);
	uint64_t cur = lay_out_globals(j, j->table_end);
	j->heap_off = (cur + PM_PAGE - 1) & ~(PM_PAGE - 1);
	cur = j->heap_off;
	for (size_t i = 0; i < j->runs.nruns; i++) {
		struct pmf_section *x = &j->sec[j->ngs + (int)i];
		x->kind = PMF_SEC_HEAP;
		x->addr = j->runs.runs[i].lo;
		x->len = j->runs.runs[i].hi - j->runs.runs[i].lo;
		x->data_off = cur;
		cur += x->len;
		j->hbytes += x->len;
	}
	j->file_size = cur;
}

/* Quiesced: the whole size, before a byte is written. */
static int reserve(struct job *j)
{
	/* a file size limit (ulimit -f): -EFBIG (fallocate past it would
	 * raise SIGXFSZ too) */
	struct rlimit fl;
	if (getrlimit(RLIMIT_FSIZE, &fl) == 0 && fl.rlim_cur != RLIM_INFINITY &&
	    j->file_size > (uint64_t)fl.rlim_cur) {
		resume(j);
		return pm__err(-EFBIG, "checkpoint: %s needs %llu bytes, more "
				       "than the file size limit (ulimit -f) "
				       "of %llu",
			       j->out.path, (ull)j->file_size,
			       (ull)fl.rlim_cur);
	}
	/* a full disk shows here */
	int rc = pm__ckpt_out_reserve(&j->out, j->file_size);
	if (rc) {
		resume(j);
		return pm__err(rc, "checkpoint: cannot reserve %llu bytes for "
				   "%s: %s",
			       (ull)j->file_size, j->out.tmp, pm_strerror(rc));
	}
	return 0;
}

/* Quiesced: every section's data (and keep bitmap) from memory; the
 * checksums into the table, the bytes into the MAC's body hash. */
static int write_data(struct job *j)
{
	struct pmf_section *sec = j->sec;
	const uint8_t *keep = j->s.keep;
	int rc, ngs = j->ngs;
	for (int i = 0; i < ngs; i++) {
		uint64_t kb = pmf_keep_bytes(sec[i].len);
		if ((rc = write_mem(&j->out,
				    (const void *)(uintptr_t)sec[i].addr,
				    sec[i].len, sec[i].data_off,
				    &sec[i].data_crc, j->s.piece,
				    sec[i].kind == PMF_SEC_CODE, j->body)) ||
		    (rc = pm__ckpt_out_write(&j->out, keep, (size_t)kb,
					     sec[i].keep_off)))
			return rc;
		if (j->body)
			pm__sha256_update(j->body, keep, (size_t)kb);
		keep += kb;
	}
	if (j->body) { /* the zeros from the globals' end to heap_off */
		uint64_t gend = j->table_end;
		if (ngs)
			gend = sec[ngs - 1].keep_off +
			       pmf_keep_bytes(sec[ngs - 1].len);
		mac_zeros(j->body, j->heap_off - gend);
	}
	for (uint32_t i = (uint32_t)ngs; i < j->nsec; i++)
		if ((rc = write_mem(&j->out,
				    (const void *)(uintptr_t)sec[i].addr,
				    sec[i].len, sec[i].data_off,
				    &sec[i].data_crc, j->s.piece, 0, j->body)))
			return rc;
	return 0;
}

/* Quiesced: the header's facts about the heap. */
static void header_heap(struct job *j)
{
	pm__ckpt_header_heap(j->h, PMF_VERSION, PMF_KIND_CHECKPOINT);
}

void pm__ckpt_header_heap(struct pmf_header *h, uint32_t version,
			  uint32_t kind)
{
	const struct pm_region *reg = pm__region;
	memcpy(h->magic, PMF_MAGIC, PMF_MAGIC_LEN);
	h->version = version;
	h->kind = kind;
	h->header_size = PMF_HEADER_SIZE;
	h->page_size = (uint32_t)PM_PAGE;
	h->base = reg->base;
	h->size = reg->size;
	h->tbase = reg->tbase;
	h->top_end = reg->p.top_end;
	h->live_bytes = reg->p.live_bytes;
	h->checkpoints = reg->checkpoints;
}

/* Steps 4 to 6: the spans, the layout and the data, quiesced. */
static int write_image(struct job *j)
{
	int rc;
	pm__ckpt_runs_begin(&j->runs, j->s.runs);
	/* ---- quiesced: nothing below may allocate or take a lock that a
	 * thread holds while it waits for malloc ---- */
	pm__heap_quiesce();
	j->quiesced = 1;
	pm__region->checkpoints++;
	if ((rc = pm__ckpt_runs_find(&j->runs)))
		return rc;
	lay_out(j);
	if ((rc = reserve(j)))
		return rc;
	if ((rc = write_data(j)))
		return write_failed(j, rc);
	header_heap(j);
	resume(j);
	return 0;
}

/* The header's other fields, the metadata and the objects' table. */
static void header_rest(struct job *j)
{
	struct pmf_header *h = j->h;
	struct pmf_meta *meta = j->meta;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	h->file_size = j->file_size;
	h->time_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	h->meta_off = PMF_HEADER_SIZE;
	h->meta_size = j->msize;
	h->table_off = PMF_HEADER_SIZE + j->msize;
	h->nsections = j->nsec;
	h->nobjects = (uint32_t)j->nobj;
	h->heap_bytes = j->hbytes;
	h->globals_bytes = j->gbytes;
	h->heap_off = j->heap_off;
	pm__ckpt_meta(meta, j->fo, j->s.objs, j->nobj);
}

void pm__ckpt_meta(struct pmf_meta *meta, struct pmf_object *fobj,
		   const struct pm_object *objs, int nobj)
{
	copy_str(meta->creator, sizeof meta->creator,
		 "pmalloc " PMALLOC_VERSION_STRING);
	struct utsname un;
	if (uname(&un) == 0)
		copy_str(meta->host, sizeof meta->host, un.nodename);
	meta->pid = (uint32_t)getpid();
	meta->uid = (uint32_t)getuid();
	meta->nthreads = (uint32_t)pm__thread_count();
	for (int i = 0; i < nobj; i++) {
		const struct pm_object *o = &objs[i];
		struct pmf_object *fo = &fobj[i];
		fo->load = o->load;
		fo->size = o->size;
		fo->mtime = o->mtime;
		fo->build_id_len = o->build_id_len;
		if (fo->build_id_len > sizeof o->build_id)
			fo->build_id_len = sizeof o->build_id;
		memcpy(fo->build_id, o->build_id, fo->build_id_len);
		copy_str(fo->path, sizeof fo->path, o->path);
	}
}

/* Step 7's first half: checksums, the MAC, and the prefix at offset 0. */
static int write_prefix(struct job *j)
{
	struct pmf_header *h = j->h;
	header_rest(j);
	h->meta_crc = pm__crc32c(0, j->meta, (size_t)j->msize);
	h->table_crc = pm__crc32c(0, j->sec, j->nsec * sizeof *j->sec);
	if (j->body) { /* the MAC, over everything but itself and the crc */
		unsigned char bh[PM_SHA256_LEN];
		h->flags |= PMF_FLAG_MAC;
		pm__sha256_final(j->body, bh);
		pm__ckpt_mac(&j->hm, j->s.prefix, j->table_end, bh, h->mac);
		j->body = NULL;
	}
	h->header_crc = pm__crc32c(0, h, PMF_HEADER_CRC_OFF);
	int rc = pm__ckpt_out_write(&j->out, j->s.prefix, (size_t)j->table_end,
				    0);
	return rc ? write_failed(j, rc) : 0;
}

int pm__ckpt_write(const char *path)
{
	struct job j;
	int rc;

	if (!path || !path[0])
		return pm__err(-EINVAL, "checkpoint: no file name");
	if (pm__ensure_init() || !pm__region)
		return pm__err(PM_ENOHEAP, "checkpoint: the heap is not "
					   "available");
	memset(&j, 0, sizeof j);
	if ((rc = pm__ckpt_out_check(&j.out, path)) || (rc = map_scratch(&j)))
		return rc;
	if (!(rc = start_mac(&j)) &&
	    !(rc = pm__ckpt_out_open(&j.out, j.s.dir, j.s.tmp)) &&
	    !(rc = list_objects(&j)) && !(rc = write_image(&j)) &&
	    !(rc = write_prefix(&j)))
		rc = pm__ckpt_out_commit(&j.out);

	if (j.body) { /* failed before the MAC: wipe the keyed state */
		pm__wipe(&j.hm, sizeof j.hm);
		pm__wipe(j.body, sizeof *j.body);
	}
	resume(&j);
	pm__ckpt_out_close(&j.out, rc);
	pm__scratch_free(j.map, j.maplen);
	return rc;
}
