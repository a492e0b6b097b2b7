#!/bin/sh
# image_timers.sh - what a process image does with timers and file locks
# (tests/prog/image_timers.c):
#   - the real-time alarm (alarm(2), setitimer ITIMER_REAL) is kept with
#     the time it had left and its interval: a resumed process gets its
#     SIGALRM, then the interval's ticks, as the saving run did;
#   - signals pending (blocked) at the image are pending in the resumed
#     process: unblocked, their handlers run;
#   - what an image cannot hold refuses pm_image with a reason that names
#     it, and once the program undoes it the image is taken: an armed
#     ITIMER_PROF, a POSIX timer, an flock and a POSIX record lock held on
#     a file the program opened.
. "$(dirname "$0")/lib.sh"
norand true 2>/dev/null || skip "setarch -R does not work here"
prog=$t/image_timers
build_c "$prog" "$T/tests/prog/image_timers.c" -lrt
cd "$t" || die "no $t"

pm_run "$prog" alarm a.img >run.out 2>run.err || die "alarm run: $(cat run.err)"
expect_eq "the saving run" "saved 0
alarm 4" "$(cat run.out)"
"$B/pmalloc" run --resume a.img -- "$prog" alarm a.img >res.out 2>res.err
expect_eq "resumed: exit" 0 $?
expect_eq "resumed: the alarm and its ticks come" "resumed 1
alarm 4" "$(cat res.out)"
grep -q "not resumed" res.err && bad "refused: $(cat res.err)"

pm_run "$prog" pending p.img >run.out 2>run.err || die "pending run: $(cat run.err)"
expect_eq "the saving run with signals pending" "saved 0
usr1 1 usr2 1" "$(cat run.out)"
"$B/pmalloc" run --resume p.img -- "$prog" pending p.img >res.out 2>res.err
expect_eq "resumed: the pending signals come" "resumed 1
usr1 1 usr2 1" "$(cat res.out)"

for m in prof posix flock fcntl; do
	pm_run "$prog" $m $m.img >$m.out 2>$m.err
	expect_eq "$m: exit" 0 $?
	case $m in
	prof) want="ITIMER_PROF" ;;
	posix) want="POSIX timer" ;;
	*) want="holds a file lock" ;;
	esac
	expect_has "$m: refused, named" "$want" "$(sed -n 1p $m.out)"
	expect "$m: refused with a negative code" "refused -*" "$(sed -n 1p $m.out)"
	expect_eq "$m: undone, then saved" "saved 0" "$(sed -n 2p $m.out)"
	"$B/pmalloc" run --resume $m.img -- "$prog" $m $m.img >$m.res 2>$m.rerr
	expect_eq "$m: resumed after the undo" "resumed 1" "$(sed -n 2p $m.res)"
done
finish
