/*
 * w_exec - time a real program under the allocator being measured.
 *
 * Runs PROG ARGS... (found on PATH) as a child with the same environment,
 * LD_PRELOAD included, and its standard output and error inherited, waits
 * for it and prints the RESULT line: the child's wall time and its peak RSS
 * (ru_maxrss from wait4).  A child that does not exit with status 0 fails
 * the run (exit 2).  bench/run.py compares the child's output across
 * allocators: a program must print the same under every one.
 *
 * usage: w_exec NAME PROG [ARGS...]
 */
#include "bench.h"
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>

extern char **environ;

int main(int argc, char **argv)
{
	struct rusage ru;
	pid_t pid;
	int st, e;
	double t0, t1;

	if (argc < 3) {
		fprintf(stderr, "usage: w_exec NAME PROG [ARGS...]\n");
		return 2;
	}
	fflush(stdout);
	t0 = bench_now();
	e = posix_spawnp(&pid, argv[2], NULL, NULL, argv + 2, environ);
	if (e != 0) {
		fprintf(stderr, "w_exec: cannot start %s: %s\n", argv[2],
			strerror(e));
		return 2;
	}
	if (wait4(pid, &st, 0, &ru) != pid) {
		perror("w_exec: wait4");
		return 2;
	}
	t1 = bench_now();
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		if (WIFSIGNALED(st))
			fprintf(stderr, "w_exec: %s killed by signal %d\n",
				argv[2], WTERMSIG(st));
		else
			fprintf(stderr, "w_exec: %s exited with status %d\n",
				argv[2], WEXITSTATUS(st));
		return 2;
	}
	printf("RESULT bench=%s secs=%.6f ops=1 maxrss_kb=%ld\n", argv[1],
	       t1 - t0, ru.ru_maxrss);
	return 0;
}
