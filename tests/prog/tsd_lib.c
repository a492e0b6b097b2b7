/*
 * tsd_lib.c - a library that keeps per-thread data under a pthread key,
 * made in its constructor (before main(): the block is an early block of
 * the persistent heap, which a restore replaces).  tests/ckpt_tsd.sh.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static pthread_key_t key;

__attribute__((constructor)) static void tsd_lib_init(void)
{
	char *mine = malloc(32);
	if (!mine || pthread_key_create(&key, NULL))
		abort();
	strcpy(mine, "MINE");
	pthread_setspecific(key, mine);
}

void tsd_lib_drop(void)
{
	pthread_setspecific(key, NULL);
}

void *tsd_lib_get(void)
{
	return pthread_getspecific(key);
}
