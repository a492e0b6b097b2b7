/*
 * image_trigger.c - images of programs that cannot be changed: on a
 * signal (`pmalloc run --image IMAGE --image-on SIGNAL`, which sets
 * PMALLOC_IMAGE and PMALLOC_IMAGE_ON; `--image-every SECONDS` is the CLI
 * sending that signal periodically).
 *
 * The handler takes the image at whatever instruction the signal
 * interrupted, possibly inside malloc or with a lock held: the writer
 * then allocates nothing, takes no lock (the loader's list is read
 * without its lock, the heap is not walked) and calls no hook.  The
 * handler's frame and the kernel's signal frame are on the stack the
 * image saves, so a resumed process returns from the handler into the
 * interrupted code, as the imaged process does.  The program keeps
 * running after the image; each image replaces the previous one (temp
 * and rename).  A program that installs its own handler for the signal
 * replaces this one.
 */
#include "image.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static char trigger_path[4096];
/* The process the handler is for: a child the program forks inherits the
 * handler, and its image would replace the program's in the same file
 * (a signal sent to the process group, pkill).  In another process the
 * signal does what it would without pmalloc.  A resumed process is the
 * program under a new pid (pm__image_trigger_resumed). */
static long trigger_pid;

/* The last image's end and how long it took (CLOCK_MONOTONIC, ns): a
 * signal that arrives less than that long after the end is let go, so
 * that a program whose image takes longer than `--image-every`'s period
 * (or that is sent the signal faster than it can image) keeps at least
 * half its time, instead of writing images only: each signal that came
 * during a write would be pending when the handler returns. */
static long long last_end, last_took;
/* PMALLOC_IMAGE_EVERY set (by `--image-every`): the signals come from
 * a clock, and one let go is not worth a line; a signal someone sent
 * by hand is. */
static int every_mode;

static long long now_ns(void)
{
	struct timespec t;
	if (clock_gettime(CLOCK_MONOTONIC, &t))
		return 0;
	return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

void pm__image_trigger_resumed(void)
{
	trigger_pid = syscall(SYS_getpid);
	last_end = last_took = 0; /* another boot's clock, maybe */
}

static void on_signal(int sig, siginfo_t *si, void *uc)
{
	(void)si, (void)uc;
	int e = errno;
	long pid = syscall(SYS_getpid);
	if (pid != trigger_pid) {
		struct sigaction dfl;
		memset(&dfl, 0, sizeof dfl);
		dfl.sa_handler = SIG_DFL;
		sigaction(sig, &dfl, NULL);
		/* pending until the handler returns, then its default action */
		syscall(SYS_tgkill, pid, syscall(SYS_gettid), sig);
		errno = e;
		return;
	}
	long long t0 = now_ns();
	if (last_end && t0 >= last_end && t0 - last_end < last_took) {
		if (!every_mode) {
			char line[200];
			size_t n = pm__fmt(line, sizeof line,
					   "pmalloc: image on signal %d not "
					   "written: the last one ended %lu ms "
					   "ago and took %lu ms\n",
					   sig,
					   (unsigned long)((t0 - last_end) /
							   1000000),
					   (unsigned long)(last_took / 1000000));
			pm__write_all(2, line,
				      n < sizeof line ? n : sizeof line - 1);
		}
		errno = e;
		return;
	}
	int rc = pm__image_take(trigger_path, 1);
	if (rc == 0) { /* (a resumed process returns 1 here: its clock is new) */
		last_end = now_ns();
		last_took = last_end - t0;
	}
	if (rc < 0) {
		char line[600];
		size_t n = pm__fmt(line, sizeof line,
				   "pmalloc: image on signal %d not written: "
				   "%s\n",
				   sig, pm_errmsg());
		pm__write_all(2, line, n < sizeof line ? n : sizeof line - 1);
	}
	errno = e;
}

static const struct {
	const char *name;
	int sig;
} names[] = {
	{"HUP", SIGHUP},   {"INT", SIGINT},	  {"QUIT", SIGQUIT},
	{"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"ALRM", SIGALRM},
	{"TERM", SIGTERM}, {"CONT", SIGCONT}, {"WINCH", SIGWINCH},
	{"PWR", SIGPWR},
};

/* "USR1", "SIGUSR1", "10", "RTMIN+3": the signal, or 0. */
static int parse_signal(const char *s)
{
	if (!strncmp(s, "SIG", 3))
		s += 3;
	int base = 0;
	if (!strncmp(s, "RTMIN", 5)) {
		base = SIGRTMIN;
		s += 5;
		if (!*s)
			return base;
		if (*s++ != '+')
			return 0;
	} else {
		for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
			if (!strcmp(s, names[i].name))
				return names[i].sig;
	}
	int v = 0;
	if (!*s)
		return 0;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > 64)
			return 0;
		v = v * 10 + (*s - '0');
	}
	v += base;
	return v >= 1 && v <= SIGRTMAX && v != SIGKILL && v != SIGSTOP &&
			       v != SIGSEGV && v != SIGBUS && v != SIGFPE &&
			       v != SIGILL
		       ? v
		       : 0;
}

/* PMALLOC_IMAGE_PID (set by `pmalloc run`): the process the trigger is
 * for.  The program keeps the variables across an exec (a wrapper's
 * `exec python3`: the same process, which `--image-every` goes on
 * signalling, and which without the handler would die of the signal);
 * its children, other processes, remove them and install nothing.
 * Without it (the variables set by hand) the first process takes them
 * and removes them. */
static int for_this_process(void)
{
	const char *v = pm__env("PMALLOC_IMAGE_PID");
	if (!v)
		return -1;
	long pid = 0;
	for (; *v >= '0' && *v <= '9' && pid < (1L << 32); v++)
		pid = pid * 10 + (*v - '0');
	return !*v && pid == (long)getpid();
}

void pm__image_trigger_startup(void)
{
	const char *path = pm__env("PMALLOC_IMAGE");
	const char *on = pm__env("PMALLOC_IMAGE_ON");
	if (!path || !on)
		return;
	int mine = for_this_process();
	if (!mine) {
		pm__env_remove("PMALLOC_IMAGE");
		pm__env_remove("PMALLOC_IMAGE_ON");
		pm__env_remove("PMALLOC_IMAGE_PID");
		pm__env_remove("PMALLOC_IMAGE_EVERY");
		return;
	}
	every_mode = pm__env("PMALLOC_IMAGE_EVERY") != NULL;
	int sig = parse_signal(on);
	size_t n = strlen(path);
	if (!sig || !n || n >= sizeof trigger_path) {
		pm__warn("PMALLOC_IMAGE_ON=%s PMALLOC_IMAGE=%s: %s", on, path,
			 sig ? "bad file name" : "not a signal pmalloc can use");
		return;
	}
	memcpy(trigger_path, path, n + 1);
	trigger_pid = syscall(SYS_getpid);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_signal;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(sig, &sa, NULL) != 0)
		pm__warn("PMALLOC_IMAGE_ON=%s: cannot install the handler", on);
	/* the program's children are not imaged into the same file */
	if (mine < 0) {
		pm__env_remove("PMALLOC_IMAGE");
		pm__env_remove("PMALLOC_IMAGE_ON");
		pm__env_remove("PMALLOC_IMAGE_EVERY");
	}
}
