/*
 * crc32c.c - CRC-32C (Castagnoli), the checksum of every checkpoint section.
 *
 * Two implementations behind one function:
 *   - SSE4.2's crc32 instruction, chosen at run time with cpuid.  The
 *     instruction has a latency of 3 cycles but a throughput of 1, so long
 *     buffers are cut into three equal lanes whose crcs run interleaved, then
 *     combined: crc(A B) = shift(crc(A), |B|) ^ crc(B), where shift multiplies
 *     by x^(8|B|) modulo the polynomial.  That product is linear in the crc,
 *     so for a fixed |B| it is four table lookups (one per byte of the crc).
 *   - slicing-by-8 tables otherwise.
 * The tables are built on first use (no constructors: the first checksum may
 * be computed before main()).  Building is guarded by a tiny state word so
 * that two threads never write a table at the same time.
 *
 * pm__crc32c(crc, buf, len) chains: pm__crc32c(pm__crc32c(0, a), b) is the
 * crc of a followed by b; pm__crc32c(0, "123456789", 9) == 0xe3069283.
 * pm__crc32c_combine(crc(a), crc(b), |b|) is crc(a b) as well, from the
 * two crcs alone (restore checks two halves of a file at once).
 */
#include "internal.h"

#include <string.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif

#define POLY 0x82f63b78u /* reflected Castagnoli polynomial */

/* Lane lengths for the interleaved loop; each needs its shift table. */
#define LONG_LANE 8192
#define SHORT_LANE 256

static uint32_t slice[8][256] PM_STATE;
static uint32_t shift_long[4][256] PM_STATE, shift_short[4][256] PM_STATE;
static int have_hw PM_STATE;  /* this machine's, never a restored value */
static int tables_state PM_STATE; /* 0 none, 1 building, 2 ready */

/* a * b modulo POLY, both reflected (bit 31 is x^0). */
static uint32_t gf_mul(uint32_t a, uint32_t b)
{
	uint32_t m = 1u << 31, p = 0;
	for (;;) {
		if (a & m) {
			p ^= b;
			if ((a & (m - 1)) == 0)
				break;
		}
		m >>= 1;
		b = b & 1 ? (b >> 1) ^ POLY : b >> 1;
	}
	return p;
}

/* x^(8n) modulo POLY: square-and-multiply over the bits of 8n. */
static uint32_t x_pow_8n(uint64_t n)
{
	uint32_t p = 1u << 31; /* x^0 */
	uint32_t sq = 1u << 23; /* x^8 (bit 31-k is x^k): 8n has 3 low zeros */
	while (n) {
		if (n & 1)
			p = gf_mul(sq, p);
		sq = gf_mul(sq, sq);
		n >>= 1;
	}
	return p;
}

uint32_t pm__crc32c_combine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b)
{
	return gf_mul(x_pow_8n(len_b), crc_a) ^ crc_b;
}

static void build_shift(uint32_t tab[4][256], uint64_t nbytes)
{
	uint32_t xn = x_pow_8n(nbytes);
	for (int k = 0; k < 4; k++)
		for (uint32_t b = 0; b < 256; b++)
			tab[k][b] = gf_mul(xn, b << (8 * k));
}

static void build_tables(void)
{
	for (uint32_t n = 0; n < 256; n++) {
		uint32_t c = n;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ POLY : c >> 1;
		slice[0][n] = c;
	}
	for (uint32_t n = 0; n < 256; n++) {
		uint32_t c = slice[0][n];
		for (int k = 1; k < 8; k++) {
			c = slice[0][c & 0xff] ^ (c >> 8);
			slice[k][n] = c;
		}
	}
#if defined(__x86_64__)
	unsigned a, b, c, d;
	if (__get_cpuid(1, &a, &b, &c, &d) && (c & bit_SSE4_2)) {
		build_shift(shift_long, LONG_LANE);
		build_shift(shift_short, SHORT_LANE);
		have_hw = 1;
	}
#endif
	(void)build_shift;
}

