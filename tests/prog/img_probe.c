/*
 * img_probe.c - what a refused resume must leave as it was
 * (tests/attack_img_untouched.sh).
 *
 *   img_probe IMAGE INPUT
 * With MAKE=1: moves the break, reads 100 bytes of INPUT, installs a
 * SIGUSR1 handler, chdir()s to INPUT's directory, writes out.txt there
 * (left open), sets the umask, and calls pm_image(IMAGE); then exits
 * (resumed: prints what it wrote at the break, and where the break is).  Otherwise (a normal run, also the one
 * after a refused resume) it prints, first thing in main, the state a
 * resume touches: /proc/self/maps, every descriptor (its target, flags,
 * offset), the working directory, the umask, the break, and every
 * signal's disposition.
 */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <pmalloc.h>

static void on_usr1(int sig)
{
	(void)sig;
}

static void dump(void)
{
	char line[4096], link[4096], path[64];
	FILE *m = fopen("/proc/self/maps", "r");
	while (m && fgets(line, sizeof line, m))
		printf("map %s", line);
	if (m)
		fclose(m);
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int self = d ? dirfd(d) : -1;
	while (d && (e = readdir(d))) {
		int fd = atoi(e->d_name);
		if (e->d_name[0] == '.' || fd == self)
			continue;
		snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
		ssize_t n = readlink(path, link, sizeof link - 1);
		link[n > 0 ? n : 0] = '\0';
		printf("fd %d %s fl %x fd %x off %lld\n", fd, link,
		       fcntl(fd, F_GETFL), fcntl(fd, F_GETFD),
		       (long long)lseek(fd, 0, SEEK_CUR));
	}
	if (d)
		closedir(d);
	if (getcwd(line, sizeof line))
		printf("cwd %s\n", line);
	mode_t u = umask(0);
	umask(u);
	printf("umask %03o\nbrk %p\n", (unsigned)u, sbrk(0));
	for (int s = 1; s < 65; s++) {
		struct sigaction sa;
		if (sigaction(s, NULL, &sa) == 0)
			printf("sig %d %p %x %lx\n", s, (void *)sa.sa_handler,
			       sa.sa_flags, *(unsigned long *)&sa.sa_mask);
	}
	sigset_t cur;
	sigprocmask(SIG_BLOCK, NULL, &cur);
	printf("mask %lx\n", *(unsigned long *)&cur);
	sigset_t pend;
	sigpending(&pend);
	printf("pending %lx\n", *(unsigned long *)&pend);
	/* the interval timers: armed or not, and their intervals (the time
	 * left differs from run to run) */
	for (int w = ITIMER_REAL; w <= ITIMER_PROF; w++) {
		struct itimerval it;
		if (getitimer(w, &it) == 0)
			printf("itimer %d armed %d every %ld.%06ld\n", w,
			       it.it_value.tv_sec || it.it_value.tv_usec,
			       (long)it.it_interval.tv_sec,
			       (long)it.it_interval.tv_usec);
	}
}

int main(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	if (!getenv("MAKE")) {
		dump();
		return 0;
	}
	char *heap = sbrk(5 * 4096);
	if (heap == (void *)-1)
		return 3;
	memcpy(heap + 4 * 4096, "brk!", 5);
	int in = open(argv[2], O_RDONLY);
	char buf[100];
	if (in < 0 || read(in, buf, sizeof buf) != (ssize_t)sizeof buf)
		return 3;
	signal(SIGUSR1, on_usr1);
	char *slash = strrchr(argv[2], '/');
	if (slash) {
		*slash = '\0';
		if (chdir(argv[2]))
			return 3;
	}
	int out = open("out.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (out < 0 || write(out, "made\n", 5) != 5)
		return 3;
	umask(027);
	int rc = pm_image(argv[1]);
	fprintf(stderr, "pm_image = %d\n", rc);
	if (rc == 1) /* resumed: the break and what the program put there */
		printf("%s %s\n", heap + 4 * 4096,
		       sbrk(0) == heap + 5 * 4096 ? "at the break" : "moved");
	return rc < 0;
}
