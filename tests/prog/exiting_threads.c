/*
 * exiting_threads - pm_exiting() is the calling thread's (pmalloc.h: "from
 * now on the calling thread's frees ... keep their memory"): the main
 * thread calls it, then a second thread mallocs and frees 1 MiB 2000
 * times.  Prints "live BEFORE -> AFTER" of that loop (the same when the
 * second thread's frees give their memory back; was: 2 GB more).  For
 * tests/attack_exiting_threads.sh.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include "pmalloc.h"
static volatile int go;
static void *worker(void *a)
{
	(void)a;
	while (!go) ;
	struct pm_heap_info x, y;
	pm_heap_info(&x);
	for (int i = 0; i < 2000; i++) {
		char *p = malloc(1 << 20);
		if (!p) { printf("ENOMEM at %d\n", i); return NULL; }
		p[0] = 1;
		free(p);
	}
	pm_heap_info(&y);
	printf("live %zu -> %zu\n", (size_t)x.live, (size_t)y.live);
	return NULL;
}
int main(void)
{
	pthread_t t;
	pthread_create(&t, NULL, worker, NULL);
	pm_exiting();
	go = 1;
	pthread_join(t, NULL);
	return 0;
}
