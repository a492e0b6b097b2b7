/*
 * busy_writer - checkpoints while another thread keeps writing a global
 * and a heap buffer (the allocator is quiesced, the program is not).
 *   busy_writer make FILE    checkpoint 5 times to FILE.N while writing
 *   busy_writer check FILE   restore FILE, check the buffer is sane
 * Linked with -lpmalloc or statically with libpmalloc.a (then the loader
 * may fill a lazy .got.plt slot in the middle of a checkpoint).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "pmalloc.h"

#define N (1 << 20)
static volatile long counter;
static volatile long *buf;
static volatile int stop;

static void *spin(void *arg)
{
	(void)arg;
	while (!stop) {
		counter++;
		buf[counter % N] = counter;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	if (!strcmp(argv[1], "check")) {
		int rc = pm_restore(argv[2]);
		if (rc) {
			fprintf(stderr, "restore: %s\n", pm_errmsg());
			return 1;
		}
		long bad = 0;
		for (long i = 0; i < N; i++) /* every slot: 0 or an index */
			if (buf[i] && buf[i] % N != i)
				bad++;
		printf("restored counter=%ld bad=%ld\n", counter, bad);
		return bad != 0;
	}
	buf = calloc(N, sizeof(long));
	pthread_t t;
	pthread_create(&t, NULL, spin, NULL);
	usleep(10000);
	int fails = 0;
	for (int i = 0; i < 5; i++) {
		char name[4096];
		snprintf(name, sizeof name, "%s.%d", argv[2], i);
		if (pm_checkpoint(name)) {
			fprintf(stderr, "checkpoint: %s\n", pm_errmsg());
			fails++;
		}
	}
	stop = 1;
	pthread_join(t, NULL);
	return fails != 0;
}
