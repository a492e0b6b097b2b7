/*
 * ckpt_mac.c - the checkpoint key, and the keyed MAC that authenticates a
 * checkpoint file (format.h PMF_FLAG_MAC, docs/FORMAT.md "Authentication").
 *
 * Why: a restore makes the file's bytes the program's heap and globals,
 * function pointers included, so whoever can write a checkpoint file can
 * run code in the process that restores it.  The crcs catch accidents
 * only (anyone can recompute them); the MAC needs the key.
 *
 * The key lives in pmalloc's own memory (PM_STATE: never in the heap
 * region, never in a checkpoint, kept across a restore), as HMAC's K0
 * before padding: the key itself if it has at most 64 bytes, else its
 * SHA-256 (which HMAC would use anyway).  It is set by pm_key_set, or read
 * from PMALLOC_KEY_FILE the first time a checkpoint or restore needs it
 * (not at start-up: a preloaded library must not fail a program that never
 * checkpoints); a refused key file is tried again next time.
 *
 *   key_state  0  not looked at yet (PMALLOC_KEY_FILE consulted on need)
 *              1  key_k0[0, key_len) is the key
 *              2  no key (cleared by pm_key_set, or no PMALLOC_KEY_FILE)
 *
 * No stdio, no malloc: the key file is read with open/read into the stack.
 */
#include "ckpt.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

typedef unsigned long long ull;

#define KEY_FILE_MAX 4096

static unsigned char key_k0[PM_SHA256_BLOCK] PM_STATE;
static size_t key_len PM_STATE;
static int key_state PM_STATE;

static void key_store(const void *key, size_t len)
{
	pm__wipe(key_k0, sizeof key_k0);
	if (len > PM_SHA256_BLOCK) {
		pm__sha256(key, len, key_k0);
		len = PM_SHA256_LEN;
	} else {
		memcpy(key_k0, key, len);
	}
	key_len = len;
	__atomic_store_n(&key_state, 1, __ATOMIC_RELEASE);
}

PM_EXPORT int pm_key_set(const void *key, size_t len)
{
	if (!len) {
		pm__wipe(key_k0, sizeof key_k0);
		key_len = 0;
		__atomic_store_n(&key_state, 2, __ATOMIC_RELEASE);
		return 0;
	}
	if (!key)
		return pm__err(-EINVAL, "pm_key_set: key NULL, length %zu",
			       len);
	key_store(key, len);
	return 0;
}

/* "0644" */
static void octal_mode(char out[5], unsigned m)
{
	out[0] = '0';
	out[1] = (char)('0' + ((m >> 6) & 7));
	out[2] = (char)('0' + ((m >> 3) & 7));
	out[3] = (char)('0' + (m & 7));
	out[4] = '\0';
}

