/*
 * w_overhead - memory overhead of a fixed live set after churn.
 *
 * Builds a live set of mixed sizes (60% 16..128 B, 30% 128 B..1 KiB,
 * 9% 1..8 KiB, 1% 8..128 KiB) until it holds TARGET_MB, then churns it:
 * OPS times a random block is freed and, while the live total is below the
 * target, replaced by a block of a new random size.  Every block is fully
 * written (memset) so that the resident set reflects what the allocator
 * really handed out.  Reports the peak RSS (VmHWM) and the peak live bytes.
 *
 * usage: w_overhead [target_mb=200] [ops=500000] [seed=9]
 */
#include "bench.h"

static size_t mixed_size(struct bench_rng *r)
{
	unsigned c = (unsigned)bench_rng_range(r, 0, 99);

	if (c < 60)
		return bench_rng_range(r, 16, 128);
	if (c < 90)
		return bench_rng_range(r, 129, 1024);
	if (c < 99)
		return bench_rng_range(r, 1025, 8192);
	return bench_rng_range(r, 8193, 131072);
}

int main(int argc, char **argv)
{
	size_t target = (size_t)bench_arg(argc, argv, 1, 200) << 20;
	long ops = bench_arg(argc, argv, 2, 500000);
	struct bench_rng rng;
	size_t cap = 1 << 20, count = 0, live = 0, peak_live = 0;
	unsigned char **blk;
	size_t *len;
	long base_kb;
	unsigned long sum = 0;
	char extra[128];
	double t0, t1;

	if (ops < 0 || target == 0)
		return 2;
	bench_rng_seed(&rng, (uint64_t)bench_arg(argc, argv, 3, 9));
	blk = bench_xmalloc(cap * sizeof *blk);
	len = bench_xmalloc(cap * sizeof *len);
	memset(blk, 0, cap * sizeof *blk);
	memset(len, 0, cap * sizeof *len);
	base_kb = bench_peak_rss_kb();

	t0 = bench_now();
	for (long i = -1; i < ops; i++) {
		if (i >= 0 && count > 0) {
			/* Free a random block: swap it with the last one. */
			size_t k = bench_rng_range(&rng, 0, count - 1);

			sum += blk[k][0];
			live -= len[k];
			free(blk[k]);
			blk[k] = blk[count - 1];
			len[k] = len[count - 1];
			count--;
		}
		/* Refill up to the target (all of it on the first pass). */
		while (live < target && count < cap) {
			size_t n = mixed_size(&rng);

			blk[count] = bench_xmalloc(n);
			memset(blk[count], (int)(n & 0xff), n);
			len[count] = n;
			live += n;
			count++;
		}
		if (live > peak_live)
			peak_live = live;
	}
	t1 = bench_now();

	snprintf(extra, sizeof extra,
		 "peak_live_kb=%zu base_kb=%ld blocks=%zu", peak_live >> 10,
		 base_kb, count);
	/* Report before freeing: VmHWM is a high-water mark anyway. */
	bench_sink((void *)sum);
	bench_report("overhead", t1 - t0, ops, extra);
	for (size_t i = 0; i < count; i++)
		free(blk[i]);
	free(blk);
	free(len);
	return 0;
}
