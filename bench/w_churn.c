/*
 * w_churn - small-object churn over a live set.
 *
 * A live array of SLOTS blocks (random sizes 16..512) is filled, then OPS
 * times a random slot is freed and replaced by a block of a new random size.
 * One byte of every new block is written and the old block's byte is read.
 *
 * usage: w_churn [slots=100000] [ops=2000000] [seed=1]
 */
#include "bench.h"

int main(int argc, char **argv)
{
	long slots = bench_arg(argc, argv, 1, 100000);
	long ops = bench_arg(argc, argv, 2, 2000000);
	struct bench_rng rng;
	unsigned char **live;
	unsigned long sum = 0;
	double t0, t1;

	if (slots < 1 || ops < 0)
		return 2;
	bench_rng_seed(&rng, (uint64_t)bench_arg(argc, argv, 3, 1));
	live = bench_xmalloc((size_t)slots * sizeof *live);

	t0 = bench_now();
	for (long i = 0; i < slots; i++) {
		size_t n = bench_rng_range(&rng, 16, 512);
		live[i] = bench_xmalloc(n);
		live[i][0] = (unsigned char)n;
	}
	for (long i = 0; i < ops; i++) {
		size_t k = bench_rng_range(&rng, 0, (size_t)slots - 1);
		size_t n = bench_rng_range(&rng, 16, 512);
		sum += live[k][0];
		free(live[k]);
		live[k] = bench_xmalloc(n);
		live[k][0] = (unsigned char)n;
	}
	for (long i = 0; i < slots; i++) {
		sum += live[i][0];
		free(live[i]);
	}
	t1 = bench_now();

	free(live);
	bench_sink((void *)sum);
	bench_report("churn", t1 - t0, ops + slots, NULL);
	return 0;
}
