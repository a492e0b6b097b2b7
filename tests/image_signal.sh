#!/bin/sh
# image_signal.sh - images of programs that were not written for them
# (issue 9 item 5): `pmalloc run --image F --image-on USR1` images an
# unmodified python3 in the middle of a computation when the test sends
# the signal (the program keeps running and finishes); the first process
# is then killed and a resume from the image prints what an uninterrupted
# run prints.  `--image-every` images a C program periodically (each
# image replaces the last) and the newest image resumes.
. "$(dirname "$0")/lib.sh"
norand true 2>/dev/null || skip "setarch -R does not work here"
py=/usr/bin/python3
[ -x "$py" ] || skip "no $py"

cat >"$t/work.py" <<'PY'
import os, sys
acc, d = 0, {}
open(sys.argv[1], "w").close()          # ready: the test sends the signal
for i in range(4000000):
    acc = (acc * 31 + i) % 1000000007
    if i % 1000 == 0:
        d[i] = str(acc) * (1 + i % 7)
print("result", acc, len(d), sum(len(v) for v in d.values()))
PY
cd "$t" || die "no $t"
"$py" work.py ready.ref >ref.out || die "reference run"

wait_for() { # FILE: up to 20 s
	n=0
	while [ ! -s "$1" ] && [ $n -lt 200 ]; do sleep 0.1; n=$((n + 1)); done
	[ -s "$1" ]
}
rm -f ready
"$B/pmalloc" run --image py.img --image-on USR1 -- "$py" work.py ready >run.out 2>run.err &
pid=$!
n=0
while [ ! -e ready ] && [ $n -lt 200 ]; do sleep 0.05; n=$((n + 1)); done
[ -e ready ] || die "python did not start"
kill -USR1 $pid
wait_for py.img || die "no image after the signal: $(cat run.err)"
wait $pid
expect_eq "imaged run's exit" 0 $?
same_output "the imaged run's own output" ref.out run.out
pm_verify py.img || bad "the image does not verify"

rm -f ready
for round in 1 2; do
	"$B/pmalloc" run --resume py.img -- "$py" work.py ready >res.out 2>res.err
	expect_eq "resumed python, round $round: exit" 0 $?
	[ -e ready ] && bad "round $round: the resumed run started from the beginning"
	grep -q "not resumed" res.err && bad "round $round: refused: $(cat res.err)"
	same_output "resumed python's output, round $round" ref.out res.out
done

# --image-every: a C program imaged twice a second; kill it, resume the last
cat >"$t/tick.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
int main(int argc, char **argv)
{
	unsigned long long acc = 0;
	long n = atol(argv[1]);
	struct timespec ts = {0, 20 * 1000 * 1000};
	for (long i = 0; i < n; i++) {
		acc = acc * 6364136223846793005ull + (unsigned long long)i;
		if (i % 10 == 0)
			nanosleep(&ts, NULL);
	}
	printf("acc %llu after %ld\n", acc, n);
	return 0;
}
C
"$CC" -O2 -o tick tick.c || die "cannot build tick.c"
./tick 1000 >tick.ref
"$B/pmalloc" run --image tick.img --image-every 0.5 -- ./tick 1000 >tick.out 2>tick.err &
pid=$!
sleep 1.3
[ -s tick.img ] || bad "no image after 1.3 s of --image-every 0.5: $(cat tick.err)"
pkill -9 -P $pid 2>/dev/null # the program, then the wrapper
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
pm_verify tick.img || bad "the periodic image does not verify"
"$B/pmalloc" run --resume tick.img -- ./tick 1000 >tick.res 2>tick.rerr
expect_eq "resumed tick: exit" 0 $?
grep -q "not resumed" tick.rerr && bad "tick refused: $(cat tick.rerr)"
same_output "resumed tick's output" tick.ref tick.res
finish
