/*
 * u_image_kstate.c - the kernel state of a process image (src/image_kstate*.c):
 * capture in this process, then serialize -> prepare -> apply in a forked
 * child whose state was made different, and check the child's state is the
 * captured one; every refusal of capture and of prepare, and that a refused
 * or undone prepare leaves the descriptor table and the directory as they
 * were.
 *
 * Run as `u_image_kstate --inherit` (by the test itself, through exec) it
 * checks the descriptors open at start-up are taken as inherited.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <sys/personality.h>
#include "testlib.h"
#include "internal.h"
#include "image_kstate.h"
#include "sha256.h"

static char dir[256];
static char in_path[PATH_MAX], out_path[PATH_MAX], ro_path[PATH_MAX];
static volatile sig_atomic_t got_usr1;
static char altstack[65536] __attribute__((aligned(16)));
enum { FD_DIR = 20, FD_RO = 21, FD_EXTRA = 40, FD_KEEP = 45 };

static void on_usr1(int sig)
{
	(void)sig;
	got_usr1++;
}

/* ---- helpers ------------------------------------------------------------- */

static void put_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, s, strlen(s)) != (ssize_t)strlen(s) || close(fd)) {
		perror(path);
		exit(2);
	}
}

/* The bytes of a file (static buffer) and their count. */
static const char *get_file(const char *path, size_t *n)
{
	static char buf[65536];
	int fd = open(path, O_RDONLY);
	*n = 0;
	if (fd < 0)
		return NULL;
	ssize_t r;
	while ((r = read(fd, buf + *n, sizeof buf - 1 - *n)) > 0)
		*n += (size_t)r;
	close(fd);
	buf[*n] = '\0';
	return buf;
}

/* "fd->target;" for every descriptor but the listing's own. */
static void fd_table(char *out, size_t len)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	size_t at = 0;
	out[0] = '\0';
	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.' || atoi(e->d_name) == dirfd(d))
			continue;
		char p[300], l[PATH_MAX];
		snprintf(p, sizeof p, "/proc/self/fd/%s", e->d_name);
		ssize_t n = readlink(p, l, sizeof l - 1);
		l[n < 0 ? 0 : n] = '\0';
		at += (size_t)snprintf(out + at, len - at, "%s->%s;", e->d_name, l);
	}
	if (d)
		closedir(d);
}

static void dir_list(char *out, size_t len)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t at = 0;
	out[0] = '\0';
	while (d && (e = readdir(d)))
		at += (size_t)snprintf(out + at, len - at, "%s;", e->d_name);
	if (d)
		closedir(d);
}

/* The image's sections as a reader would have them: copies. */
struct image {
	void *sig, *fds;
	size_t sig_len, fds_len;
	struct pm__ks_blob fdata[8];
	uint32_t nfdata;
};

static int sink(void *ctx, const void *p, size_t n)
{
	unsigned char **at = ctx;
	memcpy(*at, p, n);
	*at += n;
	return 0;
}

static void *copy(const void *p, size_t n)
{
	void *q = malloc(n ? n : 1);
	memcpy(q, p, n);
	return q;
}

