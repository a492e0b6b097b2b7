/*
 * sha256.c - SHA-256 (FIPS 180-4, section 6.2) and HMAC (RFC 2104).
 *
 * The message is taken 64 bytes at a time; a partial block waits in the
 * context.  Padding (FIPS 180-4 5.1.1): one 1 bit, zeros up to 56 bytes
 * modulo 64, the message length in bits as a big-endian 64-bit number.
 *
 * Two compression functions, same result:
 *   - blocks_sw: the 64 rounds as the standard writes them, with the
 *     message schedule kept as a sliding window of 16 words;
 *   - blocks_hw (x86-64 only): the SHA extensions.  sha256rnds2 does two
 *     rounds on a state split into the register pairs {A,B,E,F} and
 *     {C,D,G,H}; sha256msg1/msg2 compute four schedule words at a time.
 * The choice is made once (cpuid) and stored in a PM_STATE word, so a
 * restore never brings back another machine's answer.
 *
 * HMAC(K, m) = H((K0 ^ opad) || H((K0 ^ ipad) || m)), K0 the key padded
 * with zeros to 64 bytes, or the key's digest padded so when it is longer.
 */
#include "sha256.h"

#include <string.h>
#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

#ifndef PM_STATE /* as internal.h has it; this file stands alone */
#define PM_STATE __attribute__((section("pm_state")))
#endif

/* The first 32 bits of the fractional parts of the square roots of the
 * first 8 primes (initial hash value, FIPS 180-4 5.3.3) ... */
static const uint32_t H0[8] = {
	0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
	0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
};

/* ... and of the cube roots of the first 64 primes (round constants,
 * 4.2.2).  Both derived again by a script, not copied. */
static const uint32_t K[64] __attribute__((aligned(16))) = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5,
	0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
	0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc,
	0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
	0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
	0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3,
	0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5,
	0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
	0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

void pm__wipe(void *p, size_t n)
{
	memset(p, 0, n);
	/* the asm claims to read p: the stores above cannot be dropped */
	__asm__ __volatile__("" : : "r"(p) : "memory");
}

static inline uint32_t ror(uint32_t x, unsigned n)
{
	return (x >> n) | (x << (32 - n));
}

static inline uint32_t load_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static inline void store_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

/* FIPS 180-4 4.1.2 */
#define CH(x, y, z) (((x) & (y)) ^ (~(x) & (z)))
#define MAJ(x, y, z) (((x) & (y)) ^ ((x) & (z)) ^ ((y) & (z)))
#define BSIG0(x) (ror(x, 2) ^ ror(x, 13) ^ ror(x, 22))
#define BSIG1(x) (ror(x, 6) ^ ror(x, 11) ^ ror(x, 25))
#define SSIG0(x) (ror(x, 7) ^ ror(x, 18) ^ ((x) >> 3))
#define SSIG1(x) (ror(x, 17) ^ ror(x, 19) ^ ((x) >> 10))

static void blocks_sw(uint32_t h[8], const unsigned char *p, size_t nblocks)
{
	uint32_t w[16]; /* the message schedule: wiped at the end (keyed
			 * blocks could be recomputed from it) */
	for (; nblocks; nblocks--, p += 64) {
		uint32_t a = h[0], b = h[1], c = h[2], d = h[3];
		uint32_t e = h[4], f = h[5], g = h[6], hh = h[7];
		for (int t = 0; t < 64; t++) {
			uint32_t wt;
			if (t < 16) {
				wt = load_be32(p + 4 * t);
			} else {
				/* W[t] = s1(W[t-2]) + W[t-7] + s0(W[t-15])
				 *        + W[t-16], in a ring of 16 */
				uint32_t w2 = w[(t - 2) & 15];
				uint32_t w15 = w[(t - 15) & 15];
				wt = SSIG1(w2) + w[(t - 7) & 15] +
				     SSIG0(w15) + w[t & 15];
			}
			w[t & 15] = wt;
			uint32_t t1 = hh + BSIG1(e) + CH(e, f, g) + K[t] + wt;
			uint32_t t2 = BSIG0(a) + MAJ(a, b, c);
			hh = g;
			g = f;
			f = e;
			e = d + t1;
			d = c;
			c = b;
			b = a;
			a = t1 + t2;
		}
		h[0] += a;
		h[1] += b;
		h[2] += c;
		h[3] += d;
		h[4] += e;
		h[5] += f;
		h[6] += g;
		h[7] += hh;
	}
	pm__wipe(w, sizeof w);
}

