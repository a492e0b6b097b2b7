/*
 * w_large - large blocks, 64 KiB to 4 MiB.
 *
 * A live set of SLOTS blocks whose sizes are log-uniform in [64 KiB, 4 MiB];
 * OPS times a random slot is freed and replaced.  Only one byte of each
 * block is written: touching every page would measure the kernel's
 * page-fault cost (~19 us a page on the benchmark VM) rather than the
 * allocator.  The live set lets an
 * allocator reuse memory instead of going back to the kernel every time.
 *
 * usage: w_large [slots=32] [ops=60000] [seed=5]
 */
#include "bench.h"

static size_t large_size(struct bench_rng *r)
{
	/* 2^16 .. 2^22 with a uniform mantissa. */
	unsigned e = (unsigned)bench_rng_range(r, 16, 21);
	size_t lo = (size_t)1 << e;
	return lo + bench_rng_range(r, 0, lo);
}

int main(int argc, char **argv)
{
	long slots = bench_arg(argc, argv, 1, 32);
	long ops = bench_arg(argc, argv, 2, 60000);
	struct bench_rng rng;
	unsigned char **live;
	unsigned long sum = 0;
	double t0, t1;

	if (slots < 1 || ops < 0)
		return 2;
	bench_rng_seed(&rng, (uint64_t)bench_arg(argc, argv, 3, 5));
	live = bench_xmalloc((size_t)slots * sizeof *live);

	t0 = bench_now();
	for (long i = 0; i < slots; i++) {
		live[i] = bench_xmalloc(large_size(&rng));
		live[i][0] = (unsigned char)i;
	}
	for (long i = 0; i < ops; i++) {
		size_t k = bench_rng_range(&rng, 0, (size_t)slots - 1);

		sum += live[k][0];
		free(live[k]);
		live[k] = bench_xmalloc(large_size(&rng));
		live[k][0] = (unsigned char)i;
	}
	for (long i = 0; i < slots; i++)
		free(live[i]);
	t1 = bench_now();

	free(live);
	bench_sink((void *)sum);
	bench_report("large", t1 - t0, ops + slots, NULL);
	return 0;
}