static int capture(struct image *im, const int *skip, int nskip)
{
	static void *scratch;
	if (!scratch)
		scratch = mmap(NULL, PM__KS_SCRATCH, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct pm__ks_capture c;
	int rc = pm__ks_capture(scratch, PM__KS_SCRATCH, skip, nskip, 0, &c);
	if (rc)
		return rc;
	memset(im, 0, sizeof *im);
	im->sig = copy(c.signals, c.signals_len);
	im->sig_len = c.signals_len;
	im->fds = copy(c.fds, c.fds_len);
	im->fds_len = c.fds_len;
	for (uint32_t i = 0; i < c.nfiledata && i < 8; i++) {
		struct pmf_filedata h;
		CHECK_EQ(pm__ks_filedata(&c, i, &h), 0);
		unsigned char *b = malloc(sizeof h + h.len + 1), *at = b + sizeof h;
		memcpy(b, &h, sizeof h);
		char buf[100];
		CHECK_EQ(pm__ks_copy_file(h.fd, h.len, buf, sizeof buf, sink, &at), 0);
		im->fdata[i].p = b;
		im->fdata[i].len = sizeof h + h.len;
		im->nfdata++;
	}
	struct pmf_filedata h;
	CHECK_EQ(pm__ks_filedata(&c, c.nfiledata, &h), -ENOENT);
	return 0;
}

static void image_free(struct image *im)
{
	free(im->sig);
	free(im->fds);
	for (uint32_t i = 0; i < im->nfdata; i++)
		free((void *)im->fdata[i].p);
	memset(im, 0, sizeof *im);
}

static const struct pmf_fd *rec_of(const struct image *im, int fd)
{
	const struct pmf_fds *h = im->fds;
	const struct pmf_fd *r = (const struct pmf_fd *)(h + 1);
	for (uint32_t i = 0; i < h->nfds; i++)
		if (r[i].fd == fd)
			return &r[i];
	return NULL;
}

static const char *path_of(const struct image *im, const struct pmf_fd *r)
{
	const struct pmf_fds *h = im->fds;
	return (const char *)im->fds + h->strings_off + r->path_off;
}

static struct pm__ks_plan *plan_mem(const struct image *im, size_t *n)
{
	*n = pm__ks_plan_size(im->fds, im->fds_len);
	return *n ? aligned_alloc(64, (*n + 63) & ~(size_t)63) : NULL;
}

/* prepare; on success undo at once.  The descriptor table and the
 * directory must be as before either way. */
static int prepare_undo(const struct image *im, const char *what)
{
	char t0[8192], t1[8192], d0[8192], d1[8192];
	fd_table(t0, sizeof t0);
	dir_list(d0, sizeof d0);
	size_t n;
	void *mem = plan_mem(im, &n);
	struct pm__ks_plan *pl = NULL;
	int rc = pm__ks_prepare(im->sig, im->sig_len, im->fds, im->fds_len,
				im->fdata, im->nfdata, NULL, 0, mem, n, &pl);
	if (rc == 0) {
		CHECK_PTR_NE(pl, NULL);
		pm__ks_undo(pl);
	} else {
		CHECK_PTR_EQ(pl, NULL);
	}
	free(mem);
	fd_table(t1, sizeof t1);
	dir_list(d1, sizeof d1);
	CHECK_MSG(!strcmp(t0, t1), "%s: fd table %s became %s", what, t0, t1);
	CHECK_MSG(!strcmp(d0, d1), "%s: directory %s became %s", what, d0, d1);
	return rc;
}

/* ---- the state captured ---------------------------------------------------- */

static FILE *fin, *fout;
static int fin_fd, fout_fd;
static size_t out_bytes;
static off_t dir_pos;

static void set_up(void)
{
	snprintf(dir, sizeof dir, "/tmp/u_image_kstate.XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		exit(2);
	}
	snprintf(in_path, sizeof in_path, "%s/in.txt", dir);
	snprintf(out_path, sizeof out_path, "%s/out.txt", dir);
	snprintf(ro_path, sizeof ro_path, "%s/ro.txt", dir);
	char text[2000];
	size_t at = 0;
	for (int i = 0; i < 200; i++)
		at += (size_t)snprintf(text + at, sizeof text - at, "line %03d\n", i);
	put_file(in_path, text);
	put_file(ro_path, "0123456789abcdef\n");

	/* a file read half-way through stdio: 3 lines consumed, the rest
	 * read ahead into the FILE's buffer */
	fin = fopen(in_path, "r");
	char line[64];
	for (int i = 0; i < 3; i++)
		CHECK(fgets(line, sizeof line, fin) != NULL);
	fin_fd = fileno(fin);
	CHECK_EQ(lseek(fin_fd, 0, SEEK_CUR), 1800); /* all of it read ahead */
	/* a file written with fprintf */
	fout = fopen(out_path, "w");
	for (int i = 0; i < 5; i++)
		fprintf(fout, "output %d\n", i);
	fflush(fout);
	out_bytes = 5 * 9;
	fout_fd = fileno(fout);
	/* a directory at 20, a close-on-exec read file at 21 read 5 bytes */
	int d = open(dir, O_RDONLY | O_DIRECTORY);
	CHECK_EQ(dup2(d, FD_DIR), FD_DIR);
	close(d);
	char dents[64]; /* a directory read part-way: a position to keep */
	CHECK_GT(syscall(SYS_getdents64, FD_DIR, dents, sizeof dents), 0);
	dir_pos = lseek(FD_DIR, 0, SEEK_CUR);
	int r = open(ro_path, O_RDONLY);
	CHECK_EQ(dup3(r, FD_RO, O_CLOEXEC), FD_RO);
	close(r);
	char five[5];
	CHECK_EQ(read(FD_RO, five, 5), 5);

	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1;
	sa.sa_flags = SA_RESTART | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGUSR2);
	CHECK_EQ(sigaction(SIGUSR1, &sa, NULL), 0);
	signal(SIGPIPE, SIG_IGN);
	stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0};
	CHECK_EQ(sigaltstack(&ss, NULL), 0);
	CHECK_EQ(chdir(dir), 0);
	umask(027);
}

static void check_captured(const struct image *im)
{
	const struct pmf_fds *h = im->fds;
	CHECK_EQ(pm__ks_check_records(im->sig, im->sig_len, im->fds, im->fds_len,
				      im->fdata, im->nfdata), 0);
	CHECK_EQ(h->umask, 027u);
	CHECK_STR_EQ((const char *)im->fds + h->strings_off + h->cwd_off, dir);
	const struct pmf_fd *r = rec_of(im, fin_fd);
	CHECK(r != NULL);
	if (r) {
		CHECK_EQ(r->class, (uint32_t)PMF_FD_READ);
		CHECK_EQ(r->offset, 27u); /* consumed, not read ahead */
		CHECK_STR_EQ(path_of(im, r), in_path);
		unsigned char want[32];
		pm__sha256("line 000\nline 001\nline 002\n", 27, want);
		CHECK(!memcmp(want, r->sha256, 32));
		CHECK_EQ(r->fdflags, 0u);
	}
	/* the FILE's read-ahead was dropped, the stream goes on */
	CHECK_EQ(lseek(fin_fd, 0, SEEK_CUR), 27);
	CHECK_EQ(ftell(fin), 27);
	r = rec_of(im, fout_fd);
	CHECK(r != NULL);
	if (r) {
		CHECK_EQ(r->class, (uint32_t)PMF_FD_WRITE);
		CHECK_EQ(r->offset, out_bytes);
		CHECK_EQ(r->data_len, out_bytes);
		CHECK_EQ(r->link, 0u);
	}
	CHECK_EQ(im->nfdata, 1u);
	if (im->nfdata)
		CHECK(!memcmp((const char *)im->fdata[0].p + 32, "output 0\noutput 1\n", 18));
	r = rec_of(im, FD_DIR);
	CHECK(r && r->class == PMF_FD_DIR);
	CHECK_GT(dir_pos, 0);
	CHECK(r && r->offset == (uint64_t)dir_pos);
	r = rec_of(im, FD_RO);
	CHECK(r && r->class == PMF_FD_READ && r->fdflags == FD_CLOEXEC && r->offset == 5);
	for (int fd = 0; fd <= 2; fd++) {
		r = rec_of(im, fd);
		CHECK_MSG(!r || r->class == PMF_FD_INHERITED, "fd %d class %u", fd,
			  r ? r->class : 0);
	}
	const struct pmf_signals *s = im->sig;
	CHECK_EQ(s->act[SIGUSR1 - 1].handler, (uint64_t)(uintptr_t)on_usr1);
	CHECK(s->act[SIGUSR1 - 1].flags & SA_RESTART);
	CHECK(s->act[SIGUSR1 - 1].mask & (1ull << (SIGUSR2 - 1)));
	CHECK_EQ(s->act[SIGPIPE - 1].handler, 1u);
	CHECK_EQ(s->ss_sp, (uint64_t)(uintptr_t)altstack);
	CHECK_EQ(s->ss_size, sizeof altstack);
	CHECK_EQ(s->ss_flags, 0u);
}

