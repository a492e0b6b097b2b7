/* reg_readonly.c - tests/attack_reg_readonly.sh: a pm_register()ed page
 * the program makes read-only after setting it up (a common hardening
 * step) and then checkpoints.
 *
 *   reg_readonly setup F   map a page at a fixed address, register it,
 *                          write "configured", mprotect it PROT_READ,
 *                          checkpoint to F
 *   reg_readonly check F   map and register the page; pm_restore(F)
 * Exit 0 when the checkpoint refused, the restore refused, or the page
 * came back; 1 when both succeeded and the page did not come back; 77
 * when the address is taken. */
#define _GNU_SOURCE
#include <pmalloc.h>

#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#define AT ((void *)0x300000000000UL)

int main(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	char *cfg = mmap(AT, 4096, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1,
			 0);
	if (cfg != AT) {
		printf("cannot map a page at %p\n", AT);
		return 77;
	}
	int rc = pm_register(cfg, 4096);
	if (rc) {
		printf("FAIL: pm_register: %s\n", pm_errmsg());
		return 1;
	}
	if (!strcmp(argv[1], "setup")) {
		strcpy(cfg, "configured");
		mprotect(cfg, 4096, PROT_READ);
		rc = pm_checkpoint(argv[2]);
		printf("checkpoint: %d %s\n", rc, rc ? pm_errmsg() : "");
		return rc ? 3 : 0; /* 3: refused (acceptable) */
	}
	rc = pm_restore(argv[2]);
	printf("restore: %d %s; page \"%s\"\n", rc, rc ? pm_errmsg() : "",
	       cfg);
	if (!rc && strcmp(cfg, "configured")) {
		printf("FAIL: checkpoint and restore succeeded; the registered "
		       "page did not come back\n");
		return 1;
	}
	return 0;
}
