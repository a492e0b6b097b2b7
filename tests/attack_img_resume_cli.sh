#!/bin/sh
# attack_img_resume_cli.sh - `pmalloc resume IMAGE` runs the command line
# recorded in IMAGE.  It read that command line from any file, trusted or
# not, and ran it; the library then refused the untrusted image and the
# command ran "normally": whoever could write an image the user resumes
# (another user's file, a group- or world-writable one) chose a command
# the user ran.  The CLI now applies the trust rules of a resume before
# it reads the command line, and runs nothing when they refuse.
# Also: run from another directory holding another program of the same
# relative name (argv[0] "./p"), it ran that one (refused: another
# file) instead of the executable the image recorded; it now runs the
# recorded one when argv[0] names another file from here.
. "$(dirname "$0")/lib.sh"
norand true 2>/dev/null || skip "setarch -R does not work here"
cd "$t" || die "no $t"
cat >p.c <<'EOC'
#include <stdio.h>
#include <pmalloc.h>
int main(void)
{
	printf("the image's command ran\n");
	fflush(stdout);
	printf("pm_image %d\n", pm_image("s.img"));
	return 0;
}
EOC
build_c "$t/p" p.c
"$B/pmalloc" run -- ./p >make.out 2>make.err || die "imaging run: $(cat make.err)"
"$B/pmalloc" resume s.img >ok.out 2>ok.err
expect_eq "a trusted image resumes" "pm_image 1" "$(cat ok.out)"

mkdir other && cp p other/p && cp s.img keep.img || die "cp"
(cd other && exec "$B/pmalloc" resume ../s.img) >other.out 2>other.err
expect_eq "from another directory with another ./p: resumed ($(cat other.err))" \
	"pm_image 1" "$(cat other.out)"
cp keep.img s.img || die "cp"

cp s.img gw.img && chmod 620 gw.img || die "cp"
"$B/pmalloc" resume gw.img >gw.out 2>gw.err
rc=$?
expect_eq "group-writable image: exit status" 1 "$rc"
expect_eq "group-writable image: nothing ran" "" "$(cat gw.out)"
expect_has "group-writable image: the reason" "writable by its group" "$(cat gw.err)"
PMALLOC_TRUST_ANY_OWNER=1 "$B/pmalloc" resume gw.img >any.out 2>any.err
expect_eq "group-writable image, PMALLOC_TRUST_ANY_OWNER=1: resumes" \
	"pm_image 1" "$(cat any.out)"

if [ "$(id -u)" -eq 0 ]; then
	cp s.img nobody.img && chmod 600 nobody.img && chown 65534 nobody.img ||
		die "chown"
	"$B/pmalloc" resume nobody.img >nb.out 2>nb.err
	rc=$?
	expect_eq "another user's image: exit status" 1 "$rc"
	expect_eq "another user's image: nothing ran" "" "$(cat nb.out)"
	expect_has "another user's image: the reason" "owned by uid 65534" "$(cat nb.err)"
fi

# --resume with a new trigger: the resumed process keeps the image's own
# (it wrote its next image over the one it resumed from, never the new
# file): refused before anything runs
for opt in "--image new.img" "--image new.img --image-on USR1" \
	"--image new.img --image-every 1"; do
	# shellcheck disable=SC2086
	"$B/pmalloc" run --resume s.img $opt -- true >tr.out 2>tr.err
	expect_eq "--resume $opt: exit status" 2 "$?"
	expect_has "--resume $opt: the reason" "cannot change it" "$(cat tr.err)"
done
[ -e new.img ] && bad "--resume with --image wrote new.img"

# a refused resume from another directory runs the command line where
# the image's process ran (it ran in the caller's directory, where its
# relative argument in.txt is not)
cat >q.c <<'EOC'
#include <stdio.h>
#include <pmalloc.h>
int main(int argc, char **argv)
{
	char line[64];
	FILE *f = argc > 1 ? fopen(argv[1], "r") : NULL;
	if (!f || !fgets(line, sizeof line, f)) {
		printf("cannot read %s\n", argc > 1 ? argv[1] : "?");
		return 1;
	}
	printf("pm_image %d\n", pm_image("q.img"));
	printf("first %s", line);
	return 0;
}
EOC
build_c "$t/q" q.c
printf 'one\ntwo\n' >in.txt
"$B/pmalloc" run -- ./q in.txt >q.out 2>q.err || die "imaging run: $(cat q.err)"
printf 'ONE\ntwo\n' >in.txt # before the offset: the image is stale
(cd other && exec "$B/pmalloc" resume ../q.img) >qr.out 2>qr.err
expect_has "stale image from another directory: refused" "pmalloc: not resumed" "$(cat qr.err)"
expect_eq "stale image from another directory: the command ran in the image's directory" \
	"pm_image 0
first ONE" "$(cat qr.out)"

# a relative PMALLOC_KEY_FILE given to pmalloc resume names the caller's
# file, though the run starts in the image's directory
mkdir work && head -c 32 /dev/urandom >key && chmod 600 key || die "key"
cat >k.c <<'EOC'
#include <stdio.h>
#include <pmalloc.h>
int main(void)
{
	printf("pm_image %d\n", pm_image("../k.img"));
	return 0;
}
EOC
build_c "$t/k" k.c
(cd work && PMALLOC_KEY_FILE=../key "$B/pmalloc" run -- ../k >../k.out 2>&1) ||
	die "keyed imaging run: $(cat k.out)"
PMALLOC_KEY_FILE=key "$B/pmalloc" resume k.img >kr.out 2>&1
expect_has "relative key file: resumed" "pm_image 1" "$(cat kr.out)"

# --resume through a wrapper script (pyenv's shims): its interpreter is
# refused, and the program it execs then gets no image; the CLI names
# what to run instead
printf '#!/bin/sh\nexec ./p "$@"\n' >w.sh && chmod +x w.sh || die "w.sh"
"$B/pmalloc" run -- ./w.sh >w.out 2>w.err || die "imaging through w.sh: $(cat w.err)"
"$B/pmalloc" run --resume s.img -- ./w.sh >wr.out 2>wr.err
expect_has "a wrapper script: the hint" "is a script, not $t/p" "$(cat wr.err)"
expect_has "a wrapper script: the hint names pmalloc resume" "pmalloc resume s.img" "$(cat wr.err)"
"$B/pmalloc" resume s.img >wp.out 2>wp.err
expect_eq "a wrapper's image: pmalloc resume resumes it" "pm_image 1" "$(cat wp.out)"
# a script whose "#!" names the imaged program itself resumes: no hint
printf '#!%s\n' "$t/p" >i.sh && chmod +x i.sh || die "i.sh"
"$B/pmalloc" run -- ./i.sh >i.out 2>i.err || die "imaging through i.sh: $(cat i.err)"
"$B/pmalloc" run --resume s.img -- ./i.sh >ir.out 2>ir.err
expect_eq "an interpreter script: resumed ($(cat ir.err))" "pm_image 1" "$(cat ir.out)"
case $(cat ir.err) in *"is a script"*) bad "an interpreter script: a hint on a resume that works" ;; esac
finish
