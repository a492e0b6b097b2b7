/*
 * cli_image.c - the CLI's view of a process image (`pmalloc info`): the
 * command line it was taken from, the process facts and the mappings with
 * their classes and the bytes saved of each.
 */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <elf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>

typedef unsigned long long ull;

/* Bytes of PAGES sections inside [lo, hi). */
static uint64_t saved_in(const struct pm__ckpt *ck, uint64_t lo, uint64_t hi)
{
	uint64_t n = 0;
	for (uint32_t i = 0; i < ck->h.nsections; i++) {
		const struct pmf_section *s = &ck->sec[i];
		if (s->kind == PMF_SEC_PAGES && s->addr >= lo &&
		    s->addr + s->len <= hi)
			n += s->len;
	}
	return n;
}

/* The descriptors, working directory and umask (the records were checked
 * by pm__image_parse: offsets and lengths inside the section). */
static void cli_image_fds(const struct pm__image *im)
{
	static const char *const cls[] = {"?",	     "read",	  "write",
					  "dir",     "device",	  "stdio",
					  "inherited", "path"};
	const struct pmf_fds *h = (const struct pmf_fds *)im->fds;
	const struct pmf_fd *f = (const struct pmf_fd *)(h + 1);
	const char *str = (const char *)im->fds + h->strings_off;
	printf("  cwd:       %s, umask %03o\n", str + h->cwd_off, h->umask);
	printf("  files:     %u descriptor(s)\n", h->nfds);
	for (uint32_t i = 0; i < h->nfds; i++) {
		printf("    fd %-4d %-9s offset %-10llu %s%s\n", f[i].fd,
		       f[i].class < 8 ? cls[f[i].class] : "?",
		       (ull)f[i].offset, str + f[i].path_off,
		       f[i].class == PMF_FD_WRITE && !f[i].link
			       ? " (contents saved)"
			       : "");
	}
}

void cli_image_info(const struct pm__ckpt *ck, const struct pm__image *im,
		    int verbose)
{
	const struct pmf_proc *p = im->proc;
	printf("\nprocess image:\n");
	printf("  command:   ");
	const char *a = im->str + p->argv;
	for (uint32_t k = 0; k < p->argc; k++) {
		printf("%s%s", k ? " " : "", a);
		a += strlen(a) + 1;
	}
	printf("\n  executable: %s\n", im->str + p->exe);
	printf("  stack:     0x%llx-0x%llx (", (ull)im->stack_addr,
	       (ull)p->stack_top);
	cli_print_size(im->stack_len);
	printf(" saved), thread pointer 0x%llx\n", (ull)p->fsbase);
	printf("  brk:       0x%llx-0x%llx, vdso 0x%llx (%llu bytes)\n",
	       (ull)p->brk_start, (ull)p->brk_end, (ull)p->vdso,
	       (ull)p->vdso_len);
	printf("  records:   %s%s\n", im->signals ? "signals " : "",
	       im->fds ? "descriptors" : "");
	uint32_t counts[5] = {0};
	for (uint32_t i = 0; i < im->nvma; i++)
		counts[im->vma[i].vclass]++;
	printf("  mappings:  %u (%u named, %u copied, %u kernel, 1 stack), "
	       "%u runs of pages\n",
	       im->nvma, counts[PMF_VMA_NAMED], counts[PMF_VMA_COPIED],
	       counts[PMF_VMA_KERNEL], im->npages);
	cli_image_fds(im);
	uint32_t shown = verbose || im->nvma <= 40 ? im->nvma : 40;
	printf("\n  %-18s %-18s %-4s %-7s %12s  %s\n", "from", "to", "prot",
	       "class", "saved", "name");
	for (uint32_t i = 0; i < shown; i++) {
		const struct pmf_vma *v = &im->vma[i];
		uint64_t saved = v->vclass == PMF_VMA_STACK ? im->stack_len
				 : v->vclass == PMF_VMA_COPIED
					 ? saved_in(ck, v->start, v->end)
					 : 0;
		printf("  0x%016llx 0x%016llx %c%c%c  %-7s %12llu  %s\n",
		       (ull)v->start, (ull)v->end,
		       v->prot & PMF_PROT_READ ? 'r' : '-',
		       v->prot & PMF_PROT_WRITE ? 'w' : '-',
		       v->prot & PMF_PROT_EXEC ? 'x' : '-',
		       pm__image_class(v->vclass), (ull)saved,
		       pm__image_name(im, v->name));
	}
	if (shown < im->nvma)
		printf("  ... %u more (-v lists all)\n", im->nvma - shown);
}

