#!/bin/sh
# attack_img_children.sh - pm_image in a process with a child process.
# A resumed process has no children (docs/IMAGE.md, limits), so its wait
# for one fails: a Python program imaged after os.fork() and resumed died
# in os.waitpid with "ChildProcessError: No child processes", not what an
# uninterrupted run prints.  pm_image now refuses while a child runs or
# has ended without being waited for (-EBUSY, naming it), as it refuses a
# second thread; once the child is waited for, the image is written and
# resumes.
. "$(dirname "$0")/lib.sh"
norand true 2>/dev/null || skip "setarch -R does not work here"
cd "$t" || die "no $t"
cat >c.c <<'EOC'
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/wait.h>
#include <pmalloc.h>
int main(void)
{
	pid_t pid = fork();
	if (pid == 0) {
		pause();
		_exit(0);
	}
	int rc = pm_image("c.img");
	printf("running child: %d %s\n", rc, rc < 0 ? pm_errmsg() : "");
	kill(pid, SIGTERM);
	while (waitid(P_PID, pid, NULL, WEXITED | WNOWAIT) < 0 && errno == EINTR)
		;
	rc = pm_image("c.img");
	printf("ended child: %d %s\n", rc, rc < 0 ? pm_errmsg() : "");
	waitpid(pid, NULL, 0);
	fflush(stdout);
	rc = pm_image("c.img");
	if (rc == PM_RESUMED)
		printf("resumed\n");
	else
		printf("no child: %d\n", rc);
	return 0;
}
EOC
build_c "$t/c" c.c
"$B/pmalloc" run -- ./c >out 2>err || die "run: $(cat err)"
expect_has "a running child refuses" "running child: -16 image: the process has a child process" "$(cat out)"
expect_has "an ended child not waited for refuses" "ended child: -16 image: child process" "$(cat out)"
expect_has "then the image is written" "no child: 0" "$(cat out)"
"$B/pmalloc" resume c.img >res.out 2>res.err
expect_eq "the image resumes" "resumed" "$(cat res.out)"
finish