/* ---- the resume, in a child ------------------------------------------------ */

static void resume_child(const struct image *im)
{
	/* another state: handlers, altstack, cwd, umask, descriptors */
	signal(SIGUSR1, SIG_IGN);
	signal(SIGPIPE, SIG_DFL);
	stack_t off = {.ss_flags = SS_DISABLE};
	sigaltstack(&off, NULL);
	CHECK_EQ(chdir("/"), 0);
	umask(0);
	close(fin_fd);
	close(FD_RO);
	int x = open("/dev/null", O_RDONLY);
	CHECK_EQ(dup2(x, FD_EXTRA), FD_EXTRA);
	CHECK_EQ(dup2(x, FD_RO), FD_RO); /* taken by something else */
	CHECK_EQ(dup2(x, FD_KEEP), FD_KEEP); /* the caller's: kept */
	CHECK_EQ(dup2(x, FD_KEEP + 1), FD_KEEP + 1); /* kept, said late */
	close(x);

	size_t n;
	void *mem = plan_mem(im, &n);
	struct pm__ks_plan *pl = NULL;
	int keep = FD_KEEP;
	int rc = pm__ks_prepare(im->sig, im->sig_len, im->fds, im->fds_len,
				im->fdata, im->nfdata, &keep, 1, mem, n, &pl);
	CHECK_EQ(pm__ks_plan_keep(pl, FD_KEEP + 1), 0);
	CHECK_MSG(rc == 0, "prepare: %d %s", rc, pm_errmsg());
	if (rc)
		_exit(1);
	int step = -1;
	rc = pm__ks_apply(pl, &step);
	CHECK_MSG(rc == 0, "apply: %d at step %d", rc, step);

	/* the read file: same number, logical offset, the file's contents now */
	CHECK_EQ(fcntl(fin_fd, F_GETFL) & O_ACCMODE, O_RDONLY);
	CHECK_EQ(fcntl(fin_fd, F_GETFD), 0);
	CHECK_EQ(lseek(fin_fd, 0, SEEK_CUR), 27);
	char line[64] = "";
	CHECK(fgets(line, sizeof line, fin) != NULL);
	CHECK_STR_EQ(line, "LINE 003\n");
	/* the written file: its contents at the image, offset at its end */
	size_t len;
	const char *o = get_file(out_path, &len);
	CHECK_EQ(len, out_bytes);
	CHECK(o && !memcmp(o, "output 0\noutput 1\noutput 2\noutput 3\noutput 4\n", out_bytes));
	CHECK_EQ(fcntl(fout_fd, F_GETFL) & O_ACCMODE, O_WRONLY);
	CHECK_EQ(lseek(fout_fd, 0, SEEK_CUR), (off_t)out_bytes);
	fprintf(fout, "output 5\n");
	fflush(fout);
	o = get_file(out_path, &len);
	CHECK_EQ(len, out_bytes + 9);
	/* the directory, the close-on-exec file, the extra one closed */
	struct stat st;
	CHECK(fstat(FD_DIR, &st) == 0 && S_ISDIR(st.st_mode));
	CHECK_EQ(lseek(FD_DIR, 0, SEEK_CUR), dir_pos);
	CHECK_EQ(fcntl(FD_RO, F_GETFD), FD_CLOEXEC);
	CHECK_EQ(lseek(FD_RO, 0, SEEK_CUR), 5);
	char c = 0;
	CHECK(read(FD_RO, &c, 1) == 1 && c == '5');
	CHECK_EQ(fcntl(FD_EXTRA, F_GETFD), -1);
	CHECK_EQ(fcntl(FD_EXTRA + 1, F_GETFD), -1);
	CHECK_GE(fcntl(FD_KEEP, F_GETFD), 0);
	CHECK_GE(fcntl(FD_KEEP + 1, F_GETFD), 0);
	/* nothing prepared is left open */
	char t[8192];
	fd_table(t, sizeof t);
	for (int fd = 1000; fd < 1100; fd++)
		CHECK_MSG(fcntl(fd, F_GETFD) < 0, "fd %d open: %s", fd, t);
	/* handlers, altstack, cwd, umask */
	struct sigaction sa;
	sigaction(SIGUSR1, NULL, &sa);
	CHECK_PTR_EQ((void *)sa.sa_handler, (void *)on_usr1);
	CHECK(sa.sa_flags & SA_RESTART);
	CHECK(sigismember(&sa.sa_mask, SIGUSR2));
	sigaction(SIGPIPE, NULL, &sa);
	CHECK_PTR_EQ((void *)sa.sa_handler, (void *)SIG_IGN);
	got_usr1 = 0;
	raise(SIGUSR1);
	CHECK_EQ(got_usr1, 1);
	stack_t ss;
	sigaltstack(NULL, &ss);
	CHECK_PTR_EQ(ss.ss_sp, (void *)altstack);
	CHECK_EQ(ss.ss_size, sizeof altstack);
	char cwd[PATH_MAX];
	CHECK(getcwd(cwd, sizeof cwd) != NULL);
	CHECK_STR_EQ(cwd, dir);
	mode_t um = umask(0);
	CHECK_EQ(um, 027);
	/* no temporary left in the directory */
	char l[8192];
	dir_list(l, sizeof l);
	CHECK_MSG(!strstr(l, ".pmks-"), "left: %s", l);
}