/* The variable's value as an absolute path when it is a relative one
 * (cli_resume changes directory before the run reads it). */
static void env_absolute(const char *name)
{
	const char *v = getenv(name);
	if (!v || !*v || v[0] == '/')
		return;
	char *abs = realpath(v, NULL);
	if (abs) {
		setenv(name, abs, 1);
		free(abs);
	}
}

/* LD_PRELOAD's relative entries (separated by ':' or ' ') made absolute. */
static void preload_absolute(void)
{
	const char *v = getenv("LD_PRELOAD");
	if (!v || !*v)
		return;
	size_t cap = strlen(v) * 2 + 4096, n = 0;
	char *out = malloc(cap), *copy = strdup(v);
	if (!out || !copy) {
		free(out);
		free(copy);
		return;
	}
	out[0] = '\0';
	for (char *save = NULL, *e = strtok_r(copy, ": ", &save); e;
	     e = strtok_r(NULL, ": ", &save)) {
		char *abs = e[0] != '/' && strchr(e, '/') ? realpath(e, NULL)
							    : NULL;
		const char *use = abs ? abs : e;
		if (n + strlen(use) + 2 < cap)
			n += (size_t)snprintf(out + n, cap - n, "%s%s",
					      n ? ":" : "", use);
		free(abs);
	}
	setenv("LD_PRELOAD", out, 1);
	free(out);
	free(copy);
}

