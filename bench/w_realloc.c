/*
 * w_realloc - realloc growth of many buffers by small steps.
 *
 * BUFS buffers grow round-robin, each step by 16..256 bytes, until they
 * reach LIMIT bytes; then the buffer is freed and starts again from a small
 * malloc.  The interleaving keeps neighbours in the way of in-place growth.
 * The last byte of each grown buffer is written; the first byte is checked
 * to survive every move.
 *
 * usage: w_realloc [bufs=256] [limit=65536] [ops=400000] [seed=3]
 */
#include "bench.h"

struct buf {
	unsigned char *p;
	size_t n;
};

int main(int argc, char **argv)
{
	long nbufs = bench_arg(argc, argv, 1, 256);
	long limit = bench_arg(argc, argv, 2, 65536);
	long ops = bench_arg(argc, argv, 3, 400000);
	struct bench_rng rng;
	struct buf *b;
	long done = 0;
	double t0, t1;

	if (nbufs < 1 || limit < 512 || ops < 0)
		return 2;
	bench_rng_seed(&rng, (uint64_t)bench_arg(argc, argv, 4, 3));
	b = bench_xmalloc((size_t)nbufs * sizeof *b);

	t0 = bench_now();
	for (long i = 0; i < nbufs; i++) {
		/* Stagger the starting sizes so buffers do not all hit the
		 * limit in the same pass. */
		b[i].n = bench_rng_range(&rng, 16, (size_t)limit / 2);
		b[i].p = bench_xmalloc(b[i].n);
		b[i].p[0] = (unsigned char)i;
	}
	while (done < ops) {
		for (long i = 0; i < nbufs && done < ops; i++, done++) {
			size_t n = b[i].n + bench_rng_range(&rng, 16, 256);
			unsigned char *q;

			if (n > (size_t)limit) {
				free(b[i].p);
				n = bench_rng_range(&rng, 16, 256);
				q = bench_xmalloc(n);
				q[0] = (unsigned char)i;
			} else {
				q = realloc(b[i].p, n);
				if (!q) {
					fprintf(stderr, "realloc failed\n");
					return 2;
				}
				if (q[0] != (unsigned char)i) {
					fprintf(stderr, "realloc lost data\n");
					return 1;
				}
			}
			q[n - 1] = (unsigned char)n;
			b[i].p = q;
			b[i].n = n;
		}
	}
	for (long i = 0; i < nbufs; i++)
		free(b[i].p);
	t1 = bench_now();

	free(b);
	bench_report("realloc", t1 - t0, ops, NULL);
	return 0;
}