static int run_child(void (*fn)(const struct image *), const struct image *im)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		test_failures = 0;
		test_checks = 0;
		fn(im);
		fprintf(stderr, "(child) ");
		int rc = test_end();
		fflush(NULL);
		_exit(rc);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	return st;
}

/* ---- written files: O_RDWR, O_APPEND, dup'ed, read back ------------------- */

static void written_child(const struct image *unused)
{
	(void)unused;
	char w2[PATH_MAX], app[PATH_MAX];
	snprintf(w2, sizeof w2, "%s/w2.txt", dir);
	snprintf(app, sizeof app, "%s/app.txt", dir);
	int a = open(w2, O_RDWR | O_CREAT | O_TRUNC, 0640);
	CHECK_EQ(write(a, "abcdef", 6), 6);
	int b = open(w2, O_RDWR); /* the same file again (a dup of a is
				   * refused: image_dupfd.sh) */
	CHECK_EQ(lseek(b, 6, SEEK_SET), 6);
	int c = open(w2, O_RDONLY); /* the output read back */
	CHECK_EQ(lseek(c, 2, SEEK_SET), 2);
	int d = open(app, O_WRONLY | O_APPEND | O_CREAT | O_TRUNC, 0600);
	CHECK_EQ(write(d, "log1\n", 5), 5);
	struct image im;
	memset(&im, 0, sizeof im);
	if (capture(&im, NULL, 0)) {
		CHECK_MSG(0, "capture: %s", pm_errmsg());
		return;
	}
	const struct pmf_fd *ra = rec_of(&im, a), *rb = rec_of(&im, b),
			    *rc_ = rec_of(&im, c), *rd = rec_of(&im, d);
	CHECK(ra && ra->class == PMF_FD_WRITE && !ra->link && ra->data_len == 6);
	CHECK(ra && (ra->oflags & O_ACCMODE) == O_RDWR && (ra->mode & 0777) == 0640);
	CHECK(rb && rb->class == PMF_FD_WRITE && rb->link && rb->data_len == 0);
	CHECK(rc_ && rc_->class == PMF_FD_READ && rc_->link && rc_->offset == 2);
	CHECK(rd && rd->class == PMF_FD_WRITE && (rd->oflags & O_APPEND));
	CHECK_EQ(im.nfdata, 2u);
	/* the run goes on and changes both */
	CHECK_EQ(write(a, "zzzzzz", 6), 6);
	CHECK_EQ(write(d, "log2\n", 5), 5);
	close(a), close(b), close(c), close(d);
	unlink(w2);

	size_t n;
	void *mem = plan_mem(&im, &n);
	struct pm__ks_plan *pl = NULL;
	int rc = pm__ks_prepare(im.sig, im.sig_len, im.fds, im.fds_len, im.fdata,
				im.nfdata, NULL, 0, mem, n, &pl);
	CHECK_MSG(rc == 0, "prepare: %d %s", rc, pm_errmsg());
	if (rc)
		return;
	int step;
	CHECK_EQ(pm__ks_apply(pl, &step), 0);
	size_t len;
	const char *t = get_file(w2, &len);
	CHECK(t && len == 6 && !memcmp(t, "abcdef", 6));
	struct stat st;
	CHECK(stat(w2, &st) == 0 && (st.st_mode & 0777) == 0640);
	t = get_file(app, &len);
	CHECK(t && len == 5 && !memcmp(t, "log1\n", 5));
	CHECK_EQ(lseek(a, 0, SEEK_CUR), 6);
	CHECK_EQ(lseek(b, 0, SEEK_CUR), 6);
	CHECK_EQ(fcntl(a, F_GETFL) & O_ACCMODE, O_RDWR);
	CHECK_EQ(fcntl(d, F_GETFL) & O_APPEND, O_APPEND);
	CHECK_EQ(write(a, "gh", 2), 2);
	char buf[8] = "";
	CHECK_EQ(read(c, buf, 6), 6); /* the same file as a's */
	CHECK(!memcmp(buf, "cdefgh", 6));
	CHECK_EQ(write(d, "log3\n", 5), 5);
	t = get_file(app, &len);
	CHECK(t && len == 10 && !memcmp(t, "log1\nlog3\n", 10));
	image_free(&im);
}

/* A syscall of apply failing: the step is reported (the restorer then
 * ends the process).  The temporary of a written file removed behind
 * prepare's back makes the rename fail. */
