/*
 * ckpt.h - the interface between the checkpoint files, the CLI and the
 * fuzz harness:
 *   ckpt_parse.c    the parser (a buffer; needs only crc32c, pm__err)
 *   ckpt_verify.c   a file: open, parse its prefix, verify by pread
 *   ckpt_mac.c      the key and the keyed MAC (sha256.c)
 *   ckpt_restore.c  checks against this process, apply (whole library)
 *   ckpt_write.c    the writer: the image (layout, data, header)
 *   ckpt_runs.c     which heap bytes a checkpoint saves
 *   ckpt_file.c     the file's way to its name (temp, fsync, rename)
 *   ckpt_api.c      pm_checkpoint/pm_restore, the PMALLOC_RESTORE hook
 * The CLI links the first three (plus crc32c, util, os), the fuzzer the
 * first.
 */
#ifndef PM_CKPT_H
#define PM_CKPT_H

#include "internal.h"
#include "format.h"
#include "sha256.h"

#include <signal.h>


/* A parsed file: pointers into the caller's buffer (or the scratch map). */
struct pm__ckpt {
	struct pmf_header h;            /* a copy of the header */
	const struct pmf_meta *meta;
	const struct pmf_object *obj;   /* h.nobjects, [0] the executable */
	const struct pmf_section *sec;  /* h.nsections */
	uint64_t file_size;
	uint64_t table_end;  /* bytes of the file the parser needs in memory */
	uint64_t globals_end; /* end of globals data; zero padding to heap_off */
	/* set by pm__ckpt_open: */
	int fd;
	void *map;           /* private anonymous scratch: prefix + chunk */
	size_t map_len;
	unsigned char *chunk; /* PM__CHUNK bytes of scratch for pread */
	int helper_ran;      /* pm__ckpt_verify_data used a second thread */
	int guarded;         /* its pass holds the SIGBUS guard (windows) */
};
#define PM__CHUNK (1UL << 20)

#define PM__PARSE_HEADER 0x1u  /* stop after the header */
#define PM__PARSE_NO_DATA 0x2u /* buf holds only the prefix: skip data */
#define PM__PARSE_NO_CRC 0x4u  /* fuzzing: ignore checksum mismatches */

/* Parse the first len bytes (an 8-aligned buffer) of a file of file_size
 * bytes: header, then (unless PM__PARSE_HEADER) metadata and table, then
 * (if the buffer holds the whole file and not PM__PARSE_NO_DATA) every
 * section's checksum and the heap's region header.  Never reads outside
 * [buf, buf+len).  0 or PM_EMAGIC/PM_EVERSION/PM_ETRUNC/PM_ECORRUPT with
 * pm_errmsg() saying which check failed and where. */
int pm__ckpt_parse(const void *buf, size_t len, uint64_t file_size,
		   unsigned how, struct pm__ckpt *ck);

/* Open path and parse header, metadata and table (no data checksums).
 * On success ck owns an fd and a scratch mapping: pm__ckpt_close(). */
int pm__ckpt_open(const char *path, struct pm__ckpt *ck);
void pm__ckpt_close(struct pm__ckpt *ck);
/* Read every section with pread into the scratch chunk, check checksums
 * and the region header.  0, PM_ECORRUPT, PM_ETRUNC or -errno. */
int pm__ckpt_verify_data(struct pm__ckpt *ck);
int pm__ckpt_region_header(struct pm__ckpt *ck);

/* ---- ckpt_mac.c: the key and the file's MAC (format.h, PMF_FLAG_MAC) ----
 * The key: set by pm_key_set, or read from PMALLOC_KEY_FILE on first need.
 * pm__key_hmac: 1 with c keyed (the caller must final or wipe it), 0 if no
 * key is configured, or the key file's refusal (-EACCES, -EINVAL, ...),
 * its message starting with `who` ("checkpoint", "restore"). */
int pm__key_hmac(struct pm__hmac_sha256 *c, const char *who);
/* Read path as the key (the PMALLOC_KEY_FILE rules); 0 or the refusal. */
int pm__key_load_file(const char *path, const char *who);
/* The MAC of a file: prefix = its bytes [0, table_end) (the mac and
 * header_crc fields are read as zeros), body = SHA-256 of the rest.
 * Finishes (and wipes) c. */
void pm__ckpt_mac(struct pm__hmac_sha256 *c, const unsigned char *prefix,
		  uint64_t table_end, const unsigned char body[PM_SHA256_LEN],
		  unsigned char mac[PM_SHA256_LEN]);
/* With a key configured: the file's MAC, reading the whole file through
 * ck->fd and ck->chunk.  0 (also when no key is configured: a MAC is then
 * not checked), PM_EAUTH (no MAC, or a wrong one), a key file's refusal,
 * or a read error. */
