/*
 * w_startup - start-up cost: a process that does one malloc and exits.
 *
 * Spawns itself (posix_spawn of /proc/self/exe with the argument "child")
 * N times, one after the other, and waits for each.  The child mallocs one
 * 64-byte block, writes it, frees it and returns from main: its whole life
 * is the dynamic loader, the allocator's initialisation and tear-down.  The
 * environment, LD_PRELOAD included, is passed on, so every child runs under
 * the allocator being measured.  Reports the total time of the N spawns.
 *
 * usage: w_startup [n=500]          (w_startup child: the child itself)
 */
#include "bench.h"
#include <spawn.h>
#include <sys/wait.h>

extern char **environ;

int main(int argc, char **argv)
{
	char *child_argv[] = {argv[0], "child", NULL};
	long n;
	double t0, t1;

	if (argc > 1 && strcmp(argv[1], "child") == 0) {
		volatile char *p = malloc(64);

		if (!p)
			return 1;
		p[0] = 1;
		bench_sink((void *)p);
		free((void *)p);
		return 0;
	}
	n = bench_arg(argc, argv, 1, 500);
	if (n < 1)
		return 2;
	t0 = bench_now();
	for (long i = 0; i < n; i++) {
		pid_t pid;
		int st;

		if (posix_spawn(&pid, "/proc/self/exe", NULL, NULL, child_argv,
				environ) != 0) {
			fprintf(stderr, "posix_spawn failed\n");
			return 2;
		}
		if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
		    WEXITSTATUS(st) != 0) {
			fprintf(stderr, "child %ld failed (status 0x%x)\n", i,
				(unsigned)st);
			return 2;
		}
	}
	t1 = bench_now();
	bench_report("startup", t1 - t0, n, NULL);
	return 0;
}
