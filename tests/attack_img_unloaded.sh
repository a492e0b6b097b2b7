#!/bin/sh
# attack_img_unloaded.sh - `pmalloc run --resume` of a program the loader
# will not preload pmalloc into: a set-user-ID program (run by another
# user: the kernel's AT_SECURE) and a statically linked one.  Was: the
# program ran from main() and nothing said the image was not resumed
# (the library, which prints that line, was never loaded).  Now the CLI
# says it, in the library's words, and the program still runs normally:
# same output, same exit code.  A dynamic program the same way gets no
# such line from the CLI.
. "$(dirname "$0")/lib.sh"
cd "$t" || die "no $t"
printf '%s\n' '#include <stdio.h>' \
	'int main(void) { puts("ran from main"); return 3; }' >p.c
"$CC" -O2 -o dyn p.c || die "cannot build p.c"
# an image that is not one: the program is to run normally either way
: >some.img
run() { # WHAT PROG: PROG under run --resume; $out, $err, $rc
	"$B/pmalloc" run --resume some.img -- "$2" >out 2>err
	rc=$?
}
if "$CC" -O2 -static -o static p.c 2>/dev/null; then
	run static ./static
	expect_eq "static: exit code" 3 "$rc"
	expect_eq "static: output" "ran from main" "$(cat out)"
	expect_has "static: said" "pmalloc: not resumed: ./static is statically linked" "$(cat err)"
else
	echo "no static libc here: the static case skipped"
fi
run dynamic ./dyn
expect_eq "dynamic: exit code" 3 "$rc"
grep -q "statically linked\|set-user-ID" err && bad "dynamic: the CLI said: $(cat err)"
expect_has "dynamic: the library's refusal" "pmalloc: not resumed" "$(cat err)"
if [ "$(id -u)" -eq 0 ]; then
	cp dyn suid && chown 65534 suid && chmod 4755 suid || die "cannot make suid"
	run setuid ./suid
	expect_eq "setuid: exit code" 3 "$rc"
	expect_eq "setuid: output" "ran from main" "$(cat out)"
	expect_has "setuid: said" "pmalloc: not resumed: ./suid is set-user-ID" "$(cat err)"
	# found in PATH too
	PATH=$t:$PATH "$B/pmalloc" run --resume some.img -- suid >out 2>err
	expect_has "setuid, by PATH: said" "pmalloc: not resumed: $t/suid is set-user-ID" "$(cat err)"
else
	echo "not root: the set-user-ID case skipped"
fi
finish
