/*
 * ckpt_stage.c - the heap of a checkpoint, staged before a restore
 * commits, so that what the allocator will follow is checked on the bytes
 * it will use, and so that nothing of the heap can fail after the point
 * of no return.
 *
 * A stage is a private view of [base, top_end) of the file's heap at an
 * address of our own (pmalloc's scratch pages), gaps reading as zero:
 *
 *   mapped  (the default): each heap section mapped from the file,
 *           read-only, pages coming in only as the checks touch them.  The
 *           view serves the checks and is given back before the commit;
 *           the apply step maps the file again at the heap's addresses
 *           (and reads a section whose mapping fails).
 *   copied  (PM_RESTORE_COPY, and always with a key): every heap section
 *           read into anonymous memory.  CRCs, and the MAC with a key, are
 *           computed over these very bytes, so a file changed after the
 *           checks cannot change what is restored; the apply step moves the
 *           view's pages into the region (pm__os_move: no copy, no I/O).
 *
 * Checks on a stage: the region header's pointers (pm__region_check_copy,
 * on a copy of the view's first bytes), the list of thread caches (every
 * node an in-use block of the arena, every cached block a live chunk of
 * its class), and with PM_RESTORE_CHECK_HEAP every chunk.
 *
 * The apply step (moving or mapping the stage into the region) is the
 * restore's (ckpt_restore.c): this file is also the CLI's `verify`.
 * No stdio, no malloc: the view is scratch memory (pm__scratch).
 */
#include "ckpt.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

typedef unsigned long long ull;

int pm__stage_open(struct pm__ckpt *ck, struct pm__stage *st, int copy)
{
	memset(st, 0, sizeof *st);
	st->base = (uintptr_t)ck->h.base;
	/* heap sections may reach top_end rounded up to the file's page size
	 * (the parser's bound), which can exceed ours */
	uint64_t ps = ck->h.page_size > PM_PAGE ? ck->h.page_size : PM_PAGE;
	st->len = ((uintptr_t)ck->h.top_end - st->base + ps - 1) &
		  ~(size_t)(ps - 1);
	st->copied = copy;
	st->view = pm__scratch(st->len);
	if (!st->view)
		return pm__err(-ENOMEM, "restore: no memory to stage the heap "
					"of the checkpoint (%zu bytes)",
			       st->len);
	for (uint32_t i = 0; i < ck->h.nsections; i++) {
		const struct pmf_section *s = &ck->sec[i];
		if (s->kind != PMF_SEC_HEAP)
			continue;
		unsigned char *at = st->view + (s->addr - st->base);
		int rc = copy ? pm__pread_full(ck->fd, at, (size_t)s->len,
					       s->data_off)
			      : pm__os_map_file(at, (size_t)s->len, PROT_READ,
						ck->fd, s->data_off);
		if (rc) {
			pm__stage_close(st);
			return pm__err(rc, "restore: cannot %s heap section %u "
					   "(file offset %llu): %s",
				       copy ? "read" : "map", i,
				       (ull)s->data_off, pm_strerror(rc));
		}
	}
	return 0;
}

void pm__stage_close(struct pm__stage *st)
{
	pm__scratch_free(st->view, st->len);
	st->view = NULL;
}

int pm__stage_crcs(const struct pm__ckpt *ck, const struct pm__stage *st)
{
	for (uint32_t i = 0; i < ck->h.nsections; i++) {
		const struct pmf_section *s = &ck->sec[i];
		if (s->kind == PMF_SEC_HEAP &&
		    pm__crc32c(0, st->view + (s->addr - st->base),
			       (size_t)s->len) != s->data_crc)
			return pm__ckpt_bad_section(i, s,
						    "data checksum mismatch");
	}
	return 0;
}

int pm__stage_check(const struct pm__stage *st, int walk)
{
	struct pm_region r;
	memcpy(&r, st->view, sizeof r);
	int rc = pm__region_check_copy(&r);
	if (rc)
		return rc;
	/* a checkpoint is taken quiesced: its fast lists were merged into the
	 * bins (and a fast-list block carries its writer's random key) */
	for (unsigned i = 0; i < PM_NSMALL; i++)
		if (r.p.fast[i])
			return pm__err(PM_ECORRUPT,
				       "region header: fast list %u is not "
				       "empty (head 0x%lx): a checkpoint holds "
				       "none",
				       i, (unsigned long)r.p.fast[i]);
	return walk ? pm__heap_check_image(st->view, st->base, st->len)
		    : pm__heap_check_image_caches(st->view, st->base, st->len);
}

/* The body of the file as the restore will use it: the globals (with
 * their keep bitmaps, as read into gdata before anything changed them),
 * the zero padding, the heap sections from the view, in file order. */
static void body_hash(const struct pm__ckpt *ck, const struct pm__stage *st,
		      const unsigned char *gdata,
		      unsigned char out[PM_SHA256_LEN])
{
	static const unsigned char zero[256];
	struct pm__sha256 body;
	pm__sha256_init(&body);
	pm__sha256_update(&body, gdata,
			  (size_t)(ck->globals_end - ck->table_end));
	for (uint64_t n = ck->h.heap_off - ck->globals_end; n;) {
		size_t k = n < sizeof zero ? (size_t)n : sizeof zero;
		pm__sha256_update(&body, zero, k);
		n -= k;
	}
	for (uint32_t i = 0; i < ck->h.nsections; i++) {
		const struct pmf_section *s = &ck->sec[i];
		if (s->kind == PMF_SEC_HEAP)
			pm__sha256_update(&body, st->view + (s->addr - st->base),
					  (size_t)s->len);
	}
	pm__sha256_final(&body, out);
}

int pm__stage_mac(const struct pm__ckpt *ck, const struct pm__stage *st,
		  const unsigned char *gdata, struct pm__hmac_sha256 *hm)
{
	unsigned char bh[PM_SHA256_LEN];
	if (!st->copied) { /* (the caller stages a copy when keyed) */
		pm__wipe(hm, sizeof *hm);
		return pm__err(PM_EAUTH, "restore: a keyed restore needs a "
					 "staged copy");
	}
	body_hash(ck, st, gdata, bh);
	return pm__ckpt_mac_check(ck, hm, bh);
}