int cli_resume(int argc, char **argv, int (*run)(int, char **))
{
	int i = 1, no_verify = 0;
	if (i < argc && !strcmp(argv[i], "--no-verify"))
		no_verify = 1, i++;
	if (i + 1 != argc || argv[i][0] == '-') {
		fprintf(stderr, "usage: pmalloc resume [--no-verify] IMAGE\n"
				"\n"
				"Resume IMAGE (written by pm_image) with the "
				"command line it was\ntaken from: `pmalloc "
				"run --resume IMAGE -- ARGS...`.\n");
		return argc == 2 && (!strcmp(argv[1], "--help") ||
				     !strcmp(argv[1], "-h"))
			       ? 0
			       : 2;
	}
	struct pm__ckpt ck;
	struct pm__image im;
	const char *path = argv[i];
	int rc = pm__image_open(path, &ck, &im);
	if (!rc && !im.rec) {
		pm__image_close(&ck, &im);
		fprintf(stderr, "pmalloc resume: %s is a checkpoint, not a "
				"process image\n",
			path);
		return 1;
	}
	/* the command line is the file's: run it only from a file a
	 * resume would trust (its owner and mode), or the writer of an
	 * untrusted image chooses what the user runs */
	if (!rc) {
		const char *any = getenv("PMALLOC_TRUST_ANY_OWNER");
		rc = pm__ckpt_check_trust(&ck, any && !strcmp(any, "1")
							? PM_RESTORE_ANY_OWNER
							: 0);
		if (rc)
			pm__image_close(&ck, &im);
	}
	if (rc) {
		fprintf(stderr, "pmalloc resume: %s: %s: %s\n", path,
			pm_strerror(rc), pm_errmsg());
		return 1;
	}
	const struct pmf_proc *p = im.proc;
	char **av = calloc((size_t)p->argc + 6, sizeof *av);
	if (!av)
		return 127;
	/* The command line runs where the image's process ran: a resume
	 * puts that directory back itself, and a refused one then runs the
	 * program normally, whose relative arguments name files there, not
	 * in the caller's directory.  The image by its full path first. */
	char *abs = realpath(path, NULL);
	if (abs)
		path = abs;
	/* and the paths the run and the resume read from the environment */
	env_absolute("PMALLOC_KEY_FILE");
	env_absolute("PMALLOC_LIB");
	preload_absolute();
	if (im.fds) {
		const struct pmf_fds *h = (const struct pmf_fds *)im.fds;
		const char *cwd = (const char *)im.fds + h->strings_off +
				  h->cwd_off;
		if (cwd[0] == '/' && chdir(cwd) != 0)
			fprintf(stderr, "pmalloc resume: cannot enter the "
					"image's directory %s (%s); running "
					"from here\n",
				cwd, strerror(errno));
	}
	int n = 0;
	av[n++] = "run";
	av[n++] = "--resume";
	av[n++] = (char *)path;
	if (no_verify)
		av[n++] = "--no-verify";
	av[n++] = "--";
	const char *a = im.str + p->argv;
	for (uint32_t k = 0; k < p->argc; k++) {
		av[n++] = strdup(a);
		a += strlen(a) + 1;
	}
	/* argv[0] as the image ran it; the executable by its full path if
	 * argv[0] does not name it from here */
	char *exe = strdup(im.str + p->exe);
	pm__image_close(&ck, &im);
	if (!exe)
		return 127;
	const char *a0 = av[no_verify ? 5 : 4];
	struct stat sa, se;
	if (!strchr(a0, '/') || access(a0, X_OK) != 0 ||
	    /* a relative argv[0] run from another directory may name
	     * another file there */
	    stat(a0, &sa) != 0 || stat(exe, &se) != 0 ||
	    sa.st_dev != se.st_dev || sa.st_ino != se.st_ino)
		setenv("PMALLOC_RESUME_EXE", exe, 1);
	return run(n, av);
}

/* ---- --image, --image-on, --image-every ---------------------------------- */

static int every_sig;

