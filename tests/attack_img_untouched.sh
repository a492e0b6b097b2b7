#!/bin/sh
# attack_img_untouched.sh - a resume refused late, after it staged the
# image (the restorer's area mapped, the break moved, descriptors opened,
# a written file recreated in a temporary), must leave the process and
# the file system as they were: the program's first look at itself in
# main() (tests/prog/img_probe.c: mappings, descriptors, cwd, umask,
# break, signal dispositions and mask) is what a normal run sees, the
# directory holds no temporary and the output file is not replaced.
# First, the image resumes: its break had moved (sbrk), and the restorer
# died at the point of no return ("resume failed at step 30: errno 17")
# because the [heap] the resume made by moving the break was not in its
# plan.  Refused two ways: a thread started by a library's constructor (the
# last check before the point of no return) and an input file changed in
# the part the program had read (while the descriptors are prepared).
. "$(dirname "$0")/lib.sh"
norand true 2>/dev/null || skip "setarch -R does not work here"
cat >"$t/thr.c" <<'EOC'
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>
static void *sleeper(void *a) { (void)a; for (;;) pause(); return 0; }
__attribute__((constructor)) static void start(void)
{
	pthread_t t;
	if (getenv("THR"))
		pthread_create(&t, 0, sleeper, 0);
}
EOC
"$CC" -shared -fPIC -o "$t/libthr.so" "$t/thr.c" -pthread || die "cannot build libthr.so"
cat >"$t/arm.c" <<'EOC'
#include <signal.h>
#include <unistd.h>
#include <sys/time.h>
int main(int argc, char **argv)
{
	struct itimerval real = {{777, 0}, {1000, 0}}, virt = {{0, 0}, {1000, 0}};
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGUSR2);
	sigprocmask(SIG_BLOCK, &s, 0);
	raise(SIGUSR2);
	if (argc < 2 || setitimer(ITIMER_REAL, &real, 0) ||
	    setitimer(ITIMER_VIRTUAL, &virt, 0))
		return 2;
	execvp(argv[1], argv + 1);
	return 127;
}
EOC
"$CC" -o "$t/arm" "$t/arm.c" || die "cannot build arm"
probe=$t/img_probe
build_c "$probe" "$T/tests/prog/img_probe.c" -Wl,--no-as-needed -L"$t" -lthr -Wl,-rpath,"$t"
mkdir "$t/w"
i=0
while [ $i -lt 40 ]; do echo "input line $i"; i=$((i + 1)); done >"$t/w/in.txt"
cd "$t" || die "no $t"
MAKE=1 pm_run "$probe" "$t/p.img" w/in.txt >make.out 2>make.err || die "imaging run: $(cat make.err)"
expect_eq "imaging run" "pm_image = 0" "$(cat make.err)"
# a resume that works, for reference: it continues after pm_image
"$B/pmalloc" run --resume "$t/p.img" -- "$probe" "$t/p.img" w/in.txt >ok.out 2>ok.err
expect_has "the image resumes" "pm_image = 1" "$(cat ok.err)"
expect_eq "the resumed break" "brk! at the break" "$(cat ok.out)"

# what main() sees, without fd 1 and 2 (each run's own files); anonymous
# mappings included: the resume sets the region up first, as a normal run
# has it before main(), so pmalloc's own pages (the globals table its
# object check makes) lie where a normal run puts them
state() { grep -v '^fd [12] ' "$1"; }
compare() { # WHAT ENV...
	what=$1
	shift
	echo precious >w/out.txt
	before=$(ls -a w)
	$wrap env "$@" setarch "$(uname -m)" -R "$B/pmalloc" run -- "$probe" "$t/p.img" w/in.txt >normal.out 2>normal.err ||
		bad "$what: normal run: $(cat normal.err)"
	$wrap env "$@" "$B/pmalloc" run --resume "$t/p.img" -- "$probe" "$t/p.img" w/in.txt >refused.out 2>refused.err
	expect_eq "$what: exit" 0 "$?"
	expect_has "$what: refused" "pmalloc: not resumed:" "$(cat refused.err)"
	state normal.out >normal.state
	state refused.out >refused.state
	[ -s normal.state ] || bad "$what: no state printed"
	cmp -s normal.state refused.state ||
		bad "$what: the process after the refusal differs: $(diff normal.state refused.state)"
	expect_eq "$what: no temporary left" "$before" "$(ls -a w)"
	expect_eq "$what: the output file untouched" precious "$(cat w/out.txt)"
}
wrap=
compare "a second thread" THR=1
wrap=$t/arm
compare "a second thread, timers armed and a signal pending" THR=1
expect_has "the timers reach the program" "itimer 0 armed 1 every 777.000000" "$(cat normal.out)"
expect_has "the pending signal reaches the program" "pending $(printf '%x' $((1 << (12 - 1))))" "$(cat normal.out)"
wrap=
cp w/in.txt in.keep
sed '1s/^input/INPUT/' in.keep >w/in.txt
compare "the input changed where it was read" X=1
finish
