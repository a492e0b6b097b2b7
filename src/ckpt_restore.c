/*
 * ckpt_restore.c - a restore: the checkpoint against this process, then
 * the apply.  The file was opened and parsed by ckpt_verify.c.
 *
 *   check   who may have written the file (owner, mode), heap base/size,
 *           page size, the heap's region header, the MAC when a key is
 *           set, executable identity, load addresses of every object, each
 *           globals section against this process's spans, code sections
 *           reserved where they go; then the data crcs (unless
 *           PM_RESTORE_NO_VERIFY), the map count, a single thread, then
 *           the heap's own consent (pm__heap_restore_check).
 *   apply   heap sections mapped MAP_PRIVATE|MAP_FIXED from the file at
 *           their addresses (or read, PM_RESTORE_COPY), gaps zeroed,
 *           globals copied word by word honouring the keep bitmap, code
 *           sections filled.  Nothing here can fail for a reason a check
 *           could have seen; a failing mmap is fatal, because half a heap
 *           is worse than none.
 *
 * Every refusal goes through pm__err() with what failed and where.  No
 * stdio, no malloc: scratch memory is pm__os_aux (past the region).
 * Owns pm__ckpt_restored.
 */
#include "ckpt.h"
#include "vg.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>

typedef unsigned long long ull;