int pm__key_load_file(const char *path, const char *what)
{
	unsigned char buf[KEY_FILE_MAX + 1];
	struct stat st;
	char mode[5];
	int rc;

	/* O_NONBLOCK: a fifo must not hang us (refused below) */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		rc = -errno;
		return pm__err(rc, "%s%s: cannot open: %s", what, path,
			       pm_strerror(rc));
	}
	if (fstat(fd, &st) != 0) {
		rc = -errno;
		close(fd);
		return pm__err(rc, "%s%s: cannot stat: %s", what, path,
			       pm_strerror(rc));
	}
	/* the rule OpenSSH keeps for private keys: the file, not a link's
	 * name, is checked, after it is opened (no race with a rename) */
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return pm__err(-EINVAL, "%s%s: the key file is not a regular "
					"file",
			       what, path);
	}
	if (st.st_uid != getuid() && st.st_uid != 0) {
		close(fd);
		return pm__err(-EACCES, "%s%s: the key file belongs to uid %u, "
					"neither this user (%u) nor root",
			       what, path, (unsigned)st.st_uid,
			       (unsigned)getuid());
	}
	if (st.st_mode & 077) {
		octal_mode(mode, (unsigned)st.st_mode);
		close(fd);
		return pm__err(-EACCES, "%s%s: the key file has mode %s: group "
					"or others may read or write it (chmod "
					"600 it)",
			       what, path, mode);
	}
	size_t n = 0;
	while (n < sizeof buf) {
		ssize_t r = read(fd, buf + n, sizeof buf - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			close(fd);
			pm__wipe(buf, n);
			return pm__err(rc, "%s%s: cannot read: %s", what, path,
				       pm_strerror(rc));
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	if (n > KEY_FILE_MAX) {
		pm__wipe(buf, sizeof buf);
		return pm__err(-EFBIG, "%s%s: the key file has more than %d "
				       "bytes",
			       what, path, KEY_FILE_MAX);
	}
	if (n == 0)
		return pm__err(-EINVAL, "%s%s: the key file is empty", what,
			       path);
	key_store(buf, n);
	pm__wipe(buf, n);
	return 0;
}

int pm__key_hmac(struct pm__hmac_sha256 *c, const char *who)
{
	int st = __atomic_load_n(&key_state, __ATOMIC_ACQUIRE);
	if (st == 0) {
		const char *path = pm__env("PMALLOC_KEY_FILE");
		if (!path || !path[0]) {
			__atomic_store_n(&key_state, 2, __ATOMIC_RELEASE);
			return 0;
		}
		char what[32];
		pm__fmt(what, sizeof what, "%s: PMALLOC_KEY_FILE=", who);
		int rc = pm__key_load_file(path, what);
		if (rc)
			return rc;
		st = 1;
	}
	if (st != 1)
		return 0;
	pm__hmac_sha256_init(c, key_k0, key_len);
	return 1;
}

void pm__ckpt_mac(struct pm__hmac_sha256 *c, const unsigned char *prefix,
		  uint64_t table_end, const unsigned char body[PM_SHA256_LEN],
		  unsigned char mac[PM_SHA256_LEN])
{
	static const unsigned char zero[PMF_MAC_LEN];
	const size_t after_mac = PMF_MAC_OFF + PMF_MAC_LEN;
	pm__hmac_sha256_update(c, prefix, PMF_MAC_OFF);
	pm__hmac_sha256_update(c, zero, PMF_MAC_LEN);
	pm__hmac_sha256_update(c, prefix + after_mac,
			       PMF_HEADER_CRC_OFF - after_mac);
	pm__hmac_sha256_update(c, zero, 4); /* header_crc */
	pm__hmac_sha256_update(c, prefix + PMF_HEADER_SIZE,
			       (size_t)(table_end - PMF_HEADER_SIZE));
	pm__hmac_sha256_update(c, body, PM_SHA256_LEN);
	pm__hmac_sha256_final(c, mac);
}

int pm__ckpt_verify_mac(struct pm__ckpt *ck)
{
	struct pm__hmac_sha256 hm;
	struct pm__sha256 body;
	unsigned char bh[PM_SHA256_LEN];
	int rc = pm__key_hmac(&hm, "restore");
	if (rc <= 0)
		return rc; /* no key: a MAC in the file is not looked at */
	if (!(ck->h.flags & PMF_FLAG_MAC)) {
		pm__wipe(&hm, sizeof hm);
		return pm__err(PM_EAUTH, "checkpoint is not authenticated: it "
					 "has no MAC and a key is configured");
	}
	/* the body as the file holds it: the same bytes the restore maps
	 * (a file rewritten in place after this is the caller's risk, as
	 * for the crcs) */
	pm__sha256_init(&body);
	for (uint64_t off = ck->table_end; off < ck->file_size;) {
		uint64_t left = ck->file_size - off;
		size_t n = left < PM__CHUNK ? (size_t)left : PM__CHUNK;
		ssize_t r = pread(ck->fd, ck->chunk, n, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			rc = r < 0 ? -errno : PM_ETRUNC;
			pm__wipe(&hm, sizeof hm);
			pm__wipe(&body, sizeof body);
			return pm__err(rc, "checkpoint authentication: cannot "
					   "read at offset %llu: %s",
				       (ull)off, pm_strerror(rc));
		}
		pm__sha256_update(&body, ck->chunk, (size_t)r);
		off += (uint64_t)r;
	}
	pm__sha256_final(&body, bh);
	return pm__ckpt_mac_check(ck, &hm, bh);
}

int pm__ckpt_mac_check(const struct pm__ckpt *ck, struct pm__hmac_sha256 *hm,
		       const unsigned char body[PM_SHA256_LEN])
{
	unsigned char mac[PM_SHA256_LEN];
	/* the prefix the parser checked and the restore uses */
	pm__ckpt_mac(hm, ck->map, ck->table_end, body, mac);
	unsigned diff = 0;
	for (int i = 0; i < PM_SHA256_LEN; i++) /* every byte: no early out */
		diff |= (unsigned)(mac[i] ^ ck->h.mac[i]);
	pm__wipe(mac, sizeof mac);
	if (diff)
		return pm__err(PM_EAUTH, "the MAC (header offset 152) does "
					 "not match the key: another key made "
					 "the file, or it was changed");
	return 0;
}
