/*
 * image_prog.c - a program imaged mid-run and resumed (tests/image_resume.sh).
 *
 *   image_prog A.img B.img
 * computes in three phases with pm_image(A) between the first two and
 * pm_image(B) between the last two.  With STOP=1 in the environment of
 * the first run it ends right after writing an image (as if killed: the
 * stdio buffer is dropped), so the image must carry everything.  What it
 * prints depends only on its computation: a resumed run prints what an
 * uninterrupted one prints.  Live state across each image: deep
 * recursion with locals on the stack, a heap list, stdio's buffer,
 * atexit handlers, a jmp_buf, errno, __thread variables, a JIT page.
 * THREAD=1 starts a second thread first (pm_image must refuse: exit 3).
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <pmalloc.h>

struct node {
	struct node *next;
	uint64_t v;
	char text[40];
};

static struct node *list;
static __thread uint64_t tls_sum = 7;
static __thread int tls_count;
static jmp_buf jb;
static int stop;
static unsigned char *jit;

static void at_exit_a(void)
{
	printf("atexit a: tls_count %d\n", tls_count);
}

static void at_exit_b(void)
{
	printf("atexit b: tls_sum %llu\n", (unsigned long long)tls_sum);
}

static void add(uint64_t v)
{
	struct node *n = malloc(sizeof *n);
	n->v = v;
	snprintf(n->text, sizeof n->text, "node %llu", (unsigned long long)v);
	n->next = list;
	list = n;
	/* churn: blocks that are freed again */
	free(malloc(16 + v % 500));
}

static uint64_t walk(void)
{
	uint64_t h = 1469598103934665603ull;
	for (struct node *n = list; n; n = n->next)
		h = (h ^ n->v ^ (uint64_t)strlen(n->text)) * 1099511628211ull;
	return h;
}

static void image(const char *path)
{
	errno = 4242;
	tls_count++;
	int rc = pm_image(path);
	int e = errno;
	if (rc < 0) {
		fprintf(stderr, "pm_image(%s): %d %s\n", path, rc, pm_errmsg());
		exit(3);
	}
	fprintf(stderr, "pm_image(%s) = %d\n", path, rc);
	if (e != 4242)
		printf("errno after the image: %d, not 4242\n", e);
	if (rc == 0 && stop)
		_exit(0);
}

/* Recursion with live locals: every frame adds its own to the result on
 * the way back, after the images were taken at the bottom. */
static uint64_t deep(int n, const char *a, const char *b)
{
	volatile uint64_t mine[4] = {(uint64_t)n, (uint64_t)n * 3,
				     (uint64_t)n * n, 0x5a5a5a5a5a5a5a5aull};
	if (n == 0) {
		image(a);
		for (int i = 0; i < 2000; i++)
			add((uint64_t)i * 7);
		tls_sum += walk() & 0xffff;
		printf("phase 2: list %llx\n", (unsigned long long)walk());
		image(b);
		return 0;
	}
	uint64_t r = deep(n - 1, a, b);
	return r * 31 + mine[0] + mine[1] + mine[2] + (mine[3] & 0xff);
}

typedef int (*jit_fn)(void);

static void *sleeper(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: image_prog A.img B.img\n");
		return 2;
	}
	stop = getenv("STOP") != NULL;
	pthread_t th;
	if (getenv("THREAD") && pthread_create(&th, NULL, sleeper, NULL))
		return 5;
	atexit(at_exit_a);
	atexit(at_exit_b);
	/* a JIT page: mov eax, 42; ret */
	jit = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (jit == MAP_FAILED)
		return 4;
	memcpy(jit, "\xb8\x2a\x00\x00\x00\xc3", 6);
	for (int i = 0; i < 3000; i++)
		add((uint64_t)i);
	printf("phase 1: list %llx jit %d\n", (unsigned long long)walk(),
	       ((jit_fn)jit)());
	int jumped = setjmp(jb);
	if (!jumped) {
		uint64_t r = deep(1500, argv[1], argv[2]);
		jit[1] = 0x2b; /* the code is patched after the images */
		printf("phase 3: deep %llx list %llx jit %d\n",
		       (unsigned long long)r, (unsigned long long)walk(),
		       ((jit_fn)jit)());
		longjmp(jb, 5);
	}
	printf("longjmp back: %d, tls_count %d\n", jumped, tls_count);
	return 0;
}