static void apply_fails_child(const struct image *unused)
{
	(void)unused;
	char w[PATH_MAX];
	snprintf(w, sizeof w, "%s/w3.txt", dir);
	int a = open(w, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK_EQ(write(a, "x", 1), 1);
	struct image im;
	memset(&im, 0, sizeof im);
	if (capture(&im, NULL, 0)) {
		CHECK_MSG(0, "capture: %s", pm_errmsg());
		return;
	}
	size_t n;
	void *mem = plan_mem(&im, &n);
	struct pm__ks_plan *pl = NULL;
	int rc = pm__ks_prepare(im.sig, im.sig_len, im.fds, im.fds_len, im.fdata,
				im.nfdata, NULL, 0, mem, n, &pl);
	CHECK_MSG(rc == 0, "prepare: %d %s", rc, pm_errmsg());
	if (rc)
		return;
	DIR *d = opendir(dir);
	struct dirent *e;
	int removed = 0;
	while (d && (e = readdir(d)))
		if (!strncmp(e->d_name, ".pmks-", 6)) {
			char t[PATH_MAX + 300];
			snprintf(t, sizeof t, "%s/%s", dir, e->d_name);
			removed += unlink(t) == 0;
		}
	if (d)
		closedir(d);
	CHECK_EQ(removed, 1);
	int step = 0;
	rc = pm__ks_apply(pl, &step);
	CHECK_EQ(rc, -ENOENT);
	CHECK_EQ(step, PM__KS_STEP_RENAME);
	unlink(w);
}

/* ---- capture from a signal handler ----------------------------------------- */

static struct image sig_im;
static int sig_rc;

static void on_usr2(int sig)
{
	(void)sig;
	static char scratch[PM__KS_SCRATCH] __attribute__((aligned(64)));
	struct pm__ks_capture c;
	sig_rc = pm__ks_capture(scratch, sizeof scratch, NULL, 0,
				PM__KS_FROM_SIGNAL, &c);
	if (!sig_rc) { /* copies made after the handler would be as good */
		sig_im.fds = scratch + ((const char *)c.fds - scratch);
		sig_im.fds_len = c.fds_len;
	}
}

static void signal_capture(void)
{
	char line[64];
	FILE *f = fopen(in_path, "r");
	CHECK(fgets(line, sizeof line, f) != NULL);
	signal(SIGUSR2, on_usr2);
	raise(SIGUSR2);
	CHECK_EQ(sig_rc, 0);
	const struct pmf_fd *r = sig_rc ? NULL : rec_of(&sig_im, fileno(f));
	/* the kernel's offset: what stdio read ahead is in its buffer */
	CHECK(r && r->class == PMF_FD_READ && r->offset == 1800);
	CHECK_EQ(ftell(f), 9); /* the stream untouched */
	CHECK_EQ(lseek(fileno(f), 0, SEEK_CUR), 1800);
	CHECK(fgets(line, sizeof line, f) && !strcmp(line, "line 001\n"));
	fclose(f);
	signal(SIGUSR2, SIG_DFL);
}

/* ---- too little scratch ---------------------------------------------------- */

static void scratch_sizes(void)
{
	static char small[40000] __attribute__((aligned(64)));
	struct pm__ks_capture c;
	int rc = pm__ks_capture(small, sizeof small, NULL, 0, 0, &c);
	CHECK_MSG(rc == -ENOSPC && c.need > sizeof small, "%d need %zu", rc, c.need);
	void *big = aligned_alloc(64, (c.need + 63) & ~(size_t)63);
	rc = pm__ks_capture(big, c.need, NULL, 0, 0, &c);
	CHECK_MSG(rc == 0, "%d %s", rc, pm_errmsg());
	free(big);
}

/* ---- refusals of capture --------------------------------------------------- */

static void expect_refused(int fd, const char *what)
{
	struct image im;
	memset(&im, 0, sizeof im);
	int rc = capture(&im, NULL, 0);
	image_free(&im);
	char want[32];
	snprintf(want, sizeof want, "fd %d ", fd);
	CHECK_MSG(rc == -ENOTSUP && strstr(pm_errmsg(), want) &&
			  strstr(pm_errmsg(), what),
		  "%s: %d %s", what, rc, pm_errmsg());
	close(fd);
}

static void capture_refusals(void)
{
	int p[2];
	CHECK_EQ(pipe(p), 0);
	close(p[1]);
	expect_refused(p[0], "pipe");
	int s[2];
	CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, s), 0);
	close(s[1]);
	expect_refused(s[0], "socket");
	int e = eventfd(0, 0);
	expect_refused(e, "anonymous-inode");
	char del[PATH_MAX + 8];
	snprintf(del, sizeof del, "%s/del", dir);
	int d = open(del, O_RDWR | O_CREAT, 0600);
	unlink(del);
	expect_refused(d, "deleted");
	expect_refused(open("/proc/self/status", O_RDONLY), "on /proc");
	/* left out when the caller says so */
	int q[2];
	CHECK_EQ(pipe(q), 0);
	struct image im;
	CHECK_EQ(capture(&im, q, 2), 0);
	CHECK(rec_of(&im, q[0]) == NULL);
	image_free(&im);
	close(q[0]);
	close(q[1]);
	/* /dev/null is reopened */
	int n = open("/dev/null", O_WRONLY);
	CHECK_EQ(capture(&im, NULL, 0), 0);
	const struct pmf_fd *r = rec_of(&im, n);
	CHECK(r && r->class == PMF_FD_DEV);
	image_free(&im);
	close(n);
}

/* ---- refusals of prepare: files -------------------------------------------- */

