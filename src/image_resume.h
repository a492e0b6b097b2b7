/*
 * image_resume.h - what the two halves of a resume share (private to
 * image_resume.c, the checks and the whole sequence, and image_stage.c,
 * the staging area and the plan).
 */
#ifndef PM_IMAGE_RESUME_H
#define PM_IMAGE_RESUME_H

#include "image.h"
#include "image_apply.h"
#include "sha256.h"

#define RESTORER_STACK (64u << 10)

struct rs {
	struct pm__ckpt ck;
	struct pm__image im;
	struct pm_object *cur;  /* this process's objects */
	int ncur;
	struct pm__vmalist l;   /* this process's mappings */
	unsigned char *scratch;
	size_t scratch_len;
	uint64_t brk_old;
	int brk_moved;
	unsigned char *staging;
	size_t staging_len;
	int fd;
	int keyed;              /* a key is configured: the pages are read
				 * into staging and checked there */
	struct pm__hmac_sha256 hm;
	unsigned char *pages;   /* keyed: [heap_off, file_size) in staging */
	void *ks_mem;           /* the kernel state's plan, in staging */
	size_t ks_len;
	struct pm__ks_plan *ks;
	int *vfd;               /* per image mapping: its file, or -1 */
	uint32_t nvfd;
	int vfd_set;            /* vfd[0, nvma) are set */
};

/* image_resume.c: this process's mappings (again) into r->l; the one
 * starting at start; an image's named or kernel mapping v here, the
 * same; every named/kernel mapping of the image here and nothing kept in
 * the way of a copied one (0 or PM_ELAYOUT). */
int pm__rs_list_current(struct rs *r);
const struct pmf_vma *pm__rs_cur_at(const struct rs *r, uint64_t start);
int pm__rs_same_mapping(const struct rs *r, const struct pmf_vma *v,
			const struct pmf_vma *c);
int pm__rs_check_mappings(struct rs *r);

/* image_objects.c: the executable and every loaded object against the
 * image's (build-id, size, mtime, address), and the image's dlopened
 * objects unchanged on disk: 0, PM_EEXEC or PM_ELAYOUT. */
int pm__rs_check_objects(struct rs *r);

/* image_stage.c: the lowest descriptor number above every one the image
 * records (where the resume keeps its own); the staging area with the
 * plan, the stack, the kernel state's room and (keyed) the checked pages;
 * the kernel state prepared into it; rseq unregistered (the last step
 * before the point of no return); the named files' descriptors closed. */
int pm__rs_high_fd(const struct pm__image *im);
int pm__rs_stage(struct rs *r, struct pm__plan **out);
int pm__rs_prepare_kstate(struct rs *r, struct pm__plan *p);
int pm__rs_rseq_off(struct pm__plan *p);
void pm__rs_close_named(struct rs *r);

#endif /* PM_IMAGE_RESUME_H */
