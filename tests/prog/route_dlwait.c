/*
 * route_dlwait.c - malloc must not wait for the loader's lock: thread A
 * holds it (inside a dl_iterate_phdr callback) until thread B has made
 * 400 small mallocs, among them the one that sets up the direct route
 * (route.c).  Prints "no deadlock", or "B stuck" after 5 s.
 */
#define _GNU_SOURCE
#include <link.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static volatile int b_done, a_in, b_was_done;

static int cb(struct dl_phdr_info *info, size_t size, void *ctx)
{
	(void)info, (void)size, (void)ctx;
	a_in = 1;
	for (int i = 0; i < 500 && !b_done; i++)
		usleep(10000);
	b_was_done = b_done; /* before the lock is let go */
	return 1; /* once is enough */
}

static void *thread_a(void *arg)
{
	(void)arg;
	dl_iterate_phdr(cb, NULL);
	return NULL;
}

static void *thread_b(void *arg)
{
	(void)arg;
	while (!a_in)
		usleep(1000);
	for (int i = 0; i < 400; i++) {
		char *volatile p = malloc(32); /* the slow path, until routed */
		if (p)
			p[0] = 1;
		free(p);
	}
	b_done = 1;
	return NULL;
}

int main(void)
{
	pthread_t a, b;
	pthread_create(&a, NULL, thread_a, NULL);
	pthread_create(&b, NULL, thread_b, NULL);
	pthread_join(a, NULL);
	puts(b_was_done ? "no deadlock" : "B stuck");
	pthread_join(b, NULL);
	return b_was_done ? 0 : 1;
}