#if defined(__x86_64__)
#define HW_TARGET __attribute__((target("sha,sse4.1,ssse3")))

/* Four rounds 4g..4g+3 with the schedule words m (W[4g] in the low lane). */
#define ROUNDS4(m, g)                                                          \
	do {                                                                   \
		__m128i wk_ = _mm_add_epi32(                                   \
			(m), _mm_load_si128((const __m128i *)&K[4 * (g)]));    \
		cdgh = _mm_sha256rnds2_epu32(cdgh, abef, wk_);                 \
		wk_ = _mm_shuffle_epi32(wk_, 0x0e);                            \
		abef = _mm_sha256rnds2_epu32(abef, cdgh, wk_);                 \
	} while (0)

/* W[4g..4g+3] from the four groups before: msg1 adds s0(W[t-15]) to
 * W[t-16], the add brings W[t-7], msg2 adds s1(W[t-2]). */
#define SCHED(m0, m1, m2, m3)                                                  \
	_mm_sha256msg2_epu32(                                                  \
		_mm_add_epi32(_mm_sha256msg1_epu32((m0), (m1)),                \
			      _mm_alignr_epi8((m3), (m2), 4)),                 \
		(m3))

HW_TARGET static void blocks_hw(uint32_t h[8], const unsigned char *p,
				size_t nblocks)
{
	/* bytes of each 32-bit lane reversed: the words are big-endian */
	const __m128i bswap =
		_mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
	/* h[] is A..H; the instructions want {A,B,E,F} and {C,D,G,H}, the
	 * first letter in the highest lane */
	__m128i abcd = _mm_loadu_si128((const __m128i *)&h[0]);
	__m128i efgh = _mm_loadu_si128((const __m128i *)&h[4]);
	abcd = _mm_shuffle_epi32(abcd, 0xb1);  /* B A D C (low to high) */
	efgh = _mm_shuffle_epi32(efgh, 0x1b);  /* H G F E */
	__m128i abef = _mm_alignr_epi8(abcd, efgh, 8); /* F E B A */
	__m128i cdgh = _mm_blend_epi16(efgh, abcd, 0xf0); /* H G D C */

	for (; nblocks; nblocks--, p += 64) {
		__m128i abef0 = abef, cdgh0 = cdgh;
		__m128i m0 = _mm_shuffle_epi8(
			_mm_loadu_si128((const __m128i *)(p + 0)), bswap);
		__m128i m1 = _mm_shuffle_epi8(
			_mm_loadu_si128((const __m128i *)(p + 16)), bswap);
		__m128i m2 = _mm_shuffle_epi8(
			_mm_loadu_si128((const __m128i *)(p + 32)), bswap);
		__m128i m3 = _mm_shuffle_epi8(
			_mm_loadu_si128((const __m128i *)(p + 48)), bswap);
		ROUNDS4(m0, 0);
		ROUNDS4(m1, 1);
		ROUNDS4(m2, 2);
		ROUNDS4(m3, 3);
		for (int g = 4; g < 16; g += 4) {
			m0 = SCHED(m0, m1, m2, m3);
			ROUNDS4(m0, g);
			m1 = SCHED(m1, m2, m3, m0);
			ROUNDS4(m1, g + 1);
			m2 = SCHED(m2, m3, m0, m1);
			ROUNDS4(m2, g + 2);
			m3 = SCHED(m3, m0, m1, m2);
			ROUNDS4(m3, g + 3);
		}
		abef = _mm_add_epi32(abef, abef0);
		cdgh = _mm_add_epi32(cdgh, cdgh0);
	}

	__m128i t = _mm_shuffle_epi32(abef, 0x1b);   /* A B E F */
	cdgh = _mm_shuffle_epi32(cdgh, 0xb1);        /* G H C D */
	_mm_storeu_si128((__m128i *)&h[0], _mm_blend_epi16(t, cdgh, 0xf0));
	_mm_storeu_si128((__m128i *)&h[4], _mm_alignr_epi8(cdgh, t, 8));
}

static int cpu_has_sha(void)
{
	unsigned a, b, c, d;
	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_SSE4_1) ||
	    !(c & bit_SSSE3))
		return 0;
	if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
		return 0;
	return (b >> 29) & 1; /* CPUID.(EAX=7,ECX=0):EBX.SHA[bit 29] */
}
#endif

/* 0 not decided, 1 portable, 2 SHA extensions */
static int impl PM_STATE;

