/*
 * u_globals_libso.c - a shared library with PM_PERSISTENT globals that
 * registers its own pm_persistent section (tests/globals_lib.sh) with
 * PM_REGISTER_LIBRARY_PERSISTENT from include/pmalloc.h.
 */
#include <pmalloc.h>
#include <stdint.h>

PM_REGISTER_LIBRARY_PERSISTENT();

static long lib_counter PM_PERSISTENT = 11;
static uint64_t lib_unref PM_PERSISTENT = 0x1badcafe5eed0001ULL;

long *lib_counter_addr(void)
{
	return &lib_counter;
}
