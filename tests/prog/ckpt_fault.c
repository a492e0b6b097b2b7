/*
 * ckpt_fault [-p] FILE [NEXT] - build a heap of about 1.5 MiB (several
 * write pieces) and checkpoint it to FILE, then, given NEXT, checkpoint
 * again to NEXT (the writer must work again after a failed checkpoint).
 * Prints one line per checkpoint, its return code, then
 * "xfsz PENDING BLOCKED": whether SIGXFSZ is pending and blocked at the
 * end.  -p: block SIGXFSZ and raise it before the first checkpoint (a
 * signal pending before must still be pending after).  Exit 0.
 * Used under tests/prog/iofault.so by tests/ckpt_iofault.sh and others.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pmalloc.h"

static char *blocks[48];

int main(int argc, char **argv)
{
	int pend = argc > 1 && !strcmp(argv[1], "-p");
	argv += pend;
	argc -= pend;
	if (argc < 2)
		return 2;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGXFSZ);
	if (pend) {
		sigprocmask(SIG_BLOCK, &set, NULL);
		raise(SIGXFSZ);
	}
	for (int i = 0; i < 48; i++) {
		blocks[i] = malloc(32768);
		if (!blocks[i])
			return 3;
		memset(blocks[i], 'a' + i % 26, 32768);
	}
	int rc = pm_checkpoint(argv[1]);
	printf("%d\n", rc);
	fflush(stdout);
	if (rc)
		fprintf(stderr, "%s: %s\n", pm_strerror(rc), pm_errmsg());
	if (argc > 2) {
		rc = pm_checkpoint(argv[2]);
		printf("%d\n", rc);
		if (rc)
			fprintf(stderr, "%s: %s\n", pm_strerror(rc), pm_errmsg());
	}
	sigset_t p, m;
	sigpending(&p);
	sigprocmask(SIG_BLOCK, NULL, &m);
	printf("xfsz %d %d\n", sigismember(&p, SIGXFSZ),
	       sigismember(&m, SIGXFSZ));
	return 0;
}
