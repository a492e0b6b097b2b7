/*
 * image_timers MODE FILE - the timers and locks of a process image.
 *   alarm    an alarm 1.5 s ahead and an interval timer's SIGALRM handler
 *            counting; pm_image(FILE); then waits (up to 10 s) for the
 *            alarm: prints "saved"/"resumed", then "alarm N" once it has
 *            fired (N ticks of the 0.25 s interval that follows it) or
 *            "no alarm".  A resumed process must get the alarm too.
 *   prof     ITIMER_PROF armed: pm_image refused; disarmed: it works.
 *   posix    a POSIX timer (timer_create): refused; deleted: it works.
 *   flock    an flock on a file the program opened: refused; unlocked:
 *            it works.
 *   fcntl    the same with a POSIX record lock (F_SETLK).
 *   pending  SIGUSR1 and SIGUSR2 blocked and raised (pending), then
 *            pm_image(FILE), then unblocked: prints "saved"/"resumed",
 *            then "usr1 1 usr2 1" once the handlers ran.  A resumed
 *            process must get both too.
 * The refusing modes print "refused RC: MESSAGE" then "saved RC".
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/time.h>
#include "pmalloc.h"

static volatile sig_atomic_t ticks;

static void on_alarm(int sig)
{
	(void)sig;
	ticks++;
}

static volatile sig_atomic_t got1, got2;
static void on_usr(int sig)
{
	if (sig == SIGUSR1)
		got1++;
	else
		got2++;
}

static void refused_then_saved(const char *file, void (*undo)(void))
{
	int rc = pm_image(file);
	printf("refused %d: %s\n", rc, rc < 0 ? pm_errmsg() : "");
	undo();
	rc = pm_image(file);
	printf("%s %d\n", rc == PM_RESUMED ? "resumed" : "saved", rc);
}

static void prof_off(void)
{
	struct itimerval z;
	memset(&z, 0, sizeof z);
	setitimer(ITIMER_PROF, &z, NULL);
}
static timer_t tid;
static void posix_off(void) { timer_delete(tid); }
static int lock_fd;
static void flock_off(void) { flock(lock_fd, LOCK_UN); }
static void fcntl_off(void)
{
	struct flock l = {.l_type = F_UNLCK, .l_whence = SEEK_SET};
	fcntl(lock_fd, F_SETLK, &l);
}

int main(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	const char *mode = argv[1], *file = argv[2];
	if (!strcmp(mode, "alarm")) {
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = on_alarm;
		sigaction(SIGALRM, &sa, NULL);
		struct itimerval it = {{0, 250000}, {1, 500000}};
		setitimer(ITIMER_REAL, &it, NULL);
		int rc = pm_image(file);
		printf("%s %d\n", rc == PM_RESUMED ? "resumed" : "saved", rc);
		fflush(stdout);
		for (int i = 0; i < 100 && ticks < 4; i++) {
			struct timespec ts = {0, 100000000};
			nanosleep(&ts, NULL);
		}
		if (ticks)
			printf("alarm %d\n", ticks >= 4 ? 4 : (int)ticks);
		else
			printf("no alarm\n");
		return 0;
	}
	if (!strcmp(mode, "pending")) {
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = on_usr;
		sigaction(SIGUSR1, &sa, NULL);
		sigaction(SIGUSR2, &sa, NULL);
		sigset_t set;
		sigemptyset(&set);
		sigaddset(&set, SIGUSR1);
		sigaddset(&set, SIGUSR2);
		sigprocmask(SIG_BLOCK, &set, NULL);
		raise(SIGUSR1);
		raise(SIGUSR2);
		int rc = pm_image(file);
		printf("%s %d\n", rc == PM_RESUMED ? "resumed" : "saved", rc);
		sigprocmask(SIG_UNBLOCK, &set, NULL);
		printf("usr1 %d usr2 %d\n", (int)got1, (int)got2);
		return 0;
	}
	if (!strcmp(mode, "prof")) {
		struct itimerval it = {{1, 0}, {100, 0}};
		setitimer(ITIMER_PROF, &it, NULL);
		refused_then_saved(file, prof_off);
		return 0;
	}
	if (!strcmp(mode, "posix")) {
		struct sigevent ev;
		memset(&ev, 0, sizeof ev);
		ev.sigev_notify = SIGEV_NONE;
		if (timer_create(CLOCK_MONOTONIC, &ev, &tid))
			return 3;
		refused_then_saved(file, posix_off);
		return 0;
	}
	if (!strcmp(mode, "flock") || !strcmp(mode, "fcntl")) {
		char path[4096];
		snprintf(path, sizeof path, "%s.lock", file);
		lock_fd = open(path, O_RDWR | O_CREAT, 0600);
		if (lock_fd < 0)
			return 3;
		if (!strcmp(mode, "flock")) {
			if (flock(lock_fd, LOCK_EX))
				return 4;
			refused_then_saved(file, flock_off);
		} else {
			struct flock l = {.l_type = F_WRLCK, .l_whence = SEEK_SET,
					  .l_len = 10};
			if (fcntl(lock_fd, F_SETLK, &l))
				return 4;
			refused_then_saved(file, fcntl_off);
		}
		return 0;
	}
	return 2;
}
