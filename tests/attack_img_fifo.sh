#!/bin/sh
# attack_img_fifo.sh - the file a program was reading replaced by a named
# pipe before the resume: the resume opened it by path, O_RDONLY, and
# waited for a writer that never comes (the process hung before main()).
# It must refuse ("no longer a regular file") at once; the program's
# normal run then opens the pipe itself and waits for a writer, as it
# would without pmalloc: the test opens the pipe for writing once the
# refusal is on stderr (bounded waits; only the refusal is checked).
. "$(dirname "$0")/lib.sh"
norand true 2>/dev/null || skip "setarch -R does not work here"
need mkfifo timeout
prog=$t/image_files
build_c "$prog" "$T/tests/prog/image_files.c"
mkdir "$t/w"
i=1
while [ $i -le 60 ]; do echo "line $i of the input"; i=$((i + 1)); done >"$t/w/in.txt"
cd "$t" || die "no $t"
STOP=1 pm_run "$prog" w.img w/in.txt out.txt >stop.out 2>stop.err || die "imaging run: $(cat stop.err)"
[ -f w.img ] || die "no image: $(cat stop.err)"
rm w/in.txt && mkfifo w/in.txt || die "mkfifo"
"$B/pmalloc" run --resume w.img -- "$prog" w.img w/in.txt out.txt </dev/null >res.out 2>res.err &
pid=$!
n=0 # wait for the refusal (bounded), then let the normal run read EOF
while [ $n -lt 100 ] && ! grep -q "not resumed" res.err; do sleep 0.1; n=$((n + 1)); done
before=$(cat res.err)
: >w/in.txt &
writer=$!
timeout 20 sh -c "while kill -0 $pid 2>/dev/null; do sleep 0.1; done"
kill $pid $writer 2>/dev/null
wait $pid 2>/dev/null
expect_has "input replaced by a FIFO: refused before anyone wrote to it" "pmalloc: not resumed:" "$before"
expect_has "input replaced by a FIFO: reason" "no longer a regular file" "$(cat res.err)"
finish
