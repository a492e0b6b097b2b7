/* The readers' checksum pass over mapped windows of the file
 * (ckpt_verify.c) under ASan+UBSan: an 8 MiB heap checkpointed, then
 * copies of the file damaged (a byte of the heap changed, the file cut in
 * half) refused by the pass (pm__ckpt_verify_data), and SIGBUS's
 * disposition and the blocked mask as they were before each. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "pmalloc.h"
#include "testlib.h"
#include "../src/ckpt.h"

static char dir[] = "/tmp/pmsanverify.XXXXXX";
static char good[64], bad[64];

static int copy(const char *from, const char *to, off_t cut, off_t flip)
{
	int a = open(from, O_RDONLY), b = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (a < 0 || b < 0)
		return -1;
	static char buf[1 << 16];
	ssize_t n;
	off_t at = 0;
	while ((n = read(a, buf, sizeof buf)) > 0) {
		if (flip >= at && flip < at + n)
			buf[flip - at] ^= 0x5a;
		if (write(b, buf, (size_t)n) != n)
			return -1;
		at += n;
	}
	close(a);
	if (cut && ftruncate(b, cut))
		return -1;
	return close(b);
}

static void same_sigbus(const char *what, const struct sigaction *before)
{
	struct sigaction now;
	sigset_t m;
	sigaction(SIGBUS, NULL, &now);
	sigprocmask(SIG_BLOCK, NULL, &m);
	CHECK_MSG(now.sa_handler == before->sa_handler &&
			  now.sa_flags == before->sa_flags,
		  "%s: SIGBUS handler %p flags 0x%x, before %p 0x%x", what,
		  (void *)now.sa_handler, now.sa_flags,
		  (void *)before->sa_handler, before->sa_flags);
	CHECK_MSG(!sigismember(&m, SIGBUS), "%s: SIGBUS blocked after", what);
}

static int verify(const char *path)
{
	struct pm__ckpt ck;
	int rc = pm__ckpt_open(path, &ck);
	if (rc)
		return rc;
	rc = pm__ckpt_verify_data(&ck);
	pm__ckpt_close(&ck);
	return rc;
}

int main(void)
{
	/* the file: an 8 MiB block checkpointed by the normal build's
	 * tests/mapread (a checkpoint's globals are read whole, which ASan's
	 * redzones between them do not allow) */
	const char *build = getenv("PMALLOC_BUILD");
	if (!build) {
		printf("PMALLOC_BUILD not set (run by make check)\n");
		return 77;
	}
	CHECK(mkdtemp(dir) != NULL);
	snprintf(good, sizeof good, "%s/good.ck", dir);
	snprintf(bad, sizeof bad, "%s/bad.ck", dir);
	char cmd[1024];
	snprintf(cmd, sizeof cmd, "'%s/pmalloc' run -- '%s/tests/mapread' ckpt '%s' 8 >/dev/null",
		 build, build, good);
	int rc = system(cmd);
	CHECK_MSG(rc == 0, "%s: %d", cmd, rc);
	struct sigaction before;
	sigaction(SIGBUS, NULL, &before);
	int fd = open(good, O_RDONLY);
	off_t size = lseek(fd, 0, SEEK_END);
	close(fd);

	rc = verify(good);
	CHECK_MSG(rc == 0, "the file whole: %d %s", rc, pm_errmsg());
	same_sigbus("the file whole", &before);

	CHECK(copy(good, bad, 0, size / 2) == 0);
	rc = verify(bad);
	CHECK_MSG(rc == PM_ECORRUPT, "a changed byte: %d %s", rc, pm_errmsg());
	same_sigbus("a changed byte", &before);

	CHECK(copy(good, bad, size / 2, -1) == 0);
	rc = verify(bad);
	CHECK_MSG(rc == PM_ETRUNC, "the file cut: %d %s", rc, pm_errmsg());
	same_sigbus("the file cut", &before);

	unlink(good);
	unlink(bad);
	rmdir(dir);
	return test_end();
}
