/*
 * w_startup - start-up cost: a process that does one malloc and exits.
 *
 * The child mallocs one 64-byte block, writes it, frees it and returns
 * from main: its whole life is the dynamic loader, the allocator's
 * initialisation and tear-down.
 *
 *   w_startup [n=500]
 *     spawns itself (posix_spawn of /proc/self/exe, argument "child") n
 *     times, one after the other, and waits for each; the environment,
 *     LD_PRELOAD included, is passed on, so every child runs under the
 *     allocator being measured.  Reports the total time of the n spawns.
 *
 *   w_startup interleave n NAME=LIB...
 *     the same n spawns for each allocator, taking turns spawn by spawn
 *     (LD_PRELOAD=LIB for NAME; an empty LIB: none), so that the drift of
 *     a noisy machine falls on all of them alike; one RESULT line per
 *     allocator (alloc=NAME) whose secs is n times the median spawn.  A
 *     spawn costs about 1 ms here, and the allocators differ by tens of
 *     microseconds: run one after the other, they differed by more from
 *     one round to the next than from each other.
 *
 *   w_startup child
 */
#include "bench.h"
#include <spawn.h>
#include <sys/wait.h>

extern char **environ;

static int spawn_wait(char **argv, char **envp)
{
	pid_t pid;
	int st;

	if (posix_spawn(&pid, "/proc/self/exe", NULL, NULL, argv, envp) != 0) {
		fprintf(stderr, "posix_spawn failed\n");
		return -1;
	}
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
	    WEXITSTATUS(st) != 0) {
		fprintf(stderr, "child failed (status 0x%x)\n", (unsigned)st);
		return -1;
	}
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* environ without LD_PRELOAD, plus LD_PRELOAD=lib unless lib is empty */
static char **env_with(const char *lib)
{
	size_t n = 0, k = 0;
	while (environ[n])
		n++;
	char **e = bench_xmalloc((n + 2) * sizeof *e);
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "LD_PRELOAD=", 11) != 0)
			e[k++] = environ[i];
	if (*lib) {
		char *v = bench_xmalloc(strlen(lib) + 12);
		strcpy(v, "LD_PRELOAD=");
		strcat(v, lib);
		e[k++] = v;
	}
	e[k] = NULL;
	return e;
}

static int interleave(long n, int k, char **specs, char **child_argv)
{
	char ***envs = bench_xmalloc((size_t)k * sizeof *envs);
	double *t = bench_xmalloc((size_t)k * (size_t)n * sizeof *t);
	for (int j = 0; j < k; j++) {
		const char *eq = strchr(specs[j], '=');
		if (!eq) {
			fprintf(stderr, "interleave: %s is not NAME=LIB\n",
				specs[j]);
			return 2;
		}
		envs[j] = env_with(eq + 1);
	}
	for (long i = 0; i < n; i++)
		for (int j = 0; j < k; j++) {
			double t0 = bench_now();
			if (spawn_wait(child_argv, envs[j]))
				return 2;
			t[(size_t)j * (size_t)n + (size_t)i] = bench_now() - t0;
		}
	for (int j = 0; j < k; j++) {
		double *s = t + (size_t)j * (size_t)n;
		char extra[160];
		qsort(s, (size_t)n, sizeof *s, cmp_double);
		snprintf(extra, sizeof extra, "alloc=%.*s median_us=%.1f",
			 (int)(strchr(specs[j], '=') - specs[j]), specs[j],
			 s[n / 2] * 1e6);
		bench_report("startup", s[n / 2] * (double)n, n, extra);
	}
	return 0;
}

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
	if (argc > 1 && strcmp(argv[1], "interleave") == 0) {
		n = argc > 2 ? atol(argv[2]) : 0;
		if (n < 1 || argc < 4) {
			fprintf(stderr, "usage: w_startup interleave n NAME=LIB...\n");
			return 2;
		}
		return interleave(n, argc - 3, argv + 3, child_argv);
	}
	n = bench_arg(argc, argv, 1, 500);
	if (n < 1)
		return 2;
	t0 = bench_now();
	for (long i = 0; i < n; i++)
		if (spawn_wait(child_argv, environ))
			return 2;
	t1 = bench_now();
	bench_report("startup", t1 - t0, n, NULL);
	return 0;
}