static void file_refusals(const struct image *im)
{
	char text[2000];
	size_t len;
	const char *cur = get_file(in_path, &len);
	memcpy(text, cur, len + 1);
	/* an edit after the offset is accepted */
	text[27] = 'L', text[28] = 'I', text[29] = 'N', text[30] = 'E';
	put_file(in_path, text);
	CHECK_EQ(prepare_undo(im, "edit after"), 0);
	/* one before it is refused */
	text[26] = 'X';
	put_file(in_path, text);
	int rc = prepare_undo(im, "edit before");
	CHECK_MSG(rc == -ESTALE && strstr(pm_errmsg(), "changed before offset 27"),
		  "%d %s", rc, pm_errmsg());
	text[26] = '\n';
	/* shorter */
	char c20 = text[20];
	text[20] = '\0';
	put_file(in_path, text);
	rc = prepare_undo(im, "shorter");
	CHECK_MSG(rc == -ESTALE, "%d %s", rc, pm_errmsg());
	text[20] = c20;
	put_file(in_path, text);
	/* missing */
	char away[PATH_MAX + 8];
	snprintf(away, sizeof away, "%s.away", in_path);
	rename(in_path, away);
	rc = prepare_undo(im, "missing");
	CHECK_MSG(rc == -ENOENT && strstr(pm_errmsg(), "in.txt"), "%d %s", rc,
		  pm_errmsg());
	rename(away, in_path);
	/* a keep descriptor the image restores */
	size_t n;
	void *mem = plan_mem(im, &n);
	struct pm__ks_plan *pl;
	rc = pm__ks_prepare(im->sig, im->sig_len, im->fds, im->fds_len, im->fdata,
			    im->nfdata, &fout_fd, 1, mem, n, &pl);
	CHECK_EQ(rc, -EBUSY);
	/* a keep list, and one added later */
	int k = 50;
	rc = pm__ks_prepare(im->sig, im->sig_len, im->fds, im->fds_len, im->fdata,
			    im->nfdata, &k, 1, mem, n, &pl);
	CHECK_EQ(rc, 0);
	if (!rc) {
		CHECK_EQ(pm__ks_plan_keep(pl, fin_fd), -EBUSY);
		CHECK_EQ(pm__ks_plan_keep(pl, 51), 0);
		CHECK_EQ(pm__ks_plan_keep(pl, -1), -EINVAL);
		pm__ks_undo(pl);
	}
	free(mem);
}

/* ---- refusals of prepare: damaged records ---------------------------------- */

static struct image damaged;

static void damage_reset(const struct image *im)
{
	free(damaged.sig);
	free(damaged.fds);
	damaged = *im;
	damaged.sig = copy(im->sig, im->sig_len);
	damaged.fds = copy(im->fds, im->fds_len);
}

#define EXPECT_CORRUPT(what)                                                   \
	do {                                                                   \
		int rc_ = prepare_undo(&damaged, what);                        \
		CHECK_MSG(rc_ == PM_ECORRUPT, "%s: %d %s", what, rc_,          \
			  pm_errmsg());                                        \
		damage_reset(im);                                              \
	} while (0)

