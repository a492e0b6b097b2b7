/*
 * bench.h - small helpers shared by the benchmark workloads.
 *
 * Every workload is a standalone program that only uses the plain malloc
 * family, so that the allocator under test can be swapped with LD_PRELOAD.
 * Each prints one result line that bench/run.py parses:
 *
 *   RESULT bench=<name> secs=<elapsed> ops=<count> maxrss_kb=<VmHWM> [k=v...]
 */
#ifndef PM_BENCH_H
#define PM_BENCH_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline double bench_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* xorshift64*: fast, deterministic, good enough for picking sizes/slots. */
struct bench_rng {
	uint64_t s;
};

static inline void bench_rng_seed(struct bench_rng *r, uint64_t seed)
{
	r->s = seed * 0x9e3779b97f4a7c15ULL + 0x2545f4914f6cdd1dULL;
	if (r->s == 0)
		r->s = 1;
}

static inline uint64_t bench_rng_next(struct bench_rng *r)
{
	uint64_t x = r->s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	r->s = x;
	return x * 0x2545f4914f6cdd1dULL;
}

/* Uniform in [lo, hi]. */
static inline size_t bench_rng_range(struct bench_rng *r, size_t lo, size_t hi)
{
	return lo + (size_t)((bench_rng_next(r) >> 11) % (uint64_t)(hi - lo + 1));
}

/* Peak resident set size in KiB (VmHWM), or -1 when unavailable. */
static inline long bench_peak_rss_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof line, f)) {
		if (strncmp(line, "VmHWM:", 6) == 0) {
			kb = strtol(line + 6, NULL, 10);
			break;
		}
	}
	fclose(f);
	return kb;
}

/* Command-line argument i as a number, or def when absent. */
static inline long bench_arg(int argc, char **argv, int i, long def)
{
	if (argc > i)
		return strtol(argv[i], NULL, 0);
	return def;
}

static inline void bench_report(const char *name, double secs, long ops,
				const char *extra)
{
	printf("RESULT bench=%s secs=%.6f ops=%ld maxrss_kb=%ld%s%s\n", name,
	       secs, ops, bench_peak_rss_kb(), extra ? " " : "",
	       extra ? extra : "");
	fflush(stdout);
}

/* Make a pointer's value observable so that nothing is optimised away. */
static inline void bench_sink(const void *p)
{
	__asm__ __volatile__("" : : "r"(p) : "memory");
}

static inline void *bench_xmalloc(size_t n)
{
	void *p = malloc(n);
	if (!p) {
		fprintf(stderr, "bench: malloc(%zu) failed\n", n);
		exit(2);
	}
	return p;
}

#endif
