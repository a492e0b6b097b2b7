/*
 * u_globals_libso.c - a shared library with PM_PERSISTENT globals that
 * registers its own pm_persistent section (tests/globals_lib.sh).  The
 * macro below is the text proposed for include/pmalloc.h; until it is
 * there, the test carries its own copy.
 */
#include <pmalloc.h>
#include <stdint.h>

#ifndef PM_REGISTER_LIBRARY_PERSISTENT
#define PM_REGISTER_LIBRARY_PERSISTENT()                                       \
	extern char __start_pm_persistent[]                                    \
		__attribute__((visibility("hidden"), weak));                   \
	extern char __stop_pm_persistent[]                                     \
		__attribute__((visibility("hidden"), weak));                   \
	__attribute__((constructor)) static void pm_register_persistent_(void) \
	{                                                                      \
		char *lo_ = __start_pm_persistent, *hi_ = __stop_pm_persistent; \
		if (lo_ && hi_ > lo_)                                          \
			(void)pm_register(lo_, (size_t)(hi_ - lo_));           \
	}                                                                      \
	extern int pm_register_persistent_unused_
#endif

PM_REGISTER_LIBRARY_PERSISTENT();

static long lib_counter PM_PERSISTENT = 11;
static uint64_t lib_unref PM_PERSISTENT = 0x1badcafe5eed0001ULL;

long *lib_counter_addr(void)
{
	return &lib_counter;
}