static int signal_number(const char *s)
{
	static const struct {
		const char *n;
		int sig;
	} names[] = {{"HUP", SIGHUP},	{"INT", SIGINT},   {"QUIT", SIGQUIT},
		     {"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"ALRM", SIGALRM},
		     {"TERM", SIGTERM}, {"CONT", SIGCONT}, {"WINCH", SIGWINCH},
		     {"PWR", SIGPWR}};
	if (!strncmp(s, "SIG", 3))
		s += 3;
	if (!strncmp(s, "RTMIN+", 6))
		return SIGRTMIN + atoi(s + 6);
	if (!strcmp(s, "RTMIN"))
		return SIGRTMIN;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (!strcmp(s, names[i].n))
			return names[i].sig;
	return atoi(s);
}

int cli_set_image_env(const char *image, const char *sig)
{
	int n = signal_number(sig);
	if (n <= 0 || n > SIGRTMAX || n == SIGKILL || n == SIGSTOP) {
		fprintf(stderr, "pmalloc run: --image-on %s: not a signal\n",
			sig);
		return -1;
	}
	every_sig = n;
	char num[16];
	snprintf(num, sizeof num, "%d", n);
	/* the file need not exist yet: make its directory absolute */
	char abs[PATH_MAX];
	if (image[0] == '/' || !getcwd(abs, sizeof abs - strlen(image) - 2))
		snprintf(abs, sizeof abs, "%s", image);
	else
		snprintf(abs + strlen(abs), sizeof abs - strlen(abs), "/%s",
			 image);
	setenv("PMALLOC_IMAGE", abs, 1);
	setenv("PMALLOC_IMAGE_ON", num, 1);
	/* the process the trigger is for: this one, which execs the
	 * program (cli_run_every's child sets its own) */
	snprintf(num, sizeof num, "%ld", (long)getpid());
	setenv("PMALLOC_IMAGE_PID", num, 1);
	return 0;
}

/* Does process pid catch signal sig (its SigCgt in /proc/PID/status)?
 * Not before pmalloc installed its handler, nor after an exec into a
 * program without pmalloc: the signal would end it. */
static int catches(pid_t pid, int sig)
{
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	unsigned long long mask = 0;
	int found = 0;
	while (!found && fgets(line, sizeof line, f))
		found = sscanf(line, "SigCgt: %llx", &mask) == 1;
	fclose(f);
	return found && sig >= 1 && sig <= 64 && (mask >> (sig - 1) & 1);
}

static volatile sig_atomic_t forward;

static void on_term(int sig)
{
	forward = sig;
}

int cli_run_every(char **argv, double period)
{
	sigset_t chld, old;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, &old);
	pid_t pid = fork();
	if (pid < 0) {
		perror("pmalloc run: fork");
		return 127;
	}
	if (pid == 0) {
		char num[24];
		snprintf(num, sizeof num, "%ld", (long)getpid());
		setenv("PMALLOC_IMAGE_PID", num, 1);
		/* the signals come from this clock: one the program lets go
		 * (it came too soon after the last image) is not reported */
		setenv("PMALLOC_IMAGE_EVERY", "1", 1);
		sigprocmask(SIG_SETMASK, &old, NULL);
		execvp(argv[0], argv);
		fprintf(stderr, "pmalloc run: cannot run %s: %s\n", argv[0],
			strerror(errno));
		_exit(127);
	}
	/* the terminal's ^C and ^\ reach the child too; TERM and HUP are
	 * passed on */
	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	struct timespec next;
	clock_gettime(CLOCK_MONOTONIC, &next);
	for (;;) {
		long long ns = (long long)(period * 1e9);
		next.tv_sec += ns / 1000000000;
		next.tv_nsec += ns % 1000000000;
		if (next.tv_nsec >= 1000000000)
			next.tv_sec++, next.tv_nsec -= 1000000000;
		for (;;) {
			struct timespec now, left;
			clock_gettime(CLOCK_MONOTONIC, &now);
			left.tv_sec = next.tv_sec - now.tv_sec;
			left.tv_nsec = next.tv_nsec - now.tv_nsec;
			if (left.tv_nsec < 0)
				left.tv_sec--, left.tv_nsec += 1000000000;
			if (left.tv_sec < 0)
				break;
			int s = sigtimedwait(&chld, NULL, &left);
			if (forward) {
				kill(pid, forward);
				forward = 0;
			}
			if (s == SIGCHLD) {
				int st;
				if (waitpid(pid, &st, WNOHANG) == pid)
					return WIFEXITED(st)
						       ? WEXITSTATUS(st)
						       : 128 + WTERMSIG(st);
			}
		}
		/* (an exec between this look and the signal is not covered) */
		if (catches(pid, every_sig))
			kill(pid, every_sig);
	}
}

/* ---- run --resume of a program pmalloc will not be loaded into -------- */

/* The file execvp would run for name (a name with a slash as it is). */
static char *find_program(const char *name)
{
	if (strchr(name, '/'))
		return strdup(name);
	const char *path = getenv("PATH");
	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		const char *end = strchr(path, ':');
		size_t n = end ? (size_t)(end - path) : strlen(path);
		char *f = malloc(n + strlen(name) + 3);
		if (!f)
			return NULL;
		snprintf(f, n + strlen(name) + 3, "%.*s/%s", (int)n,
			 n ? path : ".", name);
		if (access(f, X_OK) == 0)
			return f;
		free(f);
		path += n + (end != NULL);
	}
	return NULL;
}

/* 1 if the ELF file f has no program interpreter (statically linked), 0
 * if it has one or is not a 64-bit ELF file (a script: its interpreter
 * is what runs). */