int pm__ckpt_verify_mac(struct pm__ckpt *ck);
/* The file's MAC from hm (keyed; finished and wiped here) and the hash of
 * its body, compared in constant time with the header's: 0 or PM_EAUTH. */
int pm__ckpt_mac_check(const struct pm__ckpt *ck, struct pm__hmac_sha256 *hm,
		       const unsigned char body[PM_SHA256_LEN]);

/* ---- ckpt_stage.c: the file's heap staged before a restore commits ---- */
struct pm__stage {
	unsigned char *view; /* [base, base+len) of the file's heap */
	uintptr_t base;
	size_t len;          /* top_end - base, page-rounded */
	int copied;          /* 1: read into anonymous memory; 0: mapped */
};
/* Map (copy 0) or read (copy 1) every heap section into a fresh view.
 * 0 or the refusal; on failure nothing is left. */
int pm__stage_open(struct pm__ckpt *ck, struct pm__stage *st, int copy);
void pm__stage_close(struct pm__stage *st);
/* Every heap section's crc, computed on the view. */
int pm__stage_crcs(const struct pm__ckpt *ck, const struct pm__stage *st);
/* The region header's pointers, the thread caches, and with walk every
 * chunk: 0 or PM_ECORRUPT. */
int pm__stage_check(const struct pm__stage *st, int walk);
/* The file's MAC over the bytes the restore uses: the prefix the parser
 * read, gdata (the globals with their keep bitmaps, as read), the view
 * (copied).  Finishes and wipes hm.  0 or PM_EAUTH. */
int pm__stage_mac(const struct pm__ckpt *ck, const struct pm__stage *st,
		  const unsigned char *gdata, struct pm__hmac_sha256 *hm);

/* ckpt_parse.c, shared with the restore: the few fields of struct
 * pm_region a file must agree with (r: n bytes from the heap section's
 * start); a refusal naming section i. */
int pm__ckpt_check_region(const struct pm__ckpt *ck, const unsigned char *r,
			  size_t n);
int pm__ckpt_bad_section(uint32_t i, const struct pmf_section *s,
			 const char *why);
/* A refusal: the padding before the heap data is not zero. */
int pm__ckpt_bad_padding(const struct pm__ckpt *ck);
#define PM__KIND_NAME(k)                                                       \
	((k) == PMF_SEC_HEAP		 ? "heap"                              \
	 : (k) == PMF_SEC_DATA		 ? "data"                              \
	 : (k) == PMF_SEC_PERSISTENT	 ? "persistent"                        \
	 : (k) == PMF_SEC_REGISTERED	 ? "registered"                        \
	 : (k) == PMF_SEC_CODE		 ? "code"                              \
	 : (k) == PMF_SEC_VMAS		 ? "vmas"                              \
	 : (k) == PMF_SEC_STRINGS	 ? "strings"                           \
	 : (k) == PMF_SEC_PAGES		 ? "pages"                             \
	 : (k) == PMF_SEC_STACK		 ? "stack"                             \
	 : (k) == PMF_SEC_CPU		 ? "cpu"                               \
	 : (k) == PMF_SEC_SIGNALS	 ? "signals"                           \
	 : (k) == PMF_SEC_PROC		 ? "proc"                              \
	 : (k) == PMF_SEC_FDS		 ? "fds"                               \
	 : (k) == PMF_SEC_FILEDATA	 ? "filedata"                          \
					 : "unknown")
/* Sections whose data are page-aligned runs after heap_off. */
#define PM__PAGED(k) ((k) == PMF_SEC_HEAP || (k) == PMF_SEC_PAGES)
/* ckpt_verify.c: pread exactly n bytes at off; 0, -errno, or PM_ETRUNC
 * (through pm__err) at the end of the file. */
int pm__pread_full(int fd, void *buf, size_t n, uint64_t off);

/* codemap.c: reserve (PROT_NONE, only over nothing) the range of every code
 * section of sec[0, n), refusing ranges in the heap or pmalloc's own
 * memory, below mmap_min_addr, or over anything mapped here; a restore
 * does so while it validates, so that the apply cannot fail for want of
 * a range.  0, or a PM_ELAYOUT refusal with nothing left reserved. */
int pm__code_reserve_sections(const struct pmf_section *sec, uint32_t n);
/* Give back the reservations of the code sections of sec[0, upto). */
void pm__code_unreserve_sections(const struct pmf_section *sec,
				 uint32_t upto);

/* ckpt_restore.c, shared with image_resume.c: the file's owner and mode
 * (the trust model; PM_RESTORE_ANY_OWNER skips it), and the loaded
 * objects against the file's (PM_EEXEC, PM_ELAYOUT). */
int pm__ckpt_check_trust(const struct pm__ckpt *ck, unsigned flags);
int pm__ckpt_check_objects(const struct pm__ckpt *ck, unsigned flags,
			   struct pm_object *cur, int ncur, intptr_t *exe_delta);