int pm__ckpt_restored PM_STATE;

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
int pm__ckpt_check_objects(const struct pm__ckpt *ck, unsigned flags,
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
	struct pm_maps maps; /* one read of the maps for every section */
	pm__maps_read(&maps);
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
				       i, PM__KIND_NAME(s->kind), (ull)lo,
				       (ull)hi,
				       s->kind == PMF_SEC_REGISTERED
					       ? " (pm_register() it before "
						 "restoring)"
					       : "");
		if (gs[found].prot)
			return pm__err(PM_ECORRUPT,
				       "section %u (%s globals %llx-%llx) "
				       "overlaps another section",
				       i, PM__KIND_NAME(s->kind), (ull)lo,
				       (ull)hi);
		gs[found].prot = 1;
		if (!pm__maps_covers(&maps, lo, hi, 1))
			return pm__err(PM_ELAYOUT,
				       "section %u (%s globals %llx-%llx): that "
				       "memory is not writable in this process",
				       i, PM__KIND_NAME(s->kind), (ull)lo, (ull)hi);
		if (lo < own_hi && hi > own_lo)
			return pm__err(PM_ELAYOUT,
				       "section %u (%s globals %llx-%llx) lies "
				       "in pmalloc's own memory",
				       i, PM__KIND_NAME(s->kind), (ull)lo,
				       (ull)hi);
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
	limit = pm__os_sysctl("/proc/sys/vm/max_map_count", 65530);
	pm__os_maps(count_cb, &have);
	if (have + need + 64 > limit)
		return pm__err(-ENOMEM,
			       "restore needs up to %llu more mappings; this "
			       "process has %llu and vm.max_map_count is %llu",
			       (ull)need, (ull)have, (ull)limit);
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
	int rc = pm__pread_full(ck->fd, ck->chunk, n, h->heap_off);
	if (rc || (rc = pm__ckpt_check_region(ck, ck->chunk, n)))
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
		int rc = pm__pread_full(ck->fd, dst, (size_t)(s->len + kb),
				    s->data_off);
		if (rc)
			return rc;
		if (pm__crc32c(0, dst, s->len) != s->data_crc)
			return pm__ckpt_bad_section(i, s,
						    "data checksum mismatch");
		if (pm__crc32c(0, dst + s->len, kb) != s->keep_crc)
			return pm__ckpt_bad_section(i, s,
						    "keep bitmap checksum "
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
			/* the recorded protection, rwx included: PCRE2's JIT
			 * (sljit) writes new code into its rwx pages, and
			 * crashed after a restore that gave them back r-x.
			 * Dropping the w would not stop a crafted file: its
			 * bytes are executable either way; trust is the
			 * owner/MAC rule's (docs/FORMAT.md, "Trust"). */
			pm__code_apply((uintptr_t)s->addr, (size_t)s->len,
				       s->flags, src);
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

/* After the point of no return: the staged view moved into the region
 * (copied), or the file mapped at the heap's addresses, a section whose
 * mapping fails being read instead.  Aborts with one line if neither
 * works (the map count was checked: it should not happen). */
static void stage_apply(struct pm__ckpt *ck, struct pm__stage *st)
{
	void *base = (void *)st->base;
	if (st->copied) {
		/* the view becomes the heap: pages move, nothing is copied */
		if (pm__os_move(st->view, st->len, base))
			pm__fatal("restore: cannot move the staged heap into "
				  "place; the heap is half restored",
				  base);
		/* st->view stays: closing the stage gives its (now empty)
		 * address range back to pmalloc's page allocator */
		return;
	}
	/* One fresh anonymous mapping over the whole used extent (so every
	 * gap reads as zero), then the file's sections over it. */
	pm__os_region_has_files = 1;
	pm__os_release(base, st->len);
	for (uint32_t i = 0; i < ck->h.nsections; i++) {
		const struct pmf_section *s = &ck->sec[i];
		if (s->kind != PMF_SEC_HEAP)
			continue;
		void *at = (void *)(uintptr_t)s->addr;
		if (pm__os_map_file(at, (size_t)s->len, PROT_READ | PROT_WRITE,
				    ck->fd, s->data_off) &&
		    pm__pread_full(ck->fd, at, (size_t)s->len, s->data_off))
			pm__fatal("restore: cannot map or read a heap section "
				  "of the checkpoint file; the heap is half "
				  "restored",
				  at);
	}
}

/* PM_RESTORE_* flags the environment adds to the caller's. */
static unsigned env_flags(unsigned flags)
{
	const char *am = pm__env("PMALLOC_ALLOW_MOVED");
	if (am && am[0] == '1')
		flags |= PM_RESTORE_ALLOW_MOVED;
	const char *cp = pm__env("PMALLOC_RESTORE_COPY");
	if (cp && cp[0] == '1')
		flags |= PM_RESTORE_COPY;
	const char *ao = pm__env("PMALLOC_TRUST_ANY_OWNER");
	if (ao && ao[0] == '1')
		flags |= PM_RESTORE_ANY_OWNER;
	return flags;
}

/* One scratch mapping for a restore: this process's objects, its spans,
 * then the globals' bytes of the file (with their keep bitmaps). */
struct restore_scratch {
	unsigned char *mem;
	size_t len;
	struct pm_object *cur;
	struct pm_gspan *gs;
	unsigned char *gdata;
};

static int scratch_get(const struct pm__ckpt *ck, struct restore_scratch *sc)
{
	size_t objs = PMF_MAX_OBJECTS * sizeof(struct pm_object);
	size_t spans = PM_GSPAN_MAX * sizeof(struct pm_gspan);
	size_t glob = 0;
	for (uint32_t i = 0; i < ck->h.nsections; i++)
		if (ck->sec[i].kind != PMF_SEC_HEAP)
			glob += (size_t)(ck->sec[i].len +
					 pmf_keep_bytes(ck->sec[i].len));
	sc->len = objs + spans + glob;
	sc->mem = pm__scratch(sc->len);
	if (!sc->mem)
		return pm__err(-ENOMEM, "restore: no scratch memory");
	sc->cur = (struct pm_object *)sc->mem;
	sc->gs = (struct pm_gspan *)(sc->mem + objs);
	sc->gdata = sc->mem + objs + spans;
	return 0;
}

/* With a key configured the file must carry a MAC (checked later, on the
 * staged bytes): 1 with hm keyed, 0 without a key, or the refusal. */
static int check_keyed(const struct pm__ckpt *ck, struct pm__hmac_sha256 *hm)
{
	int rc = pm__key_hmac(hm, "restore");
	if (rc > 0 && !(ck->h.flags & PMF_FLAG_MAC)) {
		pm__wipe(hm, sizeof *hm);
		return pm__err(PM_EAUTH, "checkpoint is not authenticated: it "
					 "has no MAC and a key is configured");
	}
	return rc;
}

/* The file against this process, up to the code ranges' reservation (on
 * success the code sections' ranges are reserved; on failure none is). */
static int check_process(struct pm__ckpt *ck, unsigned flags,
			 struct restore_scratch *sc, intptr_t *exe_delta)
{
	int rc;
	if ((rc = check_heap(ck)))
		return rc;
	int ncur = pm__objects(sc->cur, PMF_MAX_OBJECTS);
	if ((rc = pm__ckpt_check_objects(ck, flags, sc->cur, ncur, exe_delta)))
		return rc;
	int ngs = pm__globals_spans(sc->gs, PM_GSPAN_MAX);
	if (ngs < 0)
		return ngs;
	if ((rc = check_globals(ck, *exe_delta, sc->gs, ngs)))
		return rc;
	return pm__code_reserve_sections(ck->sec, ck->h.nsections);
}

/* Restore needs a single thread.  A joined helper (verify) may still
 * count for a moment: it has woken its joiner but not yet left the thread
 * group. */
static int check_single_thread(const struct pm__ckpt *ck)
{
	for (int i = 0; ck->helper_ran && i < 400 && pm__thread_count() > 1;
	     i++)
		usleep(250);
	if (pm__thread_count() > 1)
		return pm__err(-EBUSY,
			       "restore: %d threads are running; restore "
			       "needs a single-threaded process",
			       pm__thread_count());
	return 0;
}

/* The heap staged and checked (and with a key, authenticated on the very
 * bytes that will be used), and the globals read and checked. */
static int stage(struct pm__ckpt *ck, unsigned flags, struct pm__stage *st,
		 unsigned char *gdata, struct pm__hmac_sha256 *hm, int keyed)
{
	int copy = keyed || (flags & PM_RESTORE_COPY);
	int rc = pm__stage_open(ck, st, copy);
	if (!rc && copy) /* the crcs of the bytes in hand */
		rc = pm__stage_crcs(ck, st);
	else if (!rc && !(flags & PM_RESTORE_NO_VERIFY))
		rc = pm__ckpt_verify_data(ck);
	if (!rc)
		rc = pm__stage_check(st, (flags & PM_RESTORE_CHECK_HEAP) != 0);
	if (!rc)
		rc = load_globals(ck, gdata);
	if (keyed && !rc)
		rc = pm__stage_mac(ck, st, gdata, hm); /* wipes hm */
	else if (keyed)
		pm__wipe(hm, sizeof *hm);
	if (!copy) /* the checks are done; apply maps the file itself */
		pm__stage_close(st);
	return rc;
}

/* The heap's consent, then the point of no return. */
static int apply(struct pm__ckpt *ck, struct pm__stage *st,
		 const unsigned char *gdata, intptr_t exe_delta)
{
	uint64_t keys_before[PM_TSD_WORDS];
	pm__tsd_probe(keys_before);
	pm__heap_quiesce();
	int rc = pm__heap_restore_check();
	if (rc) {
		pm__heap_resume();
		return rc;
	}
	/* ---- from here on, no way back ---- */
	pm__vg_restore_begin(); /* memcheck: the blocks are overwritten */
	stage_apply(ck, st);
	apply_globals(ck, gdata, exe_delta);
	pm__heap_after_restore();
	pm__vg_restore_end(); /* memcheck: the restored heap's blocks */
	pm__heap_resume();
	pm__tsd_restore(keys_before); /* may allocate: after resuming */
	pm__ckpt_restored = 1;
	return 0;
}

int pm__ckpt_restore(const char *path, unsigned flags)
{
	struct pm__ckpt ck;
	struct restore_scratch sc = { 0 };
	struct pm__stage st = { 0 };
	struct pm__hmac_sha256 hm;
	int rc, code_reserved = 0, keyed = 0;
	intptr_t exe_delta = 0;

	flags = env_flags(flags);
	if (pm__ensure_init() || !pm__region)
		return pm__err(PM_ENOHEAP,
			       "restore: the heap is not available");
	if ((rc = pm__ckpt_open(path, &ck)))
		return rc;
	if (ck.h.kind == PMF_KIND_IMAGE) {
		pm__ckpt_close(&ck);
		return pm__err(-EINVAL, "%s is a process image, not a "
					"checkpoint (pmalloc run --resume)",
			       path);
	}
	if ((rc = pm__ckpt_check_trust(&ck, flags)) ||
	    (rc = keyed = check_keyed(&ck, &hm)) < 0)
		goto out;
	if ((rc = scratch_get(&ck, &sc)) ||
	    (rc = check_process(&ck, flags, &sc, &exe_delta)))
		goto out;
	code_reserved = 1; /* from here, a refusal gives the ranges back */
	rc = stage(&ck, flags, &st, sc.gdata, &hm, keyed);
	keyed = 0; /* stage() finished or wiped the key's state */
	if (rc)
		goto out;
	own_keep_masks(&ck, sc.gdata, exe_delta);
	if ((rc = check_map_count(&ck)) || (rc = check_single_thread(&ck)))
		goto out;
	rc = apply(&ck, &st, sc.gdata, exe_delta);
out:
	if (keyed > 0)
		pm__wipe(&hm, sizeof hm);
	if (rc && code_reserved)
		pm__code_unreserve_sections(ck.sec, ck.h.nsections);
	pm__stage_close(&st);
	pm__scratch_free(sc.mem, sc.len);
	pm__ckpt_close(&ck);
	return rc;
}
