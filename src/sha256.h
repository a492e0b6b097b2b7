/*
 * sha256.h - SHA-256 (FIPS 180-4) and HMAC-SHA-256 (RFC 2104), streaming,
 * libc only, no allocation: every context lives where the caller puts it.
 *
 * Used to authenticate checkpoint files (ckpt_mac.c, docs/FORMAT.md
 * "Authentication").  The compression function has a portable C version
 * and, on x86-64 processors with the SHA extensions, one with those
 * instructions, chosen once at run time; pm__sha256_set_hw lets a test
 * force the portable one.
 */
#ifndef PM_SHA256_H
#define PM_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define PM_SHA256_LEN 32
#define PM_SHA256_BLOCK 64

struct pm__sha256 {
	uint32_t h[8];        /* chaining value */
	uint64_t bytes;       /* message bytes so far */
	unsigned char buf[PM_SHA256_BLOCK]; /* a partial block */
	size_t nbuf;          /* bytes in buf, < 64 */
};

void pm__sha256_init(struct pm__sha256 *c);
void pm__sha256_update(struct pm__sha256 *c, const void *p, size_t n);
/* Writes the digest and wipes the context. */
void pm__sha256_final(struct pm__sha256 *c, unsigned char out[PM_SHA256_LEN]);
/* One call: the digest of [p, p+n). */
void pm__sha256(const void *p, size_t n, unsigned char out[PM_SHA256_LEN]);

/* HMAC-SHA-256: the inner hash runs as data arrives; the outer context is
 * prepared at init so the key need not be kept. */
struct pm__hmac_sha256 {
	struct pm__sha256 inner, outer;
};

void pm__hmac_sha256_init(struct pm__hmac_sha256 *c, const void *key,
			  size_t klen);
void pm__hmac_sha256_update(struct pm__hmac_sha256 *c, const void *p,
			    size_t n);
/* Writes the MAC and wipes the context. */
void pm__hmac_sha256_final(struct pm__hmac_sha256 *c,
			   unsigned char out[PM_SHA256_LEN]);

/* Which compression function runs: 1 the SHA extensions (only if this CPU
 * has them), 0 the portable one, -1 detect (the default).  Returns 1 if the
 * SHA extensions are in use afterwards.  For tests and measurements. */
int pm__sha256_set_hw(int mode);

/* Overwrite n bytes in a way the compiler cannot drop as a dead store. */
void pm__wipe(void *p, size_t n);

#endif /* PM_SHA256_H */
