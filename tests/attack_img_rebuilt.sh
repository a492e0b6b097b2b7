#!/bin/sh
# attack_img_rebuilt.sh - the executable rebuilt after its image with a
# one-letter change: same size, and an mtime in the same second (a build
# script).  The resume is refused (the build-ids differ) and the program
# runs normally; the reason used to read "made by P (N bytes, mtime M);
# this is P (N bytes, mtime M)", two identical descriptions, and now says
# what differs.  Then the executable patched in place (one string of its
# rodata: same size, same build-id, a later mtime): it was resumed, its
# new rodata under the image's state; now refused as rewritten.
. "$(dirname "$0")/lib.sh"
norand true 2>/dev/null || skip "setarch -R does not work here"
cd "$t" || die "no $t"
cat >p.c <<'EOC'
#include <stdio.h>
#include <pmalloc.h>
int main(void)
{
	printf("WORD\n");
	fflush(stdout);
	printf("pm_image %d\n", pm_image("s.img"));
	return 0;
}
EOC
sed 's/WORD/start/' p.c >a.c && sed 's/WORD/begin/' p.c >b.c || die "sed"
build_c "$t/p" a.c
"$B/pmalloc" run -- ./p >make.out 2>make.err || die "imaging run: $(cat make.err)"
build_c "$t/p2" b.c
[ "$(wc -c <p)" = "$(wc -c <p2)" ] || skip "the two builds differ in size here"
cat p2 >p && touch -r p2 p || die "cannot rewrite p"
"$B/pmalloc" run --resume s.img -- ./p >out 2>err
rc=$?
expect_eq "rebuilt executable: exit status" 0 "$rc"
expect_has "rebuilt executable: refused" "pmalloc: not resumed: " "$(cat err)"
expect_has "rebuilt executable: the reason says what differs" \
	"another build (build-id)" "$(cat err)"
expect_eq "rebuilt executable: a normal run" "begin
pm_image 0" "$(cat out)"

# patched in place: same size, same build-id, a later mtime
build_c "$t/p" a.c
"$B/pmalloc" run -- ./p >make.out 2>make.err || die "imaging run: $(cat make.err)"
sleep 1
sed 's/start/START/' p >p3 && cat p3 >p || die "cannot patch p"
"$B/pmalloc" run --resume s.img -- ./p >out 2>err
expect_eq "patched executable: exit status" 0 "$?"
expect_has "patched executable: refused" "rewritten since" "$(cat err)"
expect_eq "patched executable: a normal run" "START
pm_image 0" "$(cat out)"
finish
