/*
 * lib_common.h - what the library-state test programs (tests/lib_*.c)
 * share.  Define LIB_PROG (the program's name) and LIB_NAME (what
 * pm_register_object looks for) before including it.
 */
#ifndef PM_LIB_COMMON_H
#define PM_LIB_COMMON_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pmalloc.h"

static void checkpoint(const char *f)
{
	if (pm_checkpoint(f)) {
		fprintf(stderr, LIB_PROG ": pm_checkpoint(%s): %s\n", f,
			pm_errmsg());
		exit(1);
	}
}

/* mode "obj": register the library's data explicitly */
static void reg(const char *mode)
{
	if (strcmp(mode, "obj"))
		return;
	if (pm_register_object(LIB_NAME)) {
		fprintf(stderr, LIB_PROG ": pm_register_object: %s\n",
			pm_errmsg());
		exit(1);
	}
}
#endif