int pm__sha256_set_hw(int mode)
{
	int hw = 0;
#if defined(__x86_64__)
	if (mode != 0)
		hw = cpu_has_sha();
#endif
	(void)mode;
	__atomic_store_n(&impl, hw ? 2 : 1, __ATOMIC_RELAXED);
	return hw;
}

static void blocks(uint32_t h[8], const unsigned char *p, size_t n)
{
	int i = __atomic_load_n(&impl, __ATOMIC_RELAXED);
	if (!i) {
		pm__sha256_set_hw(-1);
		i = __atomic_load_n(&impl, __ATOMIC_RELAXED);
	}
#if defined(__x86_64__)
	if (i == 2) {
		blocks_hw(h, p, n);
		return;
	}
#endif
	blocks_sw(h, p, n);
}

void pm__sha256_init(struct pm__sha256 *c)
{
	memcpy(c->h, H0, sizeof c->h);
	c->bytes = 0;
	c->nbuf = 0;
}

void pm__sha256_update(struct pm__sha256 *c, const void *data, size_t n)
{
	const unsigned char *p = data;
	c->bytes += n;
	if (c->nbuf) {
		size_t take = PM_SHA256_BLOCK - c->nbuf;
		if (take > n)
			take = n;
		memcpy(c->buf + c->nbuf, p, take);
		c->nbuf += take;
		p += take;
		n -= take;
		if (c->nbuf < PM_SHA256_BLOCK)
			return;
		blocks(c->h, c->buf, 1);
		c->nbuf = 0;
	}
	if (n >= PM_SHA256_BLOCK) {
		blocks(c->h, p, n / PM_SHA256_BLOCK);
		p += n & ~(size_t)(PM_SHA256_BLOCK - 1);
		n &= PM_SHA256_BLOCK - 1;
	}
	memcpy(c->buf, p, n);
	c->nbuf = n;
}

void pm__sha256_final(struct pm__sha256 *c, unsigned char out[PM_SHA256_LEN])
{
	uint64_t bits = c->bytes * 8;
	size_t n = c->nbuf;
	c->buf[n++] = 0x80;
	if (n > 56) { /* no room for the length: one more block */
		memset(c->buf + n, 0, PM_SHA256_BLOCK - n);
		blocks(c->h, c->buf, 1);
		n = 0;
	}
	memset(c->buf + n, 0, 56 - n);
	for (int i = 0; i < 8; i++)
		c->buf[56 + i] = (unsigned char)(bits >> (56 - 8 * i));
	blocks(c->h, c->buf, 1);
	for (int i = 0; i < 8; i++)
		store_be32(out + 4 * i, c->h[i]);
	pm__wipe(c, sizeof *c);
}

void pm__sha256(const void *p, size_t n, unsigned char out[PM_SHA256_LEN])
{
	struct pm__sha256 c;
	pm__sha256_init(&c);
	pm__sha256_update(&c, p, n);
	pm__sha256_final(&c, out);
}

void pm__hmac_sha256_init(struct pm__hmac_sha256 *c, const void *key,
			  size_t klen)
{
	unsigned char k0[PM_SHA256_BLOCK], pad[PM_SHA256_BLOCK];
	memset(k0, 0, sizeof k0);
	if (klen > PM_SHA256_BLOCK)
		pm__sha256(key, klen, k0);
	else if (klen)
		memcpy(k0, key, klen);
	for (int i = 0; i < PM_SHA256_BLOCK; i++)
		pad[i] = k0[i] ^ 0x36;
	pm__sha256_init(&c->inner);
	pm__sha256_update(&c->inner, pad, sizeof pad);
	for (int i = 0; i < PM_SHA256_BLOCK; i++)
		pad[i] = k0[i] ^ 0x5c;
	pm__sha256_init(&c->outer);
	pm__sha256_update(&c->outer, pad, sizeof pad);
	pm__wipe(k0, sizeof k0);
	pm__wipe(pad, sizeof pad);
}

void pm__hmac_sha256_update(struct pm__hmac_sha256 *c, const void *p,
			    size_t n)
{
	pm__sha256_update(&c->inner, p, n);
}

void pm__hmac_sha256_final(struct pm__hmac_sha256 *c,
			   unsigned char out[PM_SHA256_LEN])
{
	unsigned char ih[PM_SHA256_LEN];
	pm__sha256_final(&c->inner, ih);
	pm__sha256_update(&c->outer, ih, sizeof ih);
	pm__sha256_final(&c->outer, out);
	pm__wipe(ih, sizeof ih);
}
