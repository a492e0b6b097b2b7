/*
 * trust.c - the program of tests/ckpt_trust.sh.  Statically linked with
 * libpmalloc.a so that a setuid copy of it runs as a setuid program would
 * (the loader ignores $ORIGIN and LD_* there).
 *
 *   trust save F         build a state (a root "secret" = 4242) and
 *                        checkpoint it to F
 *   trust state          print "restored=R base=B stats=S" and the root:
 *                        what PMALLOC_RESTORE / PMALLOC_BASE achieved
 *   trust restore F      pm_restore(F): print the result code and message
 *   trust restore-any F  the same with PM_RESTORE_ANY_OWNER
 */
#include <pmalloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "save")) {
		long *secret = malloc(sizeof *secret);
		*secret = 4242;
		pm_root_set("secret", secret);
		int rc = pm_checkpoint(argv[2]);
		printf("save=%d\n", rc);
		return rc != 0;
	}
	if (argc == 2 && !strcmp(argv[1], "state")) {
		void *p = malloc(16);
		long *s = pm_root_get("secret");
		printf("restored=%d base=%s secret=%ld\n", pm_restored(),
		       (unsigned long)p >> 28 == 0xe ? "default" : "moved",
		       s ? *s : -1L);
		free(p);
		return 0;
	}
	if (argc == 3 && (!strcmp(argv[1], "restore") ||
			  !strcmp(argv[1], "restore-any"))) {
		unsigned fl = PM_RESTORE_ALLOW_MOVED;
		if (argv[1][7])
			fl |= PM_RESTORE_ANY_OWNER;
		int rc = pm_restore_ex(argv[2], fl);
		long *s = pm_root_get("secret");
		printf("rc=%d secret=%ld msg=%s\n", rc, s ? *s : -1L,
		       rc ? pm_errmsg() : "");
		return 0;
	}
	fprintf(stderr, "usage: trust save F | state | restore[-any] F\n");
	return 2;
}
