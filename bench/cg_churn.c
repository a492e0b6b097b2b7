/*
 * cg_churn - fixed small-object churn for instruction counting.
 *
 * Run under `valgrind --tool=callgrind --toggle-collect=cg_measure`: only
 * instructions executed inside cg_measure() (and everything it calls) are
 * counted.  A live set of SLOTS blocks of sizes 16..256 is filled and warmed
 * up with WARM free/malloc pairs outside the measured region; cg_measure()
 * then does OPS pairs.  With mode "stub" the same loop calls trivial
 * stand-ins instead of malloc/free, so (Ir(real) - Ir(stub)) / OPS is the
 * cost of one malloc + free pair in the allocator alone.
 *
 * usage: cg_churn real|stub [ops=200000] [slots=1000] [warm=100000]
 */
#include "bench.h"

typedef void *(*alloc_fn)(size_t);
typedef void (*free_fn)(void *);

/* The stand-ins are as cheap as possible (a few instructions each): the
 * stub run's count is subtracted, so their cost is the only error. */
static unsigned char stub_pool[257][256];

__attribute__((noinline)) static void *stub_alloc(size_t n)
{
	return stub_pool[n <= 256 ? n : 0];
}

__attribute__((noinline)) static void stub_free(void *p)
{
	bench_sink(p);
}

static inline __attribute__((always_inline)) void
churn_loop(unsigned char **live, long slots, long ops, struct bench_rng *rng,
	   alloc_fn af, free_fn ff)
{
	for (long i = 0; i < ops; i++) {
		size_t k = bench_rng_range(rng, 0, (size_t)slots - 1);
		size_t n = bench_rng_range(rng, 16, 256);

		ff(live[k]);
		live[k] = af(n);
		live[k][0] = (unsigned char)n;
	}
}

/* Distinct side effects keep the compiler from folding cg_warm and
 * cg_measure into one function (callgrind would then see only one name). */
static volatile int warm_calls, measure_calls;

/* Warm-up: not counted. */
__attribute__((noinline)) static void
cg_warm(unsigned char **live, long slots, long ops, struct bench_rng *rng,
	alloc_fn af, free_fn ff)
{
	warm_calls++;
	churn_loop(live, slots, ops, rng, af, ff);
}

/* Measured region: its name is given to callgrind's --toggle-collect. */
__attribute__((noinline)) void cg_measure(unsigned char **live, long slots,
					  long ops, struct bench_rng *rng,
					  alloc_fn af, free_fn ff);
__attribute__((noinline)) void cg_measure(unsigned char **live, long slots,
					  long ops, struct bench_rng *rng,
					  alloc_fn af, free_fn ff)
{
	measure_calls++;
	churn_loop(live, slots, ops, rng, af, ff);
}

int main(int argc, char **argv)
{
	int stub = argc > 1 && strcmp(argv[1], "stub") == 0;
	long ops = bench_arg(argc, argv, 2, 200000);
	long slots = bench_arg(argc, argv, 3, 1000);
	long warm = bench_arg(argc, argv, 4, 100000);
	alloc_fn af = stub ? stub_alloc : malloc;
	free_fn ff = stub ? stub_free : free;
	struct bench_rng rng;
	unsigned char **live;
	double t0, t1;

	if (argc < 2 || (!stub && strcmp(argv[1], "real") != 0) || ops < 0 ||
	    slots < 1 || slots > 1000 || warm < 0) {
		fprintf(stderr, "usage: cg_churn real|stub [ops] [slots<=1000] [warm]\n");
		return 2;
	}
	bench_rng_seed(&rng, 42);
	live = bench_xmalloc((size_t)slots * sizeof *live);
	for (long i = 0; i < slots; i++)
		live[i] = stub ? stub_alloc(16) : bench_xmalloc(16);
	cg_warm(live, slots, warm, &rng, af, ff);

	t0 = bench_now();
	cg_measure(live, slots, ops, &rng, af, ff);
	t1 = bench_now();

	if (!stub)
		for (long i = 0; i < slots; i++)
			free(live[i]);
	free(live);
	bench_report("cg_churn", t1 - t0, ops, NULL);
	return 0;
}