/* The whole restore (flags PM_RESTORE_*), ckpt_restore.c. */
int pm__ckpt_restore(const char *path, unsigned flags);
/* The whole checkpoint, ckpt_write.c. */
int pm__ckpt_write(const char *path);
/* ckpt_write.c, shared with image_write.c: the metadata of a file written
 * now (creator, host, pid, uid, threads) and the objects' table. */
void pm__ckpt_meta(struct pmf_meta *meta, struct pmf_object *fobj,
		   const struct pm_object *objs, int nobj);
/* The header's magic, version, kind, sizes and this heap's facts. */
void pm__ckpt_header_heap(struct pmf_header *h, uint32_t version,
			  uint32_t kind);


/* ---- ckpt_runs.c: the heap's byte ranges a checkpoint saves ----
 * _begin before quiescing (it opens /proc/self/pagemap) with
 * pm__ckpt_runs_scratch() bytes of scratch at mem; _find quiesced: runs[0,
 * nruns) in address order, page-aligned, at most PMF_MAX_HEAP_SECTIONS;
 * 0 or -ENOMEM with its message. */
struct pm__run {
	uint64_t lo, hi;
};
struct pm__ckpt_runs {
	struct pm__run *runs; /* the result */
	size_t nruns;
	/* ckpt_runs.c's own: */
	size_t maxruns;
	struct pm__run *files; /* file-backed mappings inside the region */
	size_t nfiles, maxfiles;
	int pagemap;           /* fd of /proc/self/pagemap, or -1 */
	uint64_t *pm;          /* pagemap entries buffer */
	uintptr_t must_lo, must_hi; /* always saved: the region header */
	int err;
};
size_t pm__ckpt_runs_scratch(void);
void pm__ckpt_runs_begin(struct pm__ckpt_runs *r, void *mem);
int pm__ckpt_runs_find(struct pm__ckpt_runs *r);

/* ---- ckpt_file.c: the checkpoint file on its way to its name ----
 * A temp file beside the target is created, written, synced and renamed
 * over it; the target is never modified.  Calls, in this order:
 *   _check   first, before any work: the target is a regular file or
 *            absent (else -EISDIR/-EINVAL); sets every field;
 *   _open    the directory, the stale temps' cleanup, SIGXFSZ blocked,
 *            the temp created, locked and given its mode;
 *   _reserve, _write  (also while the heap is quiesced: they return
 *            -errno and say nothing) the size (fallocate; 0 where the
 *            file system cannot), then the bytes;
 *   _commit  fsync, rename, directory fsync (PM_EDIRSYNC: the new file is
 *            in place but the directory could not be synced);
 *   _close   always, once _check has run; rc != 0 unlinks the temp.
 * Every function but _reserve, _write and _close returns 0 or a code
 * whose message pm__err has set. */
#define PM__CKPT_NAME_CAP 4200
struct pm__ckpt_out {
	const char *path;    /* the target, as given */
	const char *base;    /* its last component, inside path */
	char *dir;           /* the caller's buffers, PM__CKPT_NAME_CAP bytes */
	char *tmp;           /*   each: path's directory, the temp's name */
	const char *tmpbase; /* the temp's name in dir, inside tmp */
	mode_t mode;         /* the temp's mode */
	int dfd, fd;         /* the directory, the temp (-1: none) */
	int created;         /* the temp is there and not renamed yet */
	int xfsz_on, xfsz_was_pending;
	sigset_t xfsz_old;   /* the signal mask before SIGXFSZ was blocked */
};
int pm__ckpt_out_check(struct pm__ckpt_out *o, const char *path);
int pm__ckpt_out_open(struct pm__ckpt_out *o, char *dir, char *tmp);
int pm__ckpt_out_reserve(const struct pm__ckpt_out *o, uint64_t size);
int pm__ckpt_out_write(const struct pm__ckpt_out *o, const void *buf,
		       size_t n, uint64_t off);
/* The message of a failed write (rc) to the temp; returns rc. */
int pm__ckpt_out_failed(const struct pm__ckpt_out *o, int rc);
int pm__ckpt_out_commit(struct pm__ckpt_out *o);
void pm__ckpt_out_close(struct pm__ckpt_out *o, int rc);
/* 1 once a restore has replaced the heap (ckpt_api.c). */
extern int pm__ckpt_restored;

/* Are the n bytes at p all zero? */
static inline int pm__ckpt_zero(const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return 0;
	return 1;
}

/* Overflow-safe: does [off, off+len) lie inside [lo, hi)? */
static inline int pm__range_in(uint64_t off, uint64_t len, uint64_t lo,
			       uint64_t hi)
{
	return off >= lo && off <= hi && len <= hi - off;
}

#endif /* PM_CKPT_H */
