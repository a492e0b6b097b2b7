#!/bin/sh
# image_zeros.sh - pages of zeros in long streaks are left out of a
# process image (docs/IMAGE.md, "What an image holds") and read as zeros
# after the resume: tests/prog/image_zeros fills a 16 MiB heap table and
# a 4 MiB anonymous mapping with zeros, marks a few pages, and is imaged.
# The image must be much smaller than the table; the same program with
# the table full of ones must carry it.  The resumed run must print what
# an uninterrupted one prints (every word checked, then written).
. "$(dirname "$0")/lib.sh"
norand true 2>/dev/null || skip "setarch -R does not work here"
prog=$t/image_zeros
build_c "$prog" "$T/tests/prog/image_zeros.c"
cd "$t" || die "no $t"
size() { sed -n 's/^file size: *\([0-9]*\).*/\1/p' "$1"; }

pm_run "$prog" ref.img >ref.out 2>ref.err || die "uninterrupted run: $(cat ref.err)"
expect_eq "uninterrupted run" \
	"table wrong words 0, mapping wrong words 0, written 5120" "$(cat ref.out)"

STOP=1 pm_run "$prog" z.img >/dev/null 2>z.err || die "imaging run: $(cat z.err)"
"$B/pmalloc" info z.img >z.info 2>&1 || die "pmalloc info: $(cat z.info)"
STOP=1 pm_run "$prog" f.img fill >/dev/null 2>f.err || die "imaging run (fill): $(cat f.err)"
"$B/pmalloc" info f.img >f.info 2>&1 || die "pmalloc info: $(cat f.info)"
zs=$(size z.info) fs=$(size f.info)
echo "image sizes: zeros $zs, ones $fs"
[ -n "$zs" ] && [ -n "$fs" ] || die "no file size in pmalloc info"
# the ones' image carries the 16 MiB table; the zeros' one leaves out all
# but the marked pages and the short streak between two of them
[ "$fs" -gt $((16 << 20)) ] || bad "the filled table's image is $fs bytes, under 16 MiB"
[ "$zs" -lt $((1 << 20)) ] ||
	bad "the zero table and mapping were saved: $zs bytes against $fs"
pm_verify z.img || bad "z.img does not verify"

"$B/pmalloc" run --resume z.img -- "$prog" z.img >r.out 2>r.err || bad "resume: exit $?"
expect_has "resumed" "pm_image = 1" "$(cat r.err)"
same_output "resumed output" ref.out r.out
"$B/pmalloc" run --resume f.img -- "$prog" f.img fill >rf.out 2>rf.err || bad "resume (fill): exit $?"
expect_has "resumed (fill)" "pm_image = 1" "$(cat rf.err)"
expect_eq "resumed output (fill)" \
	"table wrong words 0, mapping wrong words 0, written 5120" "$(cat rf.out)"
finish
