/*
 * stats.c - the statistics line PMALLOC_STATS asks for, written at exit.
 *
 * Owns: pm__stats_at_exit (set by init.c from the environment).  The line
 * goes to fd 2 as it is at exit, with write(2): no stdio, no malloc.
 */
#include "alloc.h"

int pm__stats_at_exit PM_STATE;

__attribute__((destructor)) static void stats_line(void)
{
	if (!pm__stats_at_exit || !pm__region)
		return;
	struct pm_arena *t = pm__transient_now();
	char line[512];
	size_t n = pm__fmt(
		line, sizeof line,
		"pmalloc: stats base=%p persistent_live=%zu transient_live=%zu "
		"persistent_peak=%zu transient_peak=%zu persistent_extent=%zu "
		"persistent_deferred=%zu persistent_free=%zu\n",
		(void *)pm__region->base, pm__region->p.live_bytes,
		t ? t->live_bytes : 0, pm__region->p.peak, t ? t->peak : 0,
		pm__region->p.top_end - pm__region->base,
		pm__region->p.fast_bytes, pm__region->p.free_bytes);
	/* to fd 2 as it is now: a program that closed it (coreutils do,
	 * before exit) gets no line, rather than a hidden descriptor that
	 * could end up in one of its files or hold its caller's pipe open */
	pm__write_all(2, line, n < sizeof line ? n : sizeof line - 1);
}
