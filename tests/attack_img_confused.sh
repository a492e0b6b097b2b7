#!/bin/sh
# attack_img_confused.sh - a confused user: a process image given to
# `pmalloc run --restore` (was refused as "checkpoint file is corrupt:
# the first heap section is shorter than the region header", which sends
# the user looking for damage), a checkpoint given to --resume, a stack
# limit too small for the image's stack, a larger one, another working
# directory, an empty environment, stdin a pipe or a file.  Each refusal
# says what the file is or what differs and the program runs normally;
# the rest resume.
. "$(dirname "$0")/lib.sh"
. "$T/tests/prog/img_attack.sh"

# an image to --restore
rm -rf "$t/x" && mkdir "$t/x"
(cd "$t/x" && "$B/pmalloc" run --restore "$base" -- "$prog" a.img b.img >out 2>err)
expect_eq "image given to --restore: exit" 0 "$?"
expect_has "image given to --restore: reason" "is a process image, not a checkpoint" "$(cat "$t/x/err")"
expect_has "image given to --restore: normal run" "pm_image(a.img) = 0" "$(cat "$t/x/err")"

# a checkpoint to --resume
cat >"$t/ck.c" <<'EOC'
#include <pmalloc.h>
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv)
{
	(void)argc;
	char *p = malloc(100);
	snprintf(p, 100, "a block");
	return pm_checkpoint(argv[1]) != 0;
}
EOC
build_c "$t/ck" "$t/ck.c"
pm_run "$t/ck" "$t/c.ckpt" || die "no checkpoint"
refused "checkpoint given to --resume" "is a checkpoint, not a process image" "$t/c.ckpt"

# the stack limit
need=$("$B/pmalloc" info "$base" | sed -n 's/.*stack: *0x\([0-9a-f]*\)-0x\([0-9a-f]*\).*/\1 \2/p')
[ -n "$need" ] || die "no stack in pmalloc info"
small=$( (ulimit -s 160 && ulimit -s) 2>/dev/null) || small=
if [ "$small" = 160 ]; then
	rm -rf "$t/x" && mkdir "$t/x"
	# (the normal run that follows recurses as deep as the image's
	# stack and overflows this limit itself: only the refusal is checked)
	(ulimit -s 160 && cd "$t/x" && "$B/pmalloc" run --resume "$base" -- "$prog" a.img b.img >out 2>err; true) 2>/dev/null
	expect_has "stack limit too small: reason" "the image's stack needs" "$(cat "$t/x/err")"
fi
if (ulimit -s 65536) 2>/dev/null; then
	rm -rf "$t/x" && mkdir "$t/x"
	(ulimit -s 65536 && cd "$t/x" && "$B/pmalloc" run --resume "$base" -- "$prog" a.img b.img >out 2>err)
	expect_has "a larger stack limit resumes" "pm_image(a.img) = 1" "$(cat "$t/x/err")"
fi

# elsewhere, with nothing in the environment, stdin a pipe or a file
rm -rf "$t/x" && mkdir "$t/x"
(cd "$t/x" && echo input | env -i "$B/pmalloc" run --resume "$base" -- "$prog" a.img b.img >out 2>err)
expect_has "env -i, stdin a pipe, another directory" "pm_image(a.img) = 1" "$(cat "$t/x/err")"
rm -rf "$t/x" && mkdir "$t/x"
(cd / && "$B/pmalloc" run --resume "$base" -- "$prog" a.img b.img <"$base" >"$t/x/out" 2>"$t/x/err")
expect_has "stdin a file, from /" "pm_image(a.img) = 1" "$(cat "$t/x/err")"
finish
