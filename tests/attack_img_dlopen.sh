#!/bin/sh
# attack_img_dlopen.sh - a library the imaged process had loaded with
# dlopen (Python's ctypes here), rebuilt and written over the same file
# before the resume: same size, its mtime put back (or a rebuild within
# the same second), same inode.  The resume compared only the size and
# the mtime in seconds, mapped the new code under the image's data, and
# the resumed Python printed "111 222": the first call's result from the
# old library, the second's from the new one, a line no run of the
# program prints.  The file's build-id is now compared with the image's:
# refused, and the normal run prints the new library's "222 222".
. "$(dirname "$0")/lib.sh"
norand true 2>/dev/null || skip "setarch -R does not work here"
if [ -x /usr/bin/python3 ]; then py=/usr/bin/python3; else need python3; py=$(command -v python3); fi
cd "$t" || die "no $t"
printf 'int f(void) { return 111; }\n' >m1.c
printf 'int f(void) { return 222; }\n' >m2.c
"$CC" -shared -fPIC -o libm.so m1.c && "$CC" -shared -fPIC -o new.so m2.c ||
	die "cannot build the libraries"
[ "$(wc -c <libm.so)" = "$(wc -c <new.so)" ] ||
	skip "the two builds differ in size here (the case needs the same size)"
cp -p libm.so old.so
cat >job.py <<'EOF2'
import ctypes, os, sys
lib = ctypes.CDLL(os.path.abspath("libm.so"))
a = lib.f()
if os.environ.get("IMG"):
    rc = ctypes.CDLL(None).pm_image(os.environ["IMG"].encode())
    print("pm_image", rc, file=sys.stderr)
print(a, lib.f())
EOF2
IMG=s.img "$B/pmalloc" run -- "$py" job.py >make.out 2>make.err ||
	die "imaging run: $(cat make.err)"
expect_eq "imaging run" "pm_image 0" "$(cat make.err)"
"$B/pmalloc" run --resume s.img -- "$py" job.py >ok.out 2>ok.err
expect_eq "unchanged library: resumed" "pm_image 1" "$(cat ok.err)"
expect_eq "unchanged library: output" "111 111" "$(cat ok.out)"

cat new.so >libm.so && touch -r old.so libm.so || die "cannot rewrite libm.so"
"$B/pmalloc" run --resume s.img -- "$py" job.py >new.out 2>new.err
rc=$?
expect_eq "rewritten library: exit status" 0 "$rc"
expect_has "rewritten library: refused" \
	"pmalloc: not resumed: $t/s.img: $t/libm.so, loaded by the imaged process, is gone or changed" \
	"$(cat new.err)"
expect_eq "rewritten library: one line on stderr" 1 "$(grep -c . new.err)"
expect_eq "rewritten library: a normal run's output" "222 222" "$(cat new.out)"
finish
