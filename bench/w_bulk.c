/*
 * w_bulk - bulk allocate-then-free of many small objects.
 *
 * ROUNDS times: allocate COUNT blocks of SIZE bytes (writing one byte into
 * each), then free them all in allocation order.
 *
 * usage: w_bulk [count=1000000] [size=64] [rounds=5]
 */
#include "bench.h"

int main(int argc, char **argv)
{
	long count = bench_arg(argc, argv, 1, 1000000);
	long size = bench_arg(argc, argv, 2, 64);
	long rounds = bench_arg(argc, argv, 3, 5);
	unsigned char **v;
	unsigned long sum = 0;
	double t0, t1;

	if (count < 1 || size < 1 || rounds < 0)
		return 2;
	v = bench_xmalloc((size_t)count * sizeof *v);
	/* Touch the pointer array before timing: its page faults are not
	 * the allocator's business. */
	memset(v, 0, (size_t)count * sizeof *v);

	t0 = bench_now();
	for (long r = 0; r < rounds; r++) {
		for (long i = 0; i < count; i++) {
			v[i] = bench_xmalloc((size_t)size);
			v[i][0] = (unsigned char)i;
		}
		for (long i = 0; i < count; i++) {
			sum += v[i][0];
			free(v[i]);
		}
	}
	t1 = bench_now();

	free(v);
	bench_sink((void *)sum);
	bench_report("bulk", t1 - t0, 2 * count * rounds, NULL);
	return 0;
}
