/*
 * image_kstate_plan.h - the plan pm__ks_prepare builds and pm__ks_apply
 * follows (image_kstate.h).  Private to image_kstate_prep.c and
 * image_kstate_apply.c.
 *
 * Everything apply needs is here, by value: apply reads no global, and
 * the plan lives in memory the caller keeps while libc's and pmalloc's
 * own data are replaced.
 */
#ifndef PM_IMAGE_KSTATE_PLAN_H
#define PM_IMAGE_KSTATE_PLAN_H

#include <stdint.h>
#include "image_format.h"

#define PM__KS_PLAN_MAGIC 0x4e414c50534b4d50ull /* "PMKSPLAN" */
/* Prepared descriptors are at or above this number (and above every
 * number the image restores). */
#define PM__KS_PREP_BASE 1000

struct pm__ks_ent {
	int32_t target;    /* the image's descriptor number */
	int32_t prep;      /* the prepared descriptor, or -1: the
			    * resuming process's own one is kept */
	int32_t dirfd;     /* written file: its directory (O_PATH), or -1 */
	int32_t cloexec;   /* O_CLOEXEC or 0, for dup3 */
	int64_t seek;      /* kept descriptor (prep -1) to move to this
			    * offset, or -1 */
	char tmp[32];      /* written file: the temporary's name in dirfd */
	char base[256];    /* written file: its own name in dirfd */
};

struct pm__ks_plan {
	uint64_t magic;        /* PM__KS_PLAN_MAGIC while prepared */
	uint32_t nent;         /* entries in ent[] */
	uint32_t umask;
	int32_t cwdfd;         /* the working directory (O_PATH) */
	int32_t pad;
	struct pmf_signals sig; /* checked */
	/* descriptors apply leaves open: restored, inherited by this
	 * process, kept by the caller */
	uint64_t keep[PMF_FD_LIMIT / 64];
	unsigned char io[16384] __attribute__((aligned(16))); /* buffers */
	struct pm__ks_ent ent[];
};

static inline int pm__ks_bit(const uint64_t *bits, int fd)
{
	return (int)(bits[fd / 64] >> (fd % 64) & 1);
}

#endif /* PM_IMAGE_KSTATE_PLAN_H */