static void record_refusals(const struct image *im)
{
	damage_reset(im);
	CHECK_EQ(prepare_undo(&damaged, "undamaged"), 0);
	struct pmf_fds *h;
	struct pmf_fd *r;
	struct pmf_signals *s;
#define H (h = damaged.fds)
#define R(fd) (r = (struct pmf_fd *)rec_of(&damaged, fd))
#define S (s = damaged.sig)
	H->nfds = PMF_MAX_FDS + 1; EXPECT_CORRUPT("nfds");
	H->nfds -= 1; EXPECT_CORRUPT("nfds - 1");
	H->rec_size = 64; EXPECT_CORRUPT("rec_size");
	H->umask = 01000; EXPECT_CORRUPT("umask");
	H;
	h->cwd_off = (uint32_t)h->strings_len; EXPECT_CORRUPT("cwd_off");
	H->cwd_len += 1; EXPECT_CORRUPT("cwd_len");
	H;
	((char *)damaged.fds)[h->strings_off + h->cwd_off] = 'x'; EXPECT_CORRUPT("cwd relative");
	H->strings_off += 8; EXPECT_CORRUPT("strings_off");
	H->strings_len += 1; EXPECT_CORRUPT("strings_len");
	H->reserved0 = 1; EXPECT_CORRUPT("reserved0");
	H->reserved[2] = 1; EXPECT_CORRUPT("reserved");
	damaged.fds_len = 10; EXPECT_CORRUPT("short section");
	R(fin_fd)->fd = -1; EXPECT_CORRUPT("fd -1");
	R(FD_RO)->fd = 70000; EXPECT_CORRUPT("fd 70000");
	R(FD_DIR)->fd = 1; EXPECT_CORRUPT("fd order");
	R(FD_DIR)->class = 0; EXPECT_CORRUPT("class 0");
	R(FD_DIR)->class = 99; EXPECT_CORRUPT("class 99");
	R(FD_DIR)->class = PMF_FD_READ; EXPECT_CORRUPT("class of a directory");
	R(FD_DIR)->class = PMF_FD_STDIO; EXPECT_CORRUPT("stdio above 2");
	R(FD_EXTRA - 40 + 40);
	if (r) {
		r->class = PMF_FD_INHERITED; /* the last record: its number may grow */
		r->fd = 2000;
		EXPECT_CORRUPT("inherited high");
	}
	R(fin_fd)->oflags |= 1u << 30; EXPECT_CORRUPT("oflags");
	R(fin_fd)->oflags |= O_WRONLY; EXPECT_CORRUPT("access mode of a read file");
	R(fin_fd)->oflags |= O_PATH; EXPECT_CORRUPT("O_PATH");
	R(fin_fd)->fdflags = 2; EXPECT_CORRUPT("fdflags");
	R(fin_fd)->offset = 1ull << 63; EXPECT_CORRUPT("offset");
	R(fin_fd);
	r->offset = r->size + 1; EXPECT_CORRUPT("offset past size");
	R(fin_fd)->path_off = 1u << 31; EXPECT_CORRUPT("path_off");
	R(fin_fd)->path_len += 1; EXPECT_CORRUPT("path_len");
	R(fin_fd)->path_len -= 1; EXPECT_CORRUPT("path_len short");
	R(fin_fd)->data_len = 1; EXPECT_CORRUPT("data on a read file");
	R(fin_fd)->link = 1; EXPECT_CORRUPT("link to no written file");
	R(fin_fd)->mode = S_IFDIR | 0755; EXPECT_CORRUPT("mode");
	R(fin_fd)->reserved = 1; EXPECT_CORRUPT("record reserved");
	R(FD_DIR)->sha256[3] = 1; EXPECT_CORRUPT("hash on a directory");
	/* (a directory without O_DIRECTORY is valid: find, `exec 3< .`) */
	R(fout_fd)->data_len -= 1; EXPECT_CORRUPT("data_len");
	R(fout_fd)->sha256[0] = 1; EXPECT_CORRUPT("hash on a written file");
	R(fout_fd)->oflags &= ~(uint32_t)O_ACCMODE; EXPECT_CORRUPT("written read-only");
	R(fout_fd)->link = (uint32_t)(rec_of(&damaged, fout_fd) -
				       (const struct pmf_fd *)((struct pmf_fds *)damaged.fds + 1)) + 1;
	EXPECT_CORRUPT("link to itself");
	S->nsig = 65; EXPECT_CORRUPT("nsig");
	S->rec_size = 16; EXPECT_CORRUPT("sig rec_size");
	S->reserved = 1; EXPECT_CORRUPT("sig reserved");
	S->pending = 1ull << (SIGKILL - 1); EXPECT_CORRUPT("SIGKILL pending");
	S->pending = 1ull << (SIGSTOP - 1); EXPECT_CORRUPT("SIGSTOP pending");
	S->act[SIGUSR1 - 1].flags |= 0x100; EXPECT_CORRUPT("sa flags");
	S->act[SIGUSR1 - 1].handler = 0x10; EXPECT_CORRUPT("handler");
	S->act[SIGUSR1 - 1].handler = 1ull << 50; EXPECT_CORRUPT("handler high");
	S->act[SIGUSR1 - 1].restorer = 0; EXPECT_CORRUPT("restorer missing");
	S->act[SIGUSR1 - 1].flags &= ~PMF_SA_RESTORER; EXPECT_CORRUPT("restorer without flag");
	S->act[SIGKILL - 1].handler = 1; EXPECT_CORRUPT("SIGKILL");
	S->act[SIGSTOP - 1].mask = 1; EXPECT_CORRUPT("SIGSTOP");
	S->ss_flags = 4; EXPECT_CORRUPT("ss_flags");
	S->ss_size = 100; EXPECT_CORRUPT("ss_size");
	S->ss_sp = 0x100; EXPECT_CORRUPT("ss_sp");
	S->ss_flags = SS_DISABLE; EXPECT_CORRUPT("disabled with a base");
	damaged.sig_len -= 1; EXPECT_CORRUPT("signals length");
	/* file data sections */
	struct pm__ks_blob fd0 = im->fdata[0];
	unsigned char *b = copy(fd0.p, fd0.len);
	damaged.fdata[0].p = b;
	((struct pmf_filedata *)b)->len += 1; EXPECT_CORRUPT("filedata len");
	damaged.fdata[0].p = b;
	((struct pmf_filedata *)b)->len -= 1;
	((struct pmf_filedata *)b)->fd = fin_fd; EXPECT_CORRUPT("filedata fd");
	damaged.fdata[0].p = b;
	((struct pmf_filedata *)b)->fd = fout_fd;
	((struct pmf_filedata *)b)->reserved[1] = 1; EXPECT_CORRUPT("filedata reserved");
	((struct pmf_filedata *)b)->reserved[1] = 0;
	damaged.nfdata = 0; EXPECT_CORRUPT("filedata missing");
	damaged.fdata[1] = damaged.fdata[0];
	damaged.nfdata = 2; EXPECT_CORRUPT("filedata twice");
	damaged.fdata[0].len -= 1; EXPECT_CORRUPT("filedata section length");
	free(b);
#undef H
#undef R
#undef S

	/* random damage: never a crash, never a trace left */
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	int accepted = 0;
	for (int i = 0; i < 3000; i++) {
		damage_reset(im);
		int nflip = 1 + (int)(test_rand(&seed) % 4);
		for (int k = 0; k < nflip; k++) {
			uint64_t v = test_rand(&seed);
			if (v & 1) {
				size_t at = (size_t)((v >> 8) % damaged.fds_len);
				((unsigned char *)damaged.fds)[at] ^= (unsigned char)(1u << ((v >> 4) & 7));
			} else {
				size_t at = (size_t)((v >> 8) % damaged.sig_len);
				((unsigned char *)damaged.sig)[at] ^= (unsigned char)(1u << ((v >> 4) & 7));
			}
		}
		accepted += prepare_undo(&damaged, "random damage") == 0;
	}
	fprintf(stderr, "random damage: %d of 3000 accepted\n", accepted);
	free(damaged.sig);
	free(damaged.fds);
	memset(&damaged, 0, sizeof damaged);
}

/* ---- inherited descriptors (exec'd) ------------------------------------ */

static void inherit_resume(const struct image *im)
{
	CHECK_EQ(lseek(0, 0, SEEK_SET), 0);
	size_t n;
	void *mem = plan_mem(im, &n);
	struct pm__ks_plan *pl = NULL;
	int rc = pm__ks_prepare(im->sig, im->sig_len, im->fds, im->fds_len,
				im->fdata, im->nfdata, NULL, 0, mem, n, &pl);
	CHECK_MSG(rc == 0, "%d %s", rc, pm_errmsg());
	CHECK_EQ(lseek(0, 0, SEEK_CUR), 0); /* prepare moved nothing */
	int step;
	if (!rc)
		CHECK_EQ(pm__ks_apply(pl, &step), 0);
	CHECK_EQ(lseek(0, 0, SEEK_CUR), 4);
	CHECK(fcntl(9, F_GETFD) >= 0);
}

