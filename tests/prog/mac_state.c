/*
 * mac_state: a small state in the heap, checkpointed and restored under a
 * key (tests/ckpt_mac.sh).
 *   mac_state make FILE         build the state, checkpoint; "made"
 *   mac_state check FILE [nv]   restore (nv: PM_RESTORE_NO_VERIFY); prints
 *                               "ok TEXT" or "refused CODE MESSAGE", then
 *                               shows the process carries on ("alive")
 *   mac_state keyset DIR        pm_key_set: set, checkpoint (MAC), clear,
 *                               checkpoint (none), NULL key refused
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "pmalloc.h"

struct state {
	char text[32];
	long n;
};

/* flags word of a file's header (offset 16), -1 if unreadable */
static long file_flags(const char *path)
{
	unsigned char h[20];
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	ssize_t r = pread(fd, h, sizeof h, 0);
	close(fd);
	if (r != (ssize_t)sizeof h)
		return -1;
	return h[16] | h[17] << 8 | h[18] << 16 | (long)h[19] << 24;
}

static int keyset(const char *dir)
{
	char a[4096], b[4096];
	int fail = 0, rc;
	snprintf(a, sizeof a, "%s/keyed.ckpt", dir);
	snprintf(b, sizeof b, "%s/cleared.ckpt", dir);
	rc = pm_key_set(NULL, 5);
	if (rc != -EINVAL) {
		printf("FAIL: pm_key_set(NULL, 5) = %d, want %d\n", rc,
		       -EINVAL);
		fail = 1;
	}
	static const char key[] = "0123456789abcdef0123456789abcdef";
	if ((rc = pm_key_set(key, sizeof key - 1)) ||
	    (rc = pm_checkpoint(a))) {
		printf("FAIL: keyed checkpoint: %d %s\n", rc, pm_errmsg());
		fail = 1;
	}
	if (file_flags(a) != 1) {
		printf("FAIL: keyed file flags %ld, want 1\n", file_flags(a));
		fail = 1;
	}
	if ((rc = pm_key_set(NULL, 0)) || (rc = pm_checkpoint(b))) {
		printf("FAIL: cleared checkpoint: %d %s\n", rc, pm_errmsg());
		fail = 1;
	}
	if (file_flags(b) != 0) {
		printf("FAIL: file after clearing has flags %ld, want 0\n",
		       file_flags(b));
		fail = 1;
	}
	/* a key longer than a block (used through its digest) works too */
	char longkey[200];
	memset(longkey, 'k', sizeof longkey);
	if ((rc = pm_key_set(longkey, sizeof longkey)) ||
	    (rc = pm_checkpoint(a)) || file_flags(a) != 1) {
		printf("FAIL: long key: %d %s\n", rc, pm_errmsg());
		fail = 1;
	}
	if (!fail)
		printf("keyset ok\n");
	return fail;
}

int main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	if (!strcmp(argv[1], "keyset"))
		return keyset(argv[2]);
	if (!strcmp(argv[1], "make")) {
		struct state *s = malloc(sizeof *s);
		strcpy(s->text, "MARKER-original");
		s->n = 42;
		pm_root_set("mac", s);
		int rc = pm_checkpoint(argv[2]);
		if (rc) {
			printf("refused %d %s\n", rc, pm_errmsg());
			return 1;
		}
		printf("made\n");
		return 0;
	}
	if (!strcmp(argv[1], "check")) {
		unsigned fl = argc > 3 && !strcmp(argv[3], "nv")
				      ? PM_RESTORE_NO_VERIFY
				      : 0;
		int rc = pm_restore_ex(argv[2], fl);
		if (rc) {
			printf("refused %d %s\n", rc, pm_errmsg());
		} else {
			struct state *s = pm_root_get("mac");
			printf("ok %s %ld\n", s ? s->text : "(no root)",
			       s ? s->n : 0);
		}
		/* the process carries on with a working heap */
		char *p = malloc(1000);
		memset(p, 1, 1000);
		free(p);
		printf("alive %d\n", pm_heap_check());
		return rc ? 3 : 0;
	}
	return 2;
}
