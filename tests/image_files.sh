#!/bin/sh
# image_files.sh - open files across a process image (issue 9 item 3):
# tests/prog/image_files reads a file through stdio and writes another,
# with a signal handler, a working directory and a umask of its own, and
# is imaged half-way (then killed).  A resume reads the input's current
# contents from the line the program had got to (stdio's read-ahead is
# dropped), puts back what the output held, and leaves the output as an
# uninterrupted run over the same input would; the handler installed
# before the image fires after it; cwd and umask are the program's.
# Editing the input after the consumed part resumes; editing the part
# already read refuses the image, and the program then runs normally.
. "$(dirname "$0")/lib.sh"
norand true 2>/dev/null || skip "setarch -R does not work here"
prog=$t/image_files
build_c "$prog" "$T/tests/prog/image_files.c"
mkdir "$t/w" "$t/ref" "$t/ref2"
i=1
while [ $i -le 60 ]; do echo "line $i of the input, with some words"; i=$((i + 1)); done >"$t/w/in.txt"
cp "$t/w/in.txt" "$t/ref/in.txt"

# references: uninterrupted runs over the original and the edited input
(cd "$t" && pm_run "$prog" ref.img ref/in.txt out.txt >ref/stdout 2>ref/stderr) || die "reference run: $(cat "$t/ref/stderr")"
sed 's/^line 50 of/LINE fifty of/' "$t/w/in.txt" >"$t/ref2/in.txt"
(cd "$t" && pm_run "$prog" ref2.img ref2/in.txt out.txt >ref2/stdout 2>ref2/stderr) || die "second reference run"

cd "$t" || die "no $t"
STOP=1 pm_run "$prog" w.img w/in.txt out.txt >stop.out 2>stop.err || die "imaging run: $(cat stop.err)"
[ -f w.img ] || die "no image: $(cat stop.err)"
cp w/out.txt partial.out
sed 's/^line 50 of/LINE fifty of/' w/in.txt >w/in.new && mv w/in.new w/in.txt
echo "garbage written over the output" >w/out.txt
"$B/pmalloc" run --resume w.img -- "$prog" w.img w/in.txt out.txt >res.out 2>res.err
expect_eq "resume: exit" 0 $?
expect_has "resumed" "pm_image = 1" "$(cat res.err)"
same_output "output file after an edit past the offset" ref2/out.txt w/out.txt
same_output "stdout" ref/stdout res.out
expect_has "handler installed before the image fired after it" "signal 1" "$(cat w/out.txt)"

# an edit inside the consumed part: refused, then a normal run
cp ref/in.txt w/in.txt
sed 's/^line 3 of/LINE three of/' w/in.txt >w/in.new && mv w/in.new w/in.txt
sum=$(cksum <w.img)
"$B/pmalloc" run --resume w.img -- "$prog" w.img w/in.txt out.txt >ref3.out 2>ref3.err
expect_eq "refused resume: exit" 0 $?
expect_has "an edit before the offset refuses" "not resumed" "$(cat ref3.err)"
expect_has "the reason names the input" "in.txt" "$(cat ref3.err)"
expect_has "then a normal run" "pm_image = 0" "$(cat ref3.err)"
expect_has "the normal run read the edited input" "LINE THREE OF" "$(cat w/out.txt)"
finish
