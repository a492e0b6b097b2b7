/*
 * sig_malloc - malloc and free from a signal handler that interrupts
 * malloc (undefined, but programs do it), then a checkpoint: a profiling
 * timer fires every 50 us of CPU time into a malloc/free loop of the same
 * size.  The handler's malloc may take the block the interrupted one is
 * taking (an abort, the cache's check), or leave the list's busy flag
 * borrowed (tests/u_tcache.c, nested_pop): the checkpoint after must not
 * wait for it for ever.  Exit 0: checkpoint and heap check passed.
 */
#define _GNU_SOURCE
#include <pmalloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <unistd.h>

static volatile long hits;

static void handler(int s)
{
	(void)s;
	void *p = malloc(24);
	free(p);
	hits++;
}

int main(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	struct sigaction sa = { 0 };
	sa.sa_handler = handler;
	sigaction(SIGPROF, &sa, NULL);
	struct itimerval it = { { 0, 50 }, { 0, 50 } };
	setitimer(ITIMER_PROF, &it, NULL);
	for (long i = 0; i < 20000000; i++) {
		void *p = malloc(24);
		free(p);
	}
	struct itimerval off = { { 0, 0 }, { 0, 0 } };
	setitimer(ITIMER_PROF, &off, NULL);
	alarm(20); /* a hung checkpoint ends here: SIGALRM */
	int r = pm_checkpoint(argv[1]);
	int c = pm_heap_check();
	printf("signals %ld checkpoint %d heap check %d\n", hits, r, c);
	return r != 0 || c != 0;
}
