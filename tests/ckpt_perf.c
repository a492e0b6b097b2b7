/*
 * ckpt_perf.c - the checkpoint speed targets, measured (tests/ckpt_perf.sh).
 *
 *   ckpt_perf make FILE MB REPS   MB MiB of live 1 MiB blocks; REPS times:
 *                                 write+fsync of the heap's bytes to
 *                                 FILE.base, then pm_checkpoint(FILE);
 *                                 prints medians and their ratio, and the
 *                                 file size against the live bytes
 *   ckpt_perf read FILE           one read() pass over FILE (1 MiB buffer)
 *   ckpt_perf restore FILE [nv]   time pm_restore_ex (nv: NO_VERIFY)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <pmalloc.h>

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int make(const char *f, size_t mb, int reps)
{
	for (size_t i = 0; i < mb; i++) {
		char *b = malloc((1 << 20) - 64);
		memset(b, (int)i + 1, (1 << 20) - 64);
		if (i == 0)
			pm_root_set("first", b);
	}
	struct pm_heap_info hi;
	pm_heap_info(&hi);
	char tf[4096];
	snprintf(tf, sizeof tf, "%s.base", f);
	double tb[64], tc[64];
	if (reps > 64)
		reps = 64;
	for (int r = 0; r < reps; r++) {
		unlink(tf);
		unlink(f);
		sync();
		double t0 = now();
		int fd = open(tf, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		for (size_t off = 0; off < hi.top - hi.base; off += 1 << 20) {
			size_t n = hi.top - hi.base - off;
			if (n > 1 << 20)
				n = 1 << 20;
			if (write(fd, (char *)hi.base + off, n) != (ssize_t)n) {
				perror("write");
				return 1;
			}
		}
		fsync(fd);
		close(fd);
		double t1 = now();
		unlink(tf);
		sync();
		double t2 = now();
		int rc = pm_checkpoint(f);
		double t3 = now();
		if (rc) {
			fprintf(stderr, "pm_checkpoint: %s\n", pm_errmsg());
			return 1;
		}
		tb[r] = t1 - t0;
		tc[r] = t3 - t2;
	}
	qsort(tb, (size_t)reps, sizeof *tb, cmp);
	qsort(tc, (size_t)reps, sizeof *tc, cmp);
	struct stat st;
	stat(f, &st);
	printf("checkpoint of %zu MiB live: write+fsync median %.3f s, "
	       "checkpoint median %.3f s, ratio %.2f (target <= 1.2)\n",
	       hi.live >> 20, tb[reps / 2], tc[reps / 2],
	       tc[reps / 2] / tb[reps / 2]);
	printf("file %lld bytes for %zu live bytes: ratio %.4f (target <= "
	       "1.05 + metadata)\n",
	       (long long)st.st_size, hi.live, (double)st.st_size / (double)hi.live);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 5 && !strcmp(argv[1], "make"))
		return make(argv[2], (size_t)atol(argv[3]), atoi(argv[4]));
	if (argc >= 3 && !strcmp(argv[1], "read")) {
		static char buf[1 << 20];
		double t0 = now();
		int fd = open(argv[2], O_RDONLY);
		ssize_t r;
		while ((r = read(fd, buf, sizeof buf)) > 0)
			;
		close(fd);
		printf("%.4f\n", now() - t0);
		return 0;
	}
	if (argc >= 3 && !strcmp(argv[1], "restore")) {
		unsigned fl = argc > 3 ? PM_RESTORE_NO_VERIFY : 0;
		double t0 = now();
		int rc = pm_restore_ex(argv[2], fl);
		double t1 = now();
		char *b = pm_root_get("first");
		if (rc || !b || b[0] != 1) {
			fprintf(stderr, "restore: %d %s\n", rc, pm_errmsg());
			return 1;
		}
		printf("%.4f\n", t1 - t0);
		return 0;
	}
	fprintf(stderr, "usage: see the comment at the top\n");
	return 2;
}
