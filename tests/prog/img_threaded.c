/*
 * img_threaded FILE - a thread created and joined (the process is single
 * threaded again), then pm_image(FILE); prints "saved RC" or "resumed 1".
 * For tests/attack_img_threaded.sh.
 */
#include <pthread.h>
#include <stdio.h>
#include "pmalloc.h"
static void *f(void *a) { return a; }
int main(int argc, char **argv)
{
	(void)argc;
	pthread_t t;
	pthread_create(&t, NULL, f, NULL);
	pthread_join(t, NULL);
	int rc = pm_image(argv[1]);
	printf("%s %d\n", rc == 1 ? "resumed" : "saved", rc);
	return 0;
}
