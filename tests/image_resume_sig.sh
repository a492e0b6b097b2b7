#!/bin/sh
# image_resume_sig.sh - a signal that arrives while a resume checks and
# maps the image (a second or more for a large one) waits for the image's
# handlers.  It used to find the default disposition of the process being
# resumed: the trigger signal of `--image-on USR1`, sent a few ms after
# the start, ended it ("User defined signal 1").  A shim raises SIGUSR1
# when the resume opens the image; the program's own handler, restored
# with the image, must get it.  After a refusal the signal is delivered
# as in any run.
. "$(dirname "$0")/lib.sh"
norand true 2>/dev/null || skip "setarch -R does not work here"
cd "$t" || die "no $t"
cat >shim.c <<'EOC'
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
static int raised;
/* only in the program, which has libpmalloc: not in pmalloc's CLI */
extern int pm_image(const char *path) __attribute__((weak));
static void maybe_raise(const char *path)
{
	size_t n = strlen(path);
	if (!raised && pm_image && n > 4 && !strcmp(path + n - 4, ".img") &&
	    getenv("SHIM_RAISE")) {
		raised = 1;
		raise(SIGUSR1);
	}
}
int open(const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	int mode = va_arg(ap, int);
	va_end(ap);
	maybe_raise(path);
	return (int)syscall(SYS_openat, AT_FDCWD, path, flags, mode);
}
/* (glibc's open64 is the same call) */
int open64(const char *path, int flags, ...) __attribute__((alias("open")));
EOC
cat >p.c <<'EOC'
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <pmalloc.h>
static volatile sig_atomic_t got;
static void on_usr1(int sig) { (void)sig; got++; }
int main(int argc, char **argv)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1;
	if (argc < 3) /* "trigger": pmalloc's handler stays */
		sigaction(SIGUSR1, &sa, NULL);
	int rc = pm_image(argc > 1 ? argv[1] : "s.img");
	printf("pm_image %d, usr1 %d\n", rc, (int)got);
	return 0;
}
EOC
build_c "$t/p" p.c
"$CC" -shared -fPIC -o "$t/shim.so" shim.c || die "cannot build the shim"
# (the shim is loaded in every run: an object the image lacks refuses it)
LD_PRELOAD="$t/shim.so" "$B/pmalloc" run -- ./p >make.out 2>make.err ||
	die "imaging run: $(cat make.err)"
expect_eq "imaging run" "pm_image 0, usr1 0" "$(cat make.out)"
SHIM_RAISE=1 LD_PRELOAD="$t/shim.so" "$B/pmalloc" run --resume s.img -- ./p >r.out 2>r.err
rc=$?
expect_eq "a signal during the resume: exit status ($(cat r.err))" 0 "$rc"
expect_eq "a signal during the resume: the image's handler got it" \
	"pm_image 1, usr1 1" "$(cat r.out)"
# the same with pmalloc's trigger as the image's handler (--image-on
# USR1): it ran before it knew the resumed process's pid, took it for a
# forked child and let the signal's default action end it
LD_PRELOAD="$t/shim.so" "$B/pmalloc" run --image "$t/trig.img" --image-on USR1 -- ./p t.img trigger >tm.out 2>tm.err ||
	die "imaging run with a trigger: $(cat tm.err)"
expect_eq "imaging run with a trigger" "pm_image 0, usr1 0" "$(cat tm.out)"
rm -f "$t/trig.img"
SHIM_RAISE=1 LD_PRELOAD="$t/shim.so" "$B/pmalloc" run --resume t.img -- ./p t.img trigger >tr.out 2>tr.err
rc=$?
expect_eq "the trigger's signal during the resume: exit status ($(cat tr.err))" 0 "$rc"
expect_eq "the trigger's signal during the resume: resumed" \
	"pm_image 1, usr1 0" "$(cat tr.out)"
[ -s "$t/trig.img" ] || bad "the trigger's signal during the resume: no image written by the trigger"

# refused (other arguments): the signal reaches the program's own start,
# whose disposition is the default: it ends the process as in any run
SHIM_RAISE=1 LD_PRELOAD="$t/shim.so" "$B/pmalloc" run --resume s.img -- ./p other.img >x.out 2>x.err
rc=$?
expect_has "refused: the reason" "pmalloc: not resumed" "$(cat x.err)"
expect_eq "refused: ended by the signal, as without pmalloc" 138 "$rc"
finish
