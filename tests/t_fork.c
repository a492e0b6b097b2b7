/* fork() from a multi-threaded parent: three threads keep allocating and
 * freeing while the main thread forks 40 children one after another.  Each
 * child (under alarm(10), so a lock inherited held ends as a failure, not a
 * hang) allocates and frees a few thousand blocks, starts a thread of its
 * own that allocates too, checks the heap and exits 0.  Some blocks are
 * aligned, so the other threads hold aligned reserves at the fork. */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include "pmalloc.h"
#include "testlib.h"

#define NCHILDREN 40

static atomic_int stop;
static atomic_long parent_ops;

static void *busy(void *arg)
{
	uint64_t rng = (uintptr_t)arg | 1;
	void *slots[128] = { 0 };
	while (!atomic_load(&stop)) {
		int k = (int)(test_rand(&rng) % 128);
		if (slots[k]) {
			free(slots[k]);
			slots[k] = NULL;
		} else {
			uint64_t r = test_rand(&rng);
			size_t n = r % 8 == 0 ? (r >> 8) % 200000 : (r >> 8) % 900;
			/* some aligned: forks find other threads' aligned
			 * reserves, which the child gives back */
			slots[k] = r % 8 == 1 ? memalign((size_t)32 << (r >> 40) % 8, n)
					      : malloc(n);
			if (slots[k])
				memset(slots[k], 0x5c, n);
		}
		atomic_fetch_add(&parent_ops, 1);
	}
	for (int k = 0; k < 128; k++)
		free(slots[k]);
	return NULL;
}

#include "ring.h"

static int churn(uint64_t seed, int n)
{
	uint64_t rng = seed | 1;
	void *v[256] = { 0 };
	size_t len[256] = { 0 };
	int bad = 0;
	for (int i = 0; i < n; i++) {
		int k = (int)(test_rand(&rng) % 256);
		if (v[k]) {
			unsigned char *p = v[k];
			for (size_t j = 0; j < len[k]; j++)
				if (p[j] != (unsigned char)k) {
					bad++;
					break;
				}
			free(v[k]);
			v[k] = NULL;
		} else {
			uint64_t r = test_rand(&rng);
			len[k] = r % 16 == 0 ? (r >> 8) % 100000 : (r >> 8) % 1000;
			v[k] = r % 5 == 0   ? calloc(1, len[k])
			       : r % 5 == 1 ? memalign((size_t)32 << (r >> 40) % 8,
						       len[k])
					    : malloc(len[k]);
			if (!v[k]) {
				bad++;
				continue;
			}
			memset(v[k], k, len[k]);
		}
	}
	for (int k = 0; k < 256; k++)
		free(v[k]);
	return bad;
}

static void *child_thread(void *arg)
{
	return (void *)(intptr_t)churn((uintptr_t)arg, 3000);
}

static void child(int i)
{
	alarm(10);
	int bad = churn(0x1234u + (unsigned)i, 4000);
	if (bad)
		fprintf(stderr, "child %d: %d bad blocks\n", i, bad);
	pthread_t t;
	if (pthread_create(&t, NULL, child_thread, (void *)(intptr_t)(i + 7))) {
		fprintf(stderr, "child %d: pthread_create failed\n", i);
		_exit(2);
	}
	void *ret = NULL;
	pthread_join(t, &ret);
	if (ret) {
		fprintf(stderr, "child %d: thread saw %ld bad blocks\n", i,
			(long)(intptr_t)ret);
		bad++;
	}
	char *s = malloc(64);
	snprintf(s, 64, "child %d", i);
	free(s);
	int rc = pm_heap_check();
	if (rc != 0) {
		fprintf(stderr, "child %d: pm_heap_check %d: %s\n", i, rc,
			pm_errmsg());
		bad++;
	}
	_exit(bad ? 1 : 0);
}

int main(void)
{
	pthread_t th[3];
	for (int i = 0; i < 3; i++)
		CHECK(pthread_create(&th[i], NULL, busy,
				     (void *)(intptr_t)(i + 11)) == 0);
	/* and a producer and a consumer: forks find chains on the transfer
	 * stacks, which the children's allocations take */
	pthread_t rp, rcons;
	CHECK(pthread_create(&rp, NULL, ring_producer, NULL) == 0);
	CHECK(pthread_create(&rcons, NULL, ring_consumer, NULL) == 0);
	int ok = 0;
	for (int i = 0; i < NCHILDREN; i++) {
		/* let the threads get going between forks */
		long seen = atomic_load(&parent_ops);
		while (atomic_load(&parent_ops) < seen + 2000)
			sched_yield();
		fflush(NULL);
		pid_t pid = fork();
		if (pid < 0) {
			CHECK_MSG(0, "fork: %s", strerror(errno));
			break;
		}
		if (pid == 0)
			child(i);
		int st = 0;
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
			ok++;
		else if (WIFSIGNALED(st))
			fprintf(stderr, "child %d: killed by signal %d%s\n", i,
				WTERMSIG(st),
				WTERMSIG(st) == SIGALRM ? " (deadlock?)" : "");
		else
			fprintf(stderr, "child %d: exit %d\n", i,
				WEXITSTATUS(st));
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	atomic_store(&ring_stop, 1);
	pthread_join(rp, NULL);
	pthread_join(rcons, NULL);
	ring_free();
	CHECK_MSG(ok == NCHILDREN, "%d of %d children exited 0", ok,
		  NCHILDREN);
	int rc = pm_heap_check();
	CHECK_MSG(rc == 0, "parent pm_heap_check: %d %s", rc, pm_errmsg());
	fprintf(stderr, "parent: %ld operations during the forks\n",
		atomic_load(&parent_ops));
	return test_end();
}
