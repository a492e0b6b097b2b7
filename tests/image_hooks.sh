#!/bin/sh
# image_hooks.sh - hooks and libraries across a process image: a pipe
# makes pm_image refuse, naming its descriptor; pm_at_image hooks run in
# registration order before the image (closing it), pm_at_resume hooks in
# reverse order after a resume (opening a new one).  A library rebuilt
# between the image and the resume (same path, other contents) refuses
# the image, and the program runs normally.
. "$(dirname "$0")/lib.sh"
norand true 2>/dev/null || skip "setarch -R does not work here"
cd "$t" || die "no $t"
lib() { # VERSION
	echo "int imghook_version(void) { return $1; }" >imghook.c
	"$CC" -O2 -shared -fPIC -o libimghook.so imghook.c || die "cannot build the library"
}
lib 1
prog=$t/image_hooks
build_c "$prog" "$T/tests/prog/image_hooks.c" -L"$t" -limghook -Wl,-rpath,"$t"

pm_run "$prog" h.img nohooks >nohooks.out 2>&1
expect_rc "without hooks: exit" 3 sh -c "exit $?"
expect_has "without hooks: refused naming the pipe" "fd 3" "$(cat nohooks.out)"
[ -e h.img ] && bad "an image was written with a pipe open"

STOP=1 pm_run "$prog" h.img >stop.out 2>&1 || die "imaging run: $(cat stop.out)"
[ -s h.img ] || die "no image: $(cat stop.out)"
"$B/pmalloc" run --resume h.img -- "$prog" h.img >res.out 2>res.err
expect_eq "resume: exit" 0 $?
expect_eq "hooks in order" "rc 1 hooks i1i2r2r1 lib 1" "$(cat res.out)"

sleep 1 # another mtime
lib 2
"$B/pmalloc" run --resume h.img -- "$prog" h.img >lib.out 2>lib.err
expect_eq "rebuilt library: exit" 0 $?
expect_has "rebuilt library: refused" "not resumed" "$(cat lib.err)"
expect_has "rebuilt library: named" "libimghook.so" "$(cat lib.err)"
expect_eq "rebuilt library: normal run" "rc 0 hooks i1i2 lib 2" "$(cat lib.out)"
finish