static int is_static_elf(const char *f)
{
	int fd = open(f, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	Elf64_Ehdr eh;
	int st = 0;
	if (pread(fd, &eh, sizeof eh, 0) == (ssize_t)sizeof eh &&
	    !memcmp(eh.e_ident, ELFMAG, SELFMAG) &&
	    eh.e_ident[EI_CLASS] == ELFCLASS64 &&
	    eh.e_phentsize == sizeof(Elf64_Phdr) && eh.e_phnum < 256) {
		st = 1;
		for (unsigned i = 0; i < eh.e_phnum && st; i++) {
			Elf64_Phdr ph;
			if (pread(fd, &ph, sizeof ph,
				  (off_t)(eh.e_phoff + i * sizeof ph)) !=
			    (ssize_t)sizeof ph)
				st = 0; /* unreadable: not ours to say */
			else if (ph.p_type == PT_INTERP)
				st = 0;
		}
	}
	close(fd);
	return st;
}

/* If f is a script ("#!"), its interpreter's path (for "#!/usr/bin/env
 * NAME", NAME found in PATH; "" when it cannot be told), to free; NULL
 * when f is no script. */
static char *script_interpreter(const char *f)
{
	char head[256];
	int fd = open(f, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	ssize_t n = read(fd, head, sizeof head - 1);
	close(fd);
	if (n < 2 || head[0] != '#' || head[1] != '!')
		return NULL;
	head[n] = '\0';
	char *save = NULL, *line = strtok_r(head + 2, "\n", &save);
	char *w = line ? strtok_r(line, " \t", &save) : NULL;
	if (w && !strcmp(w, "/usr/bin/env"))
		w = strtok_r(NULL, " \t", &save);
	if (!w)
		return strdup("");
	char *prog = find_program(w); /* (a name with a slash as it is) */
	return prog ? prog : strdup("");
}

void cli_resume_precheck(const char *file, const char *image)
{
	char *f = find_program(file);
	struct stat st;
	if (!f || stat(f, &st) != 0) {
		free(f);
		return; /* the exec reports it */
	}
	/* A wrapper script (pyenv's shims, `exec python3 "$@"`) is resumed
	 * in its interpreter's process, which is not the image's program:
	 * refused there, and the program it then runs gets no image.  Say
	 * what to run instead; the library still says why it refused. */
	struct pm__ckpt ck;
	struct pm__image im;
	char *interp = image ? script_interpreter(f) : NULL;
	if (interp && !pm__image_open(image, &ck, &im)) {
		if (im.rec && im.proc) {
			const char *exe = im.str + im.proc->exe;
			struct stat se, si;
			/* the kernel runs the interpreter named on the "#!"
			 * line with the script as its argument: the image's
			 * program itself, if it is that one */
			if (stat(exe, &se) != 0 || stat(interp, &si) != 0 ||
			    se.st_dev != si.st_dev || se.st_ino != si.st_ino)
				fprintf(stderr,
					"pmalloc: %s is a script, not %s, "
					"which the image was made by: the "
					"script's interpreter cannot resume "
					"it (`pmalloc resume %s` runs the "
					"image's own command line)\n",
					f, exe, image);
		}
		pm__image_close(&ck, &im);
	}
	free(interp);
	const char *why = NULL;
	if ((st.st_mode & S_ISUID) && st.st_uid != geteuid())
		why = "is set-user-ID: the loader does not preload pmalloc "
		      "into a program that gains privileges";
	else if ((st.st_mode & S_ISGID) && st.st_gid != getegid())
		why = "is set-group-ID: the loader does not preload pmalloc "
		      "into a program that gains privileges";
	else if (is_static_elf(f))
		why = "is statically linked: pmalloc is not loaded into it";
	if (why)
		fprintf(stderr, "pmalloc: not resumed: %s %s; it runs "
				"normally\n",
			f, why);
	free(f);
}
