/*
 * reg_unmapped.c - the program of tests/attack_unmapped.sh: registered
 * ranges that are not (or no longer) mapped writable.  A checkpoint or
 * a restore must refuse them with an error code, not die of SIGSEGV.
 *
 *   reg_unmapped dlclose LIB F   dlopen LIB (which registers its
 *                                pm_persistent section with
 *                                PM_REGISTER_LIBRARY_PERSISTENT), call it,
 *                                dlclose it, pm_checkpoint(F)
 *   reg_unmapped munmap F        pm_register an mmap'd page, munmap it,
 *                                pm_checkpoint(F)
 *   reg_unmapped save F          pm_register a page at a fixed address,
 *                                pm_checkpoint(F)
 *   reg_unmapped ro F            the same page mapped, registered, then
 *                                made read-only: pm_restore(F)
 *   reg_unmapped regbad 0x1000|ro
 *                                pm_register of unmapped or read-only
 *                                memory
 * Prints "rc=N" for the call; exit 0 unless a step before it failed.
 */
#define _GNU_SOURCE
#include <pmalloc.h>

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#define FIXED ((char *)0x600000000000)

int main(int argc, char **argv)
{
	int rc;
	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc == 4 && !strcmp(argv[1], "dlclose")) {
		void *h = dlopen(argv[2], RTLD_NOW);
		if (!h)
			return 2;
		int (*f)(void) = (int (*)(void))dlsym(h, "lib_bump");
		if (!f)
			return 2;
		f();
		dlclose(h);
		rc = pm_checkpoint(argv[3]);
	} else if (argc == 3 && !strcmp(argv[1], "munmap")) {
		char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED || pm_register(p, 64))
			return 2;
		munmap(p, 4096);
		rc = pm_checkpoint(argv[2]);
	} else if (argc == 3 && (!strcmp(argv[1], "save") ||
				 !strcmp(argv[1], "ro"))) {
		if (mmap(FIXED, 4096, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1,
			 0) != FIXED ||
		    pm_register(FIXED, 64))
			return 2;
		if (argv[1][0] == 's') {
			strcpy(FIXED, "saved");
			rc = pm_checkpoint(argv[2]);
		} else {
			mprotect(FIXED, 4096, PROT_READ);
			rc = pm_restore(argv[2]);
		}
	} else if (argc == 3 && !strcmp(argv[1], "regbad")) {
		char *p = (char *)0x1000;
		if (!strcmp(argv[2], "ro")) {
			p = mmap(NULL, 4096, PROT_READ,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (p == MAP_FAILED)
				return 2;
		}
		rc = pm_register(p, 64);
	} else {
		fprintf(stderr, "usage: see the comment\n");
		return 2;
	}
	printf("rc=%d %s\n", rc, rc ? pm_errmsg() : "");
	return 0;
}
