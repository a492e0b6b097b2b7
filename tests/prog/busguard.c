/*
 * busguard save FILE | pending FILE | own FILE | race FILE HELD RELEASE - pm_restore(FILE) in a
 * running program, for tests/attack_busguard.sh: what the checksum pass
 * (its SIGBUS handler, src/ckpt_verify.c) leaves of the process's SIGBUS.
 *   save     an 8 MiB block, then pm_checkpoint(FILE) (prints its rc)
 *   pending  SIGBUS blocked and pending (raised) before the restore;
 *            prints "rc RC pending P blocked B handler H" after it
 *   own      the program's own SIGBUS handler (SA_SIGINFO, SA_ONSTACK,
 *            a mask) before the restore: prints "same S got G" after it,
 *            S 1 when sigaction reads back what the program set, G 1
 *            when a SIGBUS fault of the program's own (a file mapping
 *            past the file's end) then reaches that handler
 *   race     two threads restore at once (the shim mapfault.so, mode
 *            hold, orders them: the second installs its guard while the
 *            first is in its pass and gives it back last); prints
 *            "handler H" after both, H "dfl" when SIGBUS's disposition
 *            is the default again
 */
#include <pthread.h>
#include <setjmp.h>
#include <sys/mman.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <fcntl.h>
#include <stdlib.h>
#include "pmalloc.h"

static const char *file, *held, *release;

static sigjmp_buf own_env;
static volatile int own_got;
static void own_bus(int sig, siginfo_t *si, void *uc)
{
	(void)sig, (void)uc;
	own_got = si->si_code == BUS_ADRERR;
	siglongjmp(own_env, 1);
}

static const char *handler(void)
{
	struct sigaction sa;
	sigaction(SIGBUS, NULL, &sa);
	return sa.sa_handler == SIG_DFL ? "dfl" : "other";
}

static void *second(void *arg)
{
	struct stat st;
	for (int i = 0; i < 60000 && stat(held, &st); i++)
		usleep(1000);
	*(int *)arg = pm_restore(file);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	file = argv[2];
	if (!strcmp(argv[1], "save")) {
		size_t n = 8u << 20;
		unsigned char *b = malloc(n);
		for (size_t i = 0; b && i < n; i++)
			b[i] = (unsigned char)(i * 7 + i / 4096);
		printf("saved %d\n", b ? pm_checkpoint(file) : -1);
		return 0;
	}
	if (!strcmp(argv[1], "pending")) {
		sigset_t b, p, cur;
		sigemptyset(&b);
		sigaddset(&b, SIGBUS);
		sigprocmask(SIG_BLOCK, &b, NULL);
		raise(SIGBUS);
		int rc = pm_restore(file);
		sigpending(&p);
		sigprocmask(SIG_BLOCK, NULL, &cur);
		if (rc < 0)
			fprintf(stderr, "%s\n", pm_errmsg());
		printf("rc %d pending %d blocked %d handler %s\n", rc < 0 ? -1 : rc,
		       sigismember(&p, SIGBUS), sigismember(&cur, SIGBUS),
		       handler());
		return 0;
	}
	if (!strcmp(argv[1], "own")) {
		static char alt[1 << 16];
		stack_t ss = {.ss_sp = alt, .ss_size = sizeof alt};
		sigaltstack(&ss, NULL);
		struct sigaction sa, a, b;
		memset(&sa, 0, sizeof sa);
		sa.sa_sigaction = own_bus;
		sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
		sigemptyset(&sa.sa_mask);
		sigaddset(&sa.sa_mask, SIGUSR1);
		sigaction(SIGBUS, &sa, NULL);
		sigaction(SIGBUS, NULL, &a);
		int rc = pm_restore(file);
		if (rc < 0)
			fprintf(stderr, "%s\n", pm_errmsg());
		sigaction(SIGBUS, NULL, &b);
		int same = a.sa_sigaction == b.sa_sigaction &&
			   a.sa_flags == b.sa_flags &&
			   /* the kernel's 64 signals (libc leaves the rest
			    * of a sigset_t undefined) */
			   !memcmp(&a.sa_mask, &b.sa_mask, 8);
		/* a fault of the program's own: a page past its file's end */
		char path[] = "/tmp/busguard.XXXXXX";
		int fd = mkstemp(path);
		unlink(path);
		if (fd < 0 || ftruncate(fd, 4096))
			return 3;
		volatile char *m = mmap(NULL, 8192, PROT_READ, MAP_SHARED, fd, 0);
		if (m == MAP_FAILED)
			return 3;
		if (!sigsetjmp(own_env, 1))
			(void)m[4096];
		printf("same %d got %d\n", same, own_got);
		return 0;
	}
	if (!strcmp(argv[1], "race") && argc == 5) {
		held = argv[3];
		release = argv[4];
		pthread_t t;
		int rc2 = 0;
		pthread_create(&t, NULL, second, &rc2);
		int rc1 = pm_restore(file);
		close(open(release, O_WRONLY | O_CREAT, 0600));
		pthread_join(t, NULL);
		printf("handler %s\n", handler());
		fprintf(stderr, "rc %d %d: %s\n", rc1, rc2, pm_errmsg());
		return 0;
	}
	return 2;
}