static int inherit_mode(void)
{
	/* fd 0: a file the caller gave, read through stdio */
	char line[64];
	CHECK(fgets(line, sizeof line, stdin) && !strcmp(line, "abc\n"));
	struct image im0;
	memset(&im0, 0, sizeof im0);
	CHECK_MSG(capture(&im0, NULL, 0) == 0, "%s", pm_errmsg());
	const struct pmf_fd *r0 = rec_of(&im0, 0);
	CHECK(r0 && r0->class == PMF_FD_INHERITED && r0->offset == 4);
	CHECK_EQ(lseek(0, 0, SEEK_CUR), 4);
	int st = run_child(inherit_resume, &im0);
	CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status 0x%x", st);
	/* another stdin: refused */
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s.other", dir);
	put_file(path, "abX\nmore\n");
	int o = open(path, O_RDONLY);
	int saved = dup(0);
	dup2(o, 0);
	close(o);
	unlink(path);
	int rc = prepare_undo(&im0, "other stdin");
	CHECK_MSG(rc == -ESTALE && strstr(pm_errmsg(), "fd 0"), "%d %s", rc, pm_errmsg());
	dup2(saved, 0);
	close(saved);
	image_free(&im0);

	/* fd 9: a pipe the "caller" passed */
	struct stat s9;
	CHECK_EQ(fstat(9, &s9), 0);
	CHECK(pm__ks_was_open_at_start(9));
	CHECK(pm__ks_is_inherited(9, s9.st_dev, s9.st_ino));
	struct image im;
	CHECK_MSG(capture(&im, NULL, 0) == 0, "%s", pm_errmsg());
	const struct pmf_fd *r = rec_of(&im, 9);
	CHECK(r && r->class == PMF_FD_INHERITED);
	CHECK(r && strstr(path_of(&im, r), "pipe:"));
	/* the resuming process must have it */
	CHECK_EQ(prepare_undo(&im, "inherited present"), 0);
	close(9);
	rc = prepare_undo(&im, "inherited absent");
	CHECK_MSG(rc == -EBADF && strstr(pm_errmsg(), "fd 9"), "%d %s", rc, pm_errmsg());
	/* the same number reopened by the program is the program's */
	int p[2];
	CHECK_EQ(pipe(p), 0);
	CHECK_EQ(dup2(p[0], 9), 9);
	close(p[0]);
	close(p[1]);
	CHECK(!pm__ks_is_inherited(9, 0, 0));
	image_free(&im);
	rc = capture(&im, NULL, 0);
	CHECK_MSG(rc == -ENOTSUP && strstr(pm_errmsg(), "fd 9 "), "%d %s", rc,
		  pm_errmsg());
	return test_end();
}

int main(int argc, char **argv)
{
	/* the table of inherited descriptors is kept only where images can
	 * be taken (randomisation off, as under pmalloc run): run so */
	int pers = personality(0xffffffff);
	if (pers != -1 && !(pers & ADDR_NO_RANDOMIZE) &&
	    personality((unsigned long)pers | ADDR_NO_RANDOMIZE) != -1) {
		execv("/proc/self/exe", argv);
		perror("re-exec with randomisation off");
		return 1;
	}
	pm__ks_note_inherited();
	if (argc > 2 && !strcmp(argv[1], "--inherit")) {
		snprintf(dir, sizeof dir, "%s", argv[2]);
		return inherit_mode();
	}

	set_up();
	struct image im;
	int rc = capture(&im, NULL, 0);
	CHECK_MSG(rc == 0, "capture: %d %s", rc, pm_errmsg());
	if (rc)
		return test_end();
	check_captured(&im);

	/* the first run goes on after the image: more output, and the input
	 * edited after the consumed part */
	fprintf(fout, "after the image\n");
	fflush(fout);
	char text[2000];
	size_t len;
	const char *cur = get_file(in_path, &len);
	memcpy(text, cur, len + 1);
	memcpy(text + 27, "LINE", 4);
	put_file(in_path, text);

	int st = run_child(resume_child, &im);
	CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "resumed child: status 0x%x", st);

	/* the child's resume replaced out.txt: this process's fout now
	 * writes a deleted file, which capture refuses */
	fclose(fout);
	st = run_child(written_child, NULL);
	CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "written files: status 0x%x", st);
	st = run_child(apply_fails_child, NULL);
	CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "apply fails: status 0x%x", st);
	signal_capture();
	scratch_sizes();
	file_refusals(&im);
	record_refusals(&im);
	capture_refusals();

	/* exec'd: fd 9 inherited */
	int p[2];
	CHECK_EQ(pipe(p), 0);
	fflush(NULL);
	char in2[PATH_MAX];
	snprintf(in2, sizeof in2, "%s/stdin.txt", dir);
	put_file(in2, "abc\ndef\n");
	pid_t pid = fork();
	if (pid == 0) {
		dup2(p[0], 9);
		int i = open(in2, O_RDONLY);
		dup2(i, 0);
		close(i);
		execl("/proc/self/exe", argv[0], "--inherit", dir, (char *)NULL);
		_exit(3);
	}
	close(p[0]);
	close(p[1]);
	waitpid(pid, &st, 0);
	CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "--inherit: status 0x%x", st);

	image_free(&im);
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (chdir("/") || system(cmd))
		fprintf(stderr, "could not remove %s\n", dir);
	return test_end();
}
