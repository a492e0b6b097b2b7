#!/bin/sh
# attack_busguard.sh - the SIGBUS handler of the readers' mapped checksum
# pass (src/ckpt_verify.c) must be invisible to the process's own SIGBUS:
#   - a SIGBUS sent to the process while the pass runs (kill, not a fault
#     of the pass) goes to the disposition the process had: with the
#     default, `pmalloc verify` dies of it (was: swallowed, exit 0);
#   - a program with SIGBUS blocked and pending calls pm_restore: the
#     signal is still pending and blocked after (was: taken by the
#     handler when the pass unblocked SIGBUS, and lost);
#   - a program's own SIGBUS handler (SA_SIGINFO, SA_ONSTACK, a mask)
#     reads back the same after a refused pm_restore, and the program's
#     next SIGBUS fault reaches it;
#   - two threads of a program call pm_restore at once, the second
#     guarding while the first is in its pass: SIGBUS's disposition is
#     the default after both (was: pmalloc's handler left installed, and
#     the program's next SIGBUS fault looped in it forever).
. "$(dirname "$0")/lib.sh"
shim=$B/tests/mapfault.so
prog=$B/tests/mapread
[ -f "$shim" ] && [ -x "$prog" ] || die "missing $shim or $prog"
cd "$t" || die "no $t"
build_c "$t/busguard" "$T/tests/prog/busguard.c" -pthread
# made under the shim, as the restoring runs are (the libraries where they
# have them)
env LD_PRELOAD="$shim" MAPFAULT_MODE=count "$B/pmalloc" run -- "$t/busguard" save c.ck >o 2>&1 || die "checkpoint: $(cat o)"
expect_eq "the saving run" "saved 0" "$(cat o)"

env LD_PRELOAD="$shim" MAPFAULT_MODE=sigbus "$B/pmalloc" verify c.ck >o 2>&1
expect_eq "verify with a SIGBUS sent during the pass: exit (killed by SIGBUS)" 135 $?

# refused after the pass (a byte of the heap changed): the process's own
# state must be as before
cp c.ck bad.ck
size=$(wc -c <c.ck)
printf 'Z' | dd of=bad.ck bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
env LD_PRELOAD="$shim" MAPFAULT_MODE=count "$B/pmalloc" run -- "$t/busguard" pending bad.ck >o 2>e
expect_eq "pm_restore with SIGBUS blocked and pending" \
	"rc -1 pending 1 blocked 1 handler dfl" "$(cat o)"
expect_has "pm_restore with SIGBUS pending: refused for the checksum" "checksum" "$(cat e)"

env LD_PRELOAD="$shim" MAPFAULT_MODE=count "$B/pmalloc" run -- "$t/busguard" own bad.ck >o 2>e
expect_eq "pm_restore with the program's own SIGBUS handler" "same 1 got 1" "$(cat o)"

env LD_PRELOAD="$shim" MAPFAULT_MODE=hold MAPFAULT_HELD="$t/held" \
	MAPFAULT_RELEASE="$t/release" "$B/pmalloc" run -- "$t/busguard" race bad.ck "$t/held" "$t/release" >o 2>e
expect_eq "two restores at once: SIGBUS's disposition after" "handler dfl" "$(cat o)"
finish
