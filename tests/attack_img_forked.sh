#!/bin/sh
# attack_img_forked.sh - `pmalloc run --image F --image-on USR1` installs
# pmalloc's handler in the program; a child the program forks inherits
# it.  A signal the child got (sent to the process group, pkill, or its
# own) made the child write its image to F, replacing the program's: a
# forked Python child's image, resumed, printed "child done" instead of
# the program's result.  In a process other than the one the trigger is
# for, the signal now does what it does without pmalloc (USR1 ends the
# child), and F stays the program's; a resumed process (a new pid) keeps
# its trigger.
. "$(dirname "$0")/lib.sh"
norand true 2>/dev/null || skip "setarch -R does not work here"
cd "$t" || die "no $t"
cat >f.c <<'EOC'
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/wait.h>
int main(void)
{
	pid_t pid = fork();
	if (pid == 0) {
		kill(getpid(), SIGUSR1);
		printf("the child survived USR1\n");
		fflush(stdout);
		_exit(0);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	if (WIFSIGNALED(st))
		printf("child: signal %d\n", WTERMSIG(st));
	else
		printf("child: exit %d\n", WEXITSTATUS(st));
	printf("image after the child: %s\n",
	       access("s.img", F_OK) ? "none" : "written");
	fflush(stdout);
	kill(getpid(), SIGUSR1); /* the program's own image */
	printf("after the image\n");
	return 0;
}
EOC
build_c "$t/f" f.c
./f >plain.out 2>/dev/null
"$B/pmalloc" run --image "$t/s.img" --image-on USR1 -- ./f >run.out 2>run.err
expect_eq "run: exit status" 0 $?
expect_eq "without pmalloc the child ends by USR1" "child: signal 10
image after the child: none" "$(cat plain.out)"
expect_eq "run: the child ended by USR1" "child: signal 10
image after the child: none
after the image" "$(cat run.out)"
[ -f s.img ] || die "no image: $(cat run.err)"
"$B/pmalloc" resume s.img >res.out 2>res.err
expect_eq "resume: exit status" 0 $?
expect_eq "resume: the program's image" "after the image" "$(cat res.out)"
# the resumed process (another pid) still takes images on USR1
cat >g.c <<'EOC'
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
#include <pmalloc.h>
int main(void)
{
	if (pm_image("g.img") == PM_RESUMED) {
		unlink("h.img");
		kill(getpid(), SIGUSR1);
		printf("resumed; image by signal: %s\n",
		       access("h.img", F_OK) ? "none" : "written");
	}
	return 0;
}
EOC
build_c "$t/g" g.c
"$B/pmalloc" run --image "$t/h.img" --image-on USR1 -- ./g >g.out 2>g.err ||
	die "g: $(cat g.err)"
"$B/pmalloc" resume g.img >g2.out 2>g2.err
expect_eq "a resumed process keeps its trigger" \
	"resumed; image by signal: written" "$(cat g2.out)"
finish
