/*
 * ckpt_verify.c - a checkpoint file on disk: open it, read and parse its
 * prefix (header, metadata, table) into scratch memory, and verify every
 * section's checksums by pread; past PARALLEL_MIN of heap data, on two
 * threads (the halves joined with crc32c_combine).
 *
 * What the CLI's `info` and `verify` need, and the first step of a
 * restore.  Needs the parser, crc32c, util and the OS layer only: nothing
 * of the heap.  Scratch memory comes from pm__os_aux (past the region in
 * the library, anywhere in the CLI).
 */
#include "ckpt.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

typedef unsigned long long ull;

int pm__pread_full(int fd, void *buf, size_t n, uint64_t off)
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
	if ((rc = pm__pread_full(fd, head.b, n, 0)) ||
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
	if ((rc = pm__pread_full(fd, map, (size_t)ck->table_end, 0)) ||
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
		int rc = pm__pread_full(ck->fd, ck->chunk, n, off);
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
		if (!PM__PAGED(s->kind))
			continue;
		uint64_t a = s->data_off > j->lo ? s->data_off : j->lo;
		uint64_t b = s->data_off + s->len < j->hi ? s->data_off + s->len
							  : j->hi;
		uint32_t crc = 0;
		while (a < b) {
			size_t n = b - a < PM__CHUNK ? (size_t)(b - a) : PM__CHUNK;
			if ((j->rc = pm__pread_full(ck->fd, j->buf, n, a)))
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
		if (!PM__PAGED(s->kind))
			continue;
		uint64_t end = s->data_off + s->len;
		uint64_t upper = end <= mid ? 0
				 : s->data_off >= mid ? s->len
						      : end - mid;
		uint32_t c = pm__crc32c_combine(down.part[i], up.part[i], upper);
		if (c != s->data_crc)
			*rc = pm__ckpt_bad_section(i, s,
						   "data checksum mismatch");
	}
	pm__scratch_free(m, len);
	return 1;
}

int pm__ckpt_verify_data(struct pm__ckpt *ck)
{
	size_t pad = (size_t)(ck->h.heap_off - ck->globals_end);
	int rc = pm__pread_full(ck->fd, ck->chunk, pad, ck->globals_end);
	if (rc)
		return rc;
	if (!pm__ckpt_zero(ck->chunk, pad))
		return pm__ckpt_bad_padding(ck);
	/* the region header at the start of the first heap section */
	for (uint32_t i = 0; i < ck->h.nsections &&
			     ck->h.kind == PMF_KIND_CHECKPOINT;
	     i++) {
		const struct pmf_section *s = &ck->sec[i];
		if (s->kind != PMF_SEC_HEAP)
			continue;
		size_t n = s->len < PM__CHUNK ? (size_t)s->len : PM__CHUNK;
		if ((rc = pm__pread_full(ck->fd, ck->chunk, n, s->data_off)) ||
		    (rc = pm__ckpt_check_region(ck, ck->chunk, n)))
			return rc;
		break;
	}
	int heap_done = verify_heap_parallel(ck, &rc);
	if (rc)
		return rc;
	for (uint32_t i = 0; i < ck->h.nsections; i++) {
		const struct pmf_section *s = &ck->sec[i];
		uint32_t c;
		int heap = PM__PAGED(s->kind);
		if (heap && heap_done)
			continue;
		rc = crc_file(ck, s->data_off, s->len, &c);
		if (rc)
			return rc;
		if (c != s->data_crc)
			return pm__ckpt_bad_section(i, s,
						    "data checksum mismatch");
		if (heap || ck->h.kind == PMF_KIND_IMAGE)
			continue;
		if ((rc = crc_file(ck, s->keep_off, pmf_keep_bytes(s->len),
				   &c)))
			return rc;
		if (c != s->keep_crc)
			return pm__ckpt_bad_section(i, s,
						    "keep bitmap checksum "
						    "mismatch");
	}
	return 0;
}
