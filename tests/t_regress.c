/*
 * Regression cases found in review, each in a child process:
 *  1. fork() while a pthread_atfork handler registered before the heap
 *     existed mallocs in prepare and frees in parent/child (deadlocked);
 *  2. a thread that exits after a refused restore must not free its old
 *     cache a second time (corrupted the fast lists);
 *  3. when top cannot grow, deferred small frees are merged before
 *     malloc gives up (was ENOMEM with ~62 KiB free next to each other);
 *  4. page-aligned allocations churned over thousands of live blocks fill
 *     the large bins with 1-4 KiB pieces (every insert walked the whole
 *     bin: 24x slower than glibc); the bins' size rings stay exact and
 *     best fit still returns the smallest chunk that fits.
 */
#include <errno.h>
#include <pthread.h>
#include "pmalloc.h"
#include "testlib.h"

static void *saved;
static void prep(void) { saved = malloc(64); test_use(saved); }
static void parent(void) { free(saved); }
static void child(void) { free(saved); }
__attribute__((constructor)) static void early(void)
{
	pthread_atfork(prep, parent, child);
}

static void case_fork(void *arg)
{
	(void)arg;
	alarm(10);
	pid_t pid = fork();
	if (pid == 0) {
		void *p = malloc(100);
		test_use(p);
		free(p);
		_exit(pm_heap_check() == 0 ? 0 : 3);
	}
	int st;
	waitpid(pid, &st, 0);
	_exit(WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 4);
}

static char ckpt[64];
static void *late_thread(void *arg)
{
	(void)arg;
	usleep(200000); /* main has exited its thread by now */
	int bad = pm_heap_check() != 0;
	void *x = malloc(650), *y = malloc(650); /* the cache struct's class */
	bad |= x == y;
	unlink(ckpt);
	_exit(bad ? 5 : 0);
}

static void case_thread_exit(void *arg)
{
	(void)arg;
	void *volatile keep = malloc(100); /* so the restore is refused */
	test_use(keep);
	snprintf(ckpt, sizeof ckpt, "/tmp/pm_regress.%d", (int)getpid());
	if (pm_checkpoint(ckpt) != 0)
		_exit(6);
	if (pm_restore(ckpt) != -EBUSY)
		_exit(7);
	pthread_t t;
	pthread_create(&t, NULL, late_thread, NULL);
	pthread_exit(NULL);
}

static void case_oom(void *arg)
{
	(void)arg;
	/* fill the heap with 48-byte blocks, then free a run of them */
	enum { N = 1 << 21 };
	static void *v[N];
	size_t n = 0;
	while (n < N && (v[n] = malloc(40)))
		n++;
	if (n == N)
		_exit(8); /* PMALLOC_SIZE not honoured? */
	void *big;
	while ((big = malloc(1000)))
		test_use(big); /* use up what is left of top */
	for (size_t i = n / 2; i < n / 2 + 1300; i++)
		free(v[i]);
	void *p = malloc(40000);
	_exit(p ? 0 : 9);
}

static void case_large_bins(void *arg)
{
	(void)arg;
	enum { N = 4000 };
	static void *v[N];
	uint64_t s = 12345;
	/* three free chunks of one large bin ([20480, 24576): above what
	 * thread caches keep), kept apart */
	void *g[4], *x[3];
	size_t sizes[3] = {22000, 21000, 21500}; /* chunks 22016, 21008, 21520 */
	for (int i = 0; i < 3; i++) {
		g[i] = malloc(40000); /* not from a thread cache */
		x[i] = malloc(sizes[i]);
	}
	g[3] = malloc(40000);
	for (int i = 0; i < 3; i++)
		free(x[i]);
	if (pm_heap_check())
		_exit(5);
	void *a = malloc(20990), *b = malloc(21400), *c = malloc(21990);
	if (a != x[1] || b != x[2] || c != x[0])
		_exit(6); /* not the best fit */
	free(a), free(b), free(c);
	for (int it = 0; it < 200000; it++) {
		s = s * 6364136223846793005ULL + 1442695040888963407ULL;
		int k = (int)((s >> 33) % N);
		if (v[k]) {
			free(v[k]);
			v[k] = NULL;
		} else if (posix_memalign(&v[k], 4096,
					  8 + (size_t)((s >> 20) % 4096))) {
			_exit(2);
		} else {
			memset(v[k], 1, 8);
		}
		if (it % 25000 == 0 && pm_heap_check())
			_exit(3);
	}
	if (pm_heap_check())
		_exit(4);
	for (int i = 0; i < N; i++)
		free(v[i]);
	for (int i = 0; i < 4; i++)
		free(g[i]);
	_exit(pm_heap_check() ? 7 : 0);
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "oom")) {
		case_oom(NULL);
		return 1;
	}
	alarm(60); /* a deadlock in fork() ends as a failure */
	int st = test_in_child(case_fork, NULL, 1);
	CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		  "fork with early atfork handlers: status %#x", st);
	st = test_in_child(case_thread_exit, NULL, 1);
	CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		  "thread exit after refused restore: status %#x", st);
	st = test_in_child(case_large_bins, NULL, 1);
	CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		  "large bins under page-aligned churn: status %#x", st);
	/* the OOM case needs a small heap: a fresh process */
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		setenv("PMALLOC_SIZE", "64M", 1);
		execl("/proc/self/exe", argv[0], "oom", (char *)NULL);
		_exit(10);
	}
	waitpid(pid, &st, 0);
	CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		  "malloc after deferred frees in a full heap: status %#x", st);
	return test_end();
}
