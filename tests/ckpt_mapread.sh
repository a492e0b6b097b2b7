#!/bin/sh
# ckpt_mapread.sh - the readers' checksum pass over pages mapped from the
# file (src/ckpt_verify.c): an 8 MiB checkpoint and an 80 MiB image (two
# threads) are checked through mappings (tests/prog/mapfault.c, preloaded
# in place of madvise(MADV_POPULATE_READ), shows the windows were made),
# and every way the mapped read can fail ends in a refusal with its
# reason, never in a signal:
#   - the file truncated after its pages were read in and before they are
#     checksummed (the pages leave the mapping: SIGBUS inside the pass),
#     for `pmalloc verify`, a restore at start-up and a resume, each then
#     running normally;
#   - a read error of the populate (EIO);
#   - a kernel without MADV_POPULATE_READ (EINVAL): read with pread, ok.
. "$(dirname "$0")/lib.sh"
norand true 2>/dev/null || skip "setarch -R does not work here"
shim=$B/tests/mapfault.so
prog=$B/tests/mapread
[ -f "$shim" ] && [ -x "$prog" ] || die "missing $shim or $prog"
cd "$t" || die "no $t"
# made under the shim (counting only), so that the libraries are where
# the restoring and resuming processes, also under it, have them
under() { env LD_PRELOAD="$shim" MAPFAULT_LOG="$t/log" "$@"; }
under MAPFAULT_MODE=count "$B/pmalloc" run -- "$prog" ckpt c.ck 8 >o 2>&1 || die "checkpoint: $(cat o)"
under MAPFAULT_MODE=count "$B/pmalloc" run -- "$prog" image i.img 80 >o 2>&1 || die "image: $(cat o)"
expect_eq "the saving runs" "saved 0" "$(cat o)"

rm -f log
under MAPFAULT_MODE=count "$B/pmalloc" verify c.ck i.img >o 2>&1
expect_eq "verify through mappings: exit" 0 $?
n=$(wc -l <log)
[ "$n" -ge 3 ] || bad "verify made $n mapped windows, want at least 3 (one for the checkpoint, two threads for the image)"

size=$(wc -c <i.img)
half=$((size / 2))
# truncated between the populate and the checksums
cp i.img j.img
under MAPFAULT_MODE=shrink MAPFAULT_FILE=j.img MAPFAULT_SIZE=$half \
	"$B/pmalloc" verify j.img >o 2>&1
rc=$?
expect_eq "verify of a file truncated under the pass: exit (1, not a signal)" 1 $rc
expect_has "verify of a file truncated under the pass: reason" "ends before its recorded end" "$(cat o)"

cp i.img j.img
under MAPFAULT_MODE=shrink MAPFAULT_FILE=j.img MAPFAULT_SIZE=$half \
	"$B/pmalloc" run --resume j.img -- "$prog" image k.img 80 >o 2>e
expect_eq "resume from a file truncated under the pass: exit" 0 $?
expect_has "resume from a file truncated under the pass: refused" "not resumed" "$(cat e)"
expect_has "resume from a file truncated under the pass: reason" "ends before its recorded end" "$(cat e)"
expect_eq "resume from a file truncated under the pass: a normal run" "saved 0" "$(cat o)"

cp c.ck d.ck
under MAPFAULT_MODE=shrink MAPFAULT_FILE=d.ck MAPFAULT_SIZE=4000000 \
	"$B/pmalloc" run --restore d.ck -- "$prog" ckpt e.ck 8 >o 2>e
expect_eq "restore from a file truncated under the pass: exit" 0 $?
expect_has "restore from a file truncated under the pass: reason" "ends before its recorded end" "$(cat e)"
expect_eq "restore from a file truncated under the pass: a normal run" "saved 0" "$(cat o)"

under MAPFAULT_MODE=eio "$B/pmalloc" verify i.img >o 2>&1
expect_eq "verify with a read error: exit" 1 $?
expect_has "verify with a read error: reason" "cannot read the checkpoint file: Input/output error" "$(cat o)"

under MAPFAULT_MODE=einval "$B/pmalloc" verify c.ck i.img >o 2>&1
expect_eq "verify without MADV_POPULATE_READ (pread): exit" 0 $?

# the same files, whole, still restore and resume through the mappings
rm -f log
under MAPFAULT_MODE=count "$B/pmalloc" run --restore c.ck -- "$prog" ckpt e.ck 8 >o 2>e
expect "restore through mappings" "restored *" "$(cat o) $(cat e)"
under MAPFAULT_MODE=count "$B/pmalloc" run --resume i.img -- "$prog" image i.img 80 >o 2>e
expect "resume through mappings" "resumed *" "$(cat o) $(cat e)"
[ -s log ] || bad "the restore and the resume made no mapped window"
finish
