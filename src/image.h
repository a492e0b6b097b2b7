/*
 * image.h - process images (docs/IMAGE.md): the parts shared by the
 * writer (image_write.c), the maps walk (image_maps.c), the reader
 * (image_parse.c, also linked into the CLI) and the resume
 * (image_resume.c).
 *
 * An image file is a checkpoint file of kind PMF_KIND_IMAGE (format.h):
 * the same header, metadata, table, crcs and MAC, with records after the
 * table and the copied pages after heap_off.
 */
#ifndef PM_IMAGE_H
#define PM_IMAGE_H

#include "ckpt.h"
#include "image_ctx.h"
#include "image_kstate.h"

/* Limits a writer keeps and a reader enforces. */
#define PM__IMAGE_MAX_VMAS 65536u
#define PM__IMAGE_MAX_STRINGS (1u << 20)
/* Records (everything before the pages) are read into memory whole. */
#define PM__IMAGE_MAX_RECORDS (256ull << 20)

/* ---- image_maps.c: the mappings of this process, classified ---------- */
struct pm__vmalist {
	struct pmf_vma *v;      /* in address order */
	uint32_t n, cap;
	char *str;              /* the STRINGS section being built */
	uint32_t slen, scap;
	uintptr_t skip_lo, skip_hi; /* left out: the writer's own scratch */
	int no_heap_walk;       /* in a signal handler: pagemap only */
	int current;            /* listing the resuming process: a shared
				 * mapping is recorded (to be replaced),
				 * not refused */
	int pagemap;            /* fd of /proc/self/pagemap or -1 */
	uint64_t *pm;           /* PM__PAGEMAP_BATCH entries of scratch */
};
#define PM__PAGEMAP_BATCH 4096u
/* Read /proc/self/maps into l (its buffers set by the caller): one record
 * per mapping, [skip_lo, skip_hi) cut out, each classified.  0, or
 * -ENOTSUP for a mapping an image cannot hold (shared, a deleted file
 * that is mapped read-only), -E2BIG past the limits; the message says
 * which mapping. */
int pm__image_vmas(struct pm__vmalist *l);
/* Append s (with its NUL) to the strings; its offset, or PMF_NO_NAME when
 * full. */
uint32_t pm__image_str(struct pm__vmalist *l, const char *s, size_t n);

/* The byte runs of a copied mapping worth saving, in address order:
 * fn(ctx, lo, hi) for each; non-zero from fn stops and is returned. */
int pm__image_runs(const struct pm__vmalist *l, const struct pmf_vma *v,
		   int (*fn)(void *ctx, uint64_t lo, uint64_t hi), void *ctx);

/* ---- image_parse.c: an image's records, checked (CLI-safe) ---------- */
struct pm__image {
	const struct pmf_vma *vma;
	uint32_t nvma;
	const char *str;
	uint64_t str_len;
	const unsigned char *stack; /* bytes of [stack_addr, stack_top) */
	uint64_t stack_addr, stack_len;
	const unsigned char *cpu;   /* struct pm__ctx, maybe unaligned */
	const struct pmf_proc *proc;
	const unsigned char *signals, *fds;
	uint64_t signals_len, fds_len;
	uint32_t npages;            /* PAGES sections */
	const struct pmf_vma *stack_vma;
	struct pm__ks_blob filedata[PMF_MAX_OTHER_SECTIONS];
	uint32_t nfiledata;         /* FILEDATA sections, in file order */
	unsigned char *rec;         /* pm__image_open's copy of [0, heap_off) */
	size_t rec_len;
};
/* Check the records of an image whose bytes [0, heap_off) are at rec
 * (ck parsed from them): each record's crc, the VMA list (ordered,
 * disjoint, classes, names), the pages (each inside a copied mapping),
 * the stack (inside [stack], ending at the stack top), the process facts.
 * 0 or PM_ECORRUPT with the reason. */
int pm__image_parse(const struct pm__ckpt *ck, const unsigned char *rec,
		    struct pm__image *im);
/* Open path (pm__ckpt_open) and, for an image, read and check its
 * records (pm__image_parse).  ck and im are set even for a checkpoint
 * (im->rec NULL).  pm__image_close releases both. */
int pm__image_open(const char *path, struct pm__ckpt *ck, struct pm__image *im);
void pm__image_close(struct pm__ckpt *ck, struct pm__image *im);
/* The string at off in the image's STRINGS ("" when off is PMF_NO_NAME). */
const char *pm__image_name(const struct pm__image *im, uint32_t off);
/* 1 if [a, a+n) lies in writable mappings of the image, without a gap. */
int pm__image_writable(const struct pm__image *im, uint64_t a, uint64_t n);
/* Class name, for messages and the CLI. */
const char *pm__image_class(uint32_t c);

/* The command line: copied as __libc_start_main received it
 * (interpose.c), before the program can rewrite it; what an image
 * records and a resume compares.  pm__cmdline gives it as NUL-terminated
 * strings one after the other (from /proc/self/cmdline without the copy);
 * 0 or -errno (-E2BIG past 64 KiB). */
void pm__note_cmdline(int argc, char **argv);
int pm__cmdline(char *buf, size_t cap, size_t *n);

/* ---- image_facts.c ----
 * The process facts (stack top from l's [stack], which must hold
 * ctx->rsp; break, vDSO, auxv, CPUID, tid offset, argv and executable
 * into l's strings).  0 or -ENOTSUP/-E2BIG/-errno with the message. */
int pm__image_facts(struct pmf_proc *p, struct pm__vmalist *l,
		    const struct pm__ctx *ctx);

/* ---- image_write.c, image_trigger.c ----
 * pm_image's body; from_signal: taken in a signal handler (no hooks, no
 * loader lock, no heap walk).  0, PM_RESUMED or a negative code. */
int pm__image_take(const char *path, int from_signal);
/* PMALLOC_IMAGE=path with PMALLOC_IMAGE_ON=SIGNAL: install the handler
 * that images the process on SIGNAL (from __libc_start_main). */
void pm__image_trigger_startup(void);
/* A resumed process: the trigger is for this process now (its new pid). */
void pm__image_trigger_resumed(void);

/* ---- image_resume.c ----
 * Resume from path: returns only when the image is refused (the reason in
 * pm_errmsg), having undone everything.  pm__resume_at_startup: the
 * PMALLOC_RESUME hook of __libc_start_main (interpose.c); prints
 * "pmalloc: not resumed: PATH: REASON" and returns when refused. */
int pm__image_resume(const char *path);
int pm__resume_at_startup(void);

#endif /* PM_IMAGE_H */
