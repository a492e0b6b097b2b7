/*
 * image_seed.c - writes the process images of fuzz/corpus (make
 * fuzz-image-corpus): a small process with every kind of record a writer
 * makes.  `image_seed OUT.img DIR`, run under `pmalloc run` with
 * address-space randomisation off: in DIR it reads one file, writes
 * another, keeps the directory, /dev/null and an O_PATH descriptor open,
 * installs a handler (SA_SIGINFO, on an alternate stack) and ignores
 * SIGPIPE, sets a umask, then calls pm_image(OUT.img) and exits.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <pmalloc.h>

static volatile sig_atomic_t got;

static void on_usr1(int sig, siginfo_t *si, void *uc)
{
	(void)si;
	(void)uc;
	got = sig;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: image_seed OUT.img DIR\n");
		return 2;
	}
	if (chdir(argv[2]))
		return 3;
	FILE *in = fopen("in.txt", "w");
	if (!in || fputs("the input of image_seed\nsecond line\n", in) < 0 ||
	    fclose(in))
		return 4;
	int r = open("in.txt", O_RDONLY);
	char buf[8];
	if (r < 0 || read(r, buf, sizeof buf) != sizeof buf)
		return 5;
	int w = open("out.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (w < 0 || write(w, "written before the image\n", 25) != 25)
		return 6;
	int d = open(".", O_RDONLY | O_DIRECTORY);
	int n = open("/dev/null", O_WRONLY | O_CLOEXEC);
	int p = open("in.txt", O_PATH);
	if (d < 0 || n < 0 || p < 0)
		return 7;
	static char alt[16384];
	stack_t ss = {.ss_sp = alt, .ss_size = sizeof alt};
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_usr1;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
	sigaddset(&sa.sa_mask, SIGUSR2);
	if (sigaltstack(&ss, NULL) || sigaction(SIGUSR1, &sa, NULL) ||
	    signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		return 8;
	umask(027);
	char *heap = malloc(1000);
	strcpy(heap, "a block on the heap");
	int rc = pm_image(argv[1]);
	if (rc < 0) {
		fprintf(stderr, "pm_image: %d %s\n", rc, pm_errmsg());
		return 1;
	}
	return 0;
}
