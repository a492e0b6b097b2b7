/*
 * ckpt_runs.c - the heap's byte ranges a checkpoint saves (struct
 * pm__ckpt_runs in ckpt.h), found while the heap is quiesced.
 *
 * A page of the region is saved unless it is inside a free chunk
 * (pm__heap_spans skips those interiors) or was never touched: neither
 * present nor swapped in /proc/self/pagemap (it reads as zero), and not
 * backed by a file (a restored checkpoint's unread pages are not present
 * either, yet hold data).  The region header's pages are always saved;
 * without pagemap every span is.
 *
 * Invariants of the result: runs in address order, page-aligned, not
 * touching, at most PMF_MAX_HEAP_SECTIONS of them (a restore maps each
 * one plus the gap after it, and the kernel's default limit is 65530
 * mappings).  Nothing here allocates or takes a lock: pm__ckpt_runs_find
 * runs quiesced; the buffers come from the caller's scratch.
 */
#include "ckpt.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#define PAGEMAP_ENTRIES 4096 /* pagemap words read at a time */
#define MAX_FILES 65536      /* file-backed mappings inside the region */

static uint64_t page_up(uint64_t a)
{
	return (a + PM_PAGE - 1) & ~(PM_PAGE - 1);
}

/* Runs are at most one per two pages. */
static size_t max_runs(void)
{
	return (pm__region->tbase - pm__region->base) / PM_PAGE / 2 + 2;
}

size_t pm__ckpt_runs_scratch(void)
{
	return max_runs() * sizeof(struct pm__run) +
	       MAX_FILES * sizeof(struct pm__run) + PAGEMAP_ENTRIES * 8;
}

void pm__ckpt_runs_begin(struct pm__ckpt_runs *r, void *mem)
{
	memset(r, 0, sizeof *r);
	r->maxruns = max_runs();
	r->runs = mem;
	r->files = r->runs + r->maxruns;
	r->maxfiles = MAX_FILES;
	r->pm = (uint64_t *)(r->files + MAX_FILES);
	r->pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	r->must_lo = pm__region->base;
	r->must_hi = pm__region->base + page_up(sizeof(struct pm_region));
}

static void add_run(struct pm__ckpt_runs *r, uint64_t lo, uint64_t hi)
{
	hi = page_up(hi);
	if (r->nruns && r->runs[r->nruns - 1].hi == lo) {
		r->runs[r->nruns - 1].hi = hi;
		return;
	}
	if (r->nruns == r->maxruns) {
		r->err = -ENOMEM;
		return;
	}
	r->runs[r->nruns].lo = lo;
	r->runs[r->nruns].hi = hi;
	r->nruns++;
}

static int in_files(const struct pm__ckpt_runs *r, uint64_t a)
{
	for (size_t i = 0; i < r->nfiles; i++)
		if (a >= r->files[i].lo && a < r->files[i].hi)
			return 1;
	return 0;
}

/* A page must be saved unless it was never touched: neither present nor
 * swapped (it reads as zero) and not backed by a checkpoint file (whose
 * unread pages are not present either, yet hold data). */
static int span_cb(void *vctx, uintptr_t lo, uintptr_t hi)
{
	struct pm__ckpt_runs *r = vctx;
	if (r->pagemap < 0) {
		add_run(r, lo, hi);
		return r->err;
	}
	uintptr_t run_lo = 0;
	int in_run = 0;
	for (uintptr_t at = lo; at < hi;) {
		size_t n = (hi - at) / PM_PAGE;
		if (n > PAGEMAP_ENTRIES)
			n = PAGEMAP_ENTRIES;
		ssize_t got = pread(r->pagemap, r->pm, n * 8,
				    (off_t)(at / PM_PAGE * 8));
		if (got != (ssize_t)(n * 8)) {
			/* cannot tell: save everything from here */
			if (!in_run)
				run_lo = at, in_run = 1;
			break;
		}
		for (size_t i = 0; i < n; i++, at += PM_PAGE) {
			uint64_t e = r->pm[i];
			int need = (e >> 62) != 0 ||
				   (at >= r->must_lo && at < r->must_hi) ||
				   (r->nfiles && in_files(r, at));
			if (need && !in_run)
				run_lo = at, in_run = 1;
			else if (!need && in_run)
				add_run(r, run_lo, at), in_run = 0;
		}
	}
	if (in_run)
		add_run(r, run_lo, hi);
	return r->err;
}

static int files_cb(void *vctx, uintptr_t lo, uintptr_t hi,
		    const char *perms, const char *path)
{
	struct pm__ckpt_runs *r = vctx;
	(void)perms;
	uintptr_t b = pm__region->base, e = pm__region->tbase;
	if (hi <= b || lo >= e || !path[0] || path[0] == '[')
		return 0;
	if (r->nfiles == r->maxfiles) {
		r->err = -ENOMEM;
		return 1;
	}
	r->files[r->nfiles].lo = lo < b ? b : lo;
	r->files[r->nfiles].hi = hi > e ? e : hi;
	r->nfiles++;
	return 0;
}

/* Too many runs for a restore to map: merge across the smallest gaps,
 * doubling the gap accepted until few enough remain. */
static void merge_runs(struct pm__ckpt_runs *r)
{
	/* A one- or two-page hole costs a restore more (two mappings) than
	 * writing it: always merge those. */
	uint64_t gap = 2 * PM_PAGE;
	for (int first = 1; first || r->nruns > PMF_MAX_HEAP_SECTIONS; first = 0) {
		size_t n = 0;
		for (size_t i = 0; i < r->nruns; i++) {
			if (n && r->runs[i].lo - r->runs[n - 1].hi <= gap)
				r->runs[n - 1].hi = r->runs[i].hi;
			else
				r->runs[n++] = r->runs[i];
		}
		r->nruns = n;
		gap *= 2;
	}
}

int pm__ckpt_runs_find(struct pm__ckpt_runs *r)
{
	if (pm__os_region_has_files)
		pm__os_maps(files_cb, r);
	if (!r->err)
		pm__heap_spans(span_cb, r);
	if (r->pagemap >= 0)
		close(r->pagemap);
	r->pagemap = -1;
	if (r->err)
		return pm__err(r->err, "checkpoint: too many heap spans");
	merge_runs(r);
	return 0;
}
