/*
 * u_sha256.c - unit test of src/sha256.c, compiled together with it (the
 * pm__ functions are hidden in libpmalloc.so; see tests/extra.mk).
 *
 * The FIPS 180-2 appendix B / NIST examples for SHA-256 and the seven test
 * cases of RFC 4231 for HMAC-SHA-256, each through the portable compression
 * function and (when this CPU has them) the SHA extensions, fed whole, a
 * byte at a time and in uneven pieces; then the two implementations
 * against each other on pseudo-random messages of every length to 1 KiB.
 */
#include "../src/sha256.h"
#include "testlib.h"

static void hex(char *out, const unsigned char *d, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

static void unhex(unsigned char *out, const char *s)
{
	for (size_t i = 0; s[2 * i]; i++) {
		unsigned v;
		sscanf(s + 2 * i, "%2x", &v);
		out[i] = (unsigned char)v;
	}
}

/* digest of m fed in pieces of `step` bytes (0: whole) */
static void sha_pieces(const unsigned char *m, size_t n, size_t step,
		       unsigned char *out)
{
	struct pm__sha256 c;
	pm__sha256_init(&c);
	if (!step)
		step = n ? n : 1;
	for (size_t at = 0; at < n; at += step)
		pm__sha256_update(&c, m + at, n - at < step ? n - at : step);
	pm__sha256_final(&c, out);
}

static void hmac_pieces(const unsigned char *k, size_t kn,
			const unsigned char *m, size_t n, size_t step,
			unsigned char *out)
{
	struct pm__hmac_sha256 c;
	pm__hmac_sha256_init(&c, k, kn);
	if (!step)
		step = n ? n : 1;
	for (size_t at = 0; at < n; at += step)
		pm__hmac_sha256_update(&c, m + at,
				       n - at < step ? n - at : step);
	pm__hmac_sha256_final(&c, out);
}

static const size_t steps[] = {0, 1, 3, 63, 64, 65, 1000};
#define NSTEPS (sizeof steps / sizeof steps[0])

static void check_sha(const char *name, const unsigned char *m, size_t n,
		      const char *want)
{
	for (size_t s = 0; s < NSTEPS; s++) {
		if (steps[s] == 1 && n > 100000)
			continue; /* the million: whole and in pieces */
		unsigned char d[32];
		char got[65];
		sha_pieces(m, n, steps[s], d);
		hex(got, d, 32);
		CHECK_MSG(!strcmp(got, want), "%s (pieces of %zu): got %s, "
					      "want %s",
			  name, steps[s], got, want);
	}
}

struct hmac_case {
	const char *key_hex, *data, *data_hex, *mac;
	int key_rep;      /* key: key_hex's byte repeated */
	size_t mac_len;   /* compared bytes (case 5 truncates to 16) */
};

static const struct hmac_case rfc4231[] = {
	{"0b", "Hi There", NULL,
	 "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7", 20,
	 32},
	{"4a656665", "what do ya want for nothing?", NULL,
	 "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", 0,
	 32},
	{"aa", NULL,
	 "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"
	 "dddddddddddddddddddddddddddddddd",
	 "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe", 20,
	 32},
	{"0102030405060708090a0b0c0d0e0f10111213141516171819", NULL,
	 "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd"
	 "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd",
	 "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b", 0,
	 32},
	{"0c", "Test With Truncation", NULL, "a3b6167473100ee06e0c796c2955552b",
	 20, 16},
	{"aa", "Test Using Larger Than Block-Size Key - Hash Key First", NULL,
	 "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
	 131, 32},
	{"aa",
	 "This is a test using a larger than block-size key and a larger than "
	 "block-size data. The key needs to be hashed before being used by the "
	 "HMAC algorithm.",
	 NULL,
	 "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
	 131, 32},
};

static void vectors(const char *impl)
{
	static unsigned char million[1000000];
	memset(million, 'a', sizeof million);
	char name[64];
	snprintf(name, sizeof name, "%s: \"abc\"", impl);
	check_sha(name, (const unsigned char *)"abc", 3,
		  "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	snprintf(name, sizeof name, "%s: \"\"", impl);
	check_sha(name, (const unsigned char *)"", 0,
		  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	snprintf(name, sizeof name, "%s: 448 bits", impl);
	check_sha(name,
		  (const unsigned char *)"abcdbcdecdefdefgefghfghighijhijkijkljkl"
					 "mklmnlmnomnopnopq",
		  56,
		  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	snprintf(name, sizeof name, "%s: a million 'a'", impl);
	check_sha(name, million, sizeof million,
		  "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");

	for (size_t i = 0; i < sizeof rfc4231 / sizeof rfc4231[0]; i++) {
		const struct hmac_case *t = &rfc4231[i];
		unsigned char key[200], data[300], mac[32];
		size_t kn, dn;
		if (t->key_rep) {
			unhex(key, t->key_hex);
			memset(key, key[0], (size_t)t->key_rep);
			kn = (size_t)t->key_rep;
		} else {
			unhex(key, t->key_hex);
			kn = strlen(t->key_hex) / 2;
		}
		if (t->data) {
			dn = strlen(t->data);
			memcpy(data, t->data, dn);
		} else {
			unhex(data, t->data_hex);
			dn = strlen(t->data_hex) / 2;
		}
		for (size_t s = 0; s < NSTEPS; s++) {
			char got[65];
			hmac_pieces(key, kn, data, dn, steps[s], mac);
			hex(got, mac, t->mac_len);
			CHECK_MSG(!strcmp(got, t->mac),
				  "%s: RFC 4231 case %zu (pieces of %zu): got "
				  "%s, want %s",
				  impl, i + 1, steps[s], got, t->mac);
		}
	}
}

int main(void)
{
	pm__sha256_set_hw(0);
	vectors("portable");
	int hw = pm__sha256_set_hw(1);
	if (hw) {
		vectors("SHA extensions");
		/* the two against each other, every length to 1 KiB, fed in
		 * pieces whose sizes vary */
		static unsigned char m[1024];
		uint64_t seed = 42;
		for (size_t i = 0; i < sizeof m; i++)
			m[i] = (unsigned char)test_rand(&seed);
		int diff = 0;
		for (size_t n = 0; n <= sizeof m; n++) {
			unsigned char a[32], b[32];
			size_t step = 1 + (size_t)(test_rand(&seed) % 200);
			pm__sha256_set_hw(0);
			sha_pieces(m, n, step, a);
			pm__sha256_set_hw(1);
			sha_pieces(m, n, 0, b);
			if (memcmp(a, b, 32) && diff++ < 5)
				fprintf(stderr, "length %zu: portable and "
						"SHA extensions differ\n",
					n);
		}
		CHECK_MSG(diff == 0, "%d lengths differ", diff);
	} else {
		fprintf(stderr, "no SHA extensions here: portable only\n");
	}
	return test_end();
}
