/*
 * tsd_main.c - tests/ckpt_tsd.sh: the library's key holds NULL at the
 * checkpoint; in the restoring process its constructor set it to an early
 * block the restore then replaces.  After the restore the key must hold
 * the checkpointed NULL, not a pointer into someone else's block.
 *   tsd_main setup F     drop the value, fill the heap, checkpoint
 *   tsd_main restore F   restore, print the key's value
 */
#include <pmalloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tsd_lib_drop(void);
void *tsd_lib_get(void);

int main(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	if (!strcmp(argv[1], "setup")) {
		tsd_lib_drop();
		for (int i = 0; i < 8; i++) {
			char *x = malloc(32);
			strcpy(x, "SOMEONE ELSE'S");
			pm_root_set(i ? "other" : "first", x);
		}
		int rc = pm_checkpoint(argv[2]);
		printf("checkpoint %d, value %s\n", rc,
		       tsd_lib_get() ? "set" : "NULL");
		return rc != 0;
	}
	char *before = tsd_lib_get();
	printf("before: %s\n", before ? before : "NULL");
	int rc = pm_restore(argv[2]);
	if (rc) {
		printf("restore %d %s\n", rc, pm_errmsg());
		return 1;
	}
	char *v = tsd_lib_get();
	printf("after: %s\n", v ? v : "NULL");
	return 0;
}