static void ensure_tables(void)
{
	if (likely(__atomic_load_n(&tables_state, __ATOMIC_ACQUIRE) == 2))
		return;
	int zero = 0;
	if (__atomic_compare_exchange_n(&tables_state, &zero, 1, 0,
					__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		build_tables();
		__atomic_store_n(&tables_state, 2, __ATOMIC_RELEASE);
		return;
	}
	while (__atomic_load_n(&tables_state, __ATOMIC_ACQUIRE) != 2)
		__asm__ volatile("" ::: "memory");
}

static inline uint64_t load64(const unsigned char *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

/* Raw register update (no inversions) with slicing-by-8. */
static uint32_t crc_sw(uint32_t crc, const unsigned char *p, size_t n)
{
	while (n && ((uintptr_t)p & 7)) {
		crc = slice[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
		n--;
	}
	while (n >= 8) {
		uint64_t v = load64(p) ^ crc;
		crc = slice[7][v & 0xff] ^ slice[6][(v >> 8) & 0xff] ^
		      slice[5][(v >> 16) & 0xff] ^ slice[4][(v >> 24) & 0xff] ^
		      slice[3][(v >> 32) & 0xff] ^ slice[2][(v >> 40) & 0xff] ^
		      slice[1][(v >> 48) & 0xff] ^ slice[0][v >> 56];
		p += 8;
		n -= 8;
	}
	while (n--)
		crc = slice[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return crc;
}

#if defined(__x86_64__)
static inline uint32_t shift(uint32_t tab[4][256], uint32_t crc)
{
	return tab[0][crc & 0xff] ^ tab[1][(crc >> 8) & 0xff] ^
	       tab[2][(crc >> 16) & 0xff] ^ tab[3][crc >> 24];
}

/* Three lanes of `lane` bytes each, as many times as they fit. */
__attribute__((target("sse4.2"))) static inline const unsigned char *
lanes3(uint64_t *crcp, const unsigned char *p, size_t *np, size_t lane,
       uint32_t tab[4][256])
{
	uint64_t c0 = *crcp;
	while (*np >= 3 * lane) {
		uint64_t c1 = 0, c2 = 0;
		const unsigned char *end = p + lane;
		do {
			c0 = __builtin_ia32_crc32di(c0, load64(p));
			c1 = __builtin_ia32_crc32di(c1, load64(p + lane));
			c2 = __builtin_ia32_crc32di(c2, load64(p + 2 * lane));
			p += 8;
		} while (p < end);
		c0 = shift(tab, (uint32_t)c0) ^ (uint32_t)c1;
		c0 = shift(tab, (uint32_t)c0) ^ (uint32_t)c2;
		p += 2 * lane;
		*np -= 3 * lane;
	}
	*crcp = c0;
	return p;
}

__attribute__((target("sse4.2"))) static uint32_t
crc_hw(uint32_t crc32, const unsigned char *p, size_t n)
{
	uint64_t crc = crc32;
	while (n && ((uintptr_t)p & 7)) {
		crc = __builtin_ia32_crc32qi((uint32_t)crc, *p++);
		n--;
	}
	p = lanes3(&crc, p, &n, LONG_LANE, shift_long);
	p = lanes3(&crc, p, &n, SHORT_LANE, shift_short);
	while (n >= 8) {
		crc = __builtin_ia32_crc32di(crc, load64(p));
		p += 8;
		n -= 8;
	}
	while (n--)
		crc = __builtin_ia32_crc32qi((uint32_t)crc, *p++);
	return (uint32_t)crc;
}
#endif

uint32_t pm__crc32c(uint32_t crc, const void *buf, size_t len)
{
	ensure_tables();
	crc = ~crc;
#if defined(__x86_64__)
	if (have_hw)
		return ~crc_hw(crc, buf, len);
#endif
	return ~crc_sw(crc, buf, len);
}

/* For tests: the table implementation alone. */
uint32_t pm__crc32c_sw(uint32_t crc, const void *buf, size_t len)
{
	ensure_tables();
	return ~crc_sw(~crc, buf, len);
}
