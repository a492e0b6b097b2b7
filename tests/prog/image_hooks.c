/*
 * image_hooks.c - pm_at_image / pm_at_resume (tests/image_hooks.sh).
 *
 *   image_hooks IMAGE [nohooks]
 * holds a pipe open (which an image cannot carry) and calls a function of
 * its own library (libimghook.so, built by the test in two versions).
 * Without hooks pm_image must refuse, naming the pipe's descriptor.  With
 * them, the image hooks close the pipe (in registration order) and the
 * resume hooks open a new one (in reverse order).  STOP=1 ends the first
 * run right after the image.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <pmalloc.h>

int imghook_version(void);

static int pipefd[2] = {-1, -1};
static char order[64];

static void add(const char *s)
{
	strncat(order, s, sizeof order - strlen(order) - 1);
}

static void close_pipe(void *arg)
{
	add((const char *)arg);
	close(pipefd[0]);
	close(pipefd[1]);
	pipefd[0] = pipefd[1] = -1;
}

static void note(void *arg)
{
	add((const char *)arg);
}

static void open_pipe(void *arg)
{
	add((const char *)arg);
	if (pipe(pipefd) != 0)
		abort();
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	if (pipe(pipefd) != 0)
		return 2;
	if (argc < 3) {
		pm_at_image(note, "i1");
		pm_at_image(close_pipe, "i2");
		pm_at_resume(open_pipe, "r1");
		pm_at_resume(note, "r2");
	}
	int rc = pm_image(argv[1]);
	if (rc < 0) {
		printf("pm_image: %d %s\n", rc, pm_errmsg());
		return 3;
	}
	if (rc == 0 && getenv("STOP"))
		_exit(0);
	/* the pipe works (reopened on resume, closed by the image hook
	 * in the imaging run: reopen there too) */
	if (pipefd[0] < 0 && pipe(pipefd) != 0)
		return 4;
	if (write(pipefd[1], "x", 1) != 1)
		return 5;
	char c;
	if (read(pipefd[0], &c, 1) != 1)
		return 6;
	printf("rc %d hooks %s lib %d\n", rc, order, imghook_version());
	return 0;
}
