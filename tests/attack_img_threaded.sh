#!/bin/sh
# attack_img_threaded.sh - an image of a process that once had a second
# thread (created and joined before pm_image; or the checksum helper of a
# resume that was refused, then the program's own pm_image) verifies and
# resumes.  Was: "data checksum mismatch" on the two pages that hold the
# saving thread's TCB, every time: image_write.c's write_pages writes the
# pages straight from memory with pwrite(2), a cancellation point, which
# in a process that has ever been multi-threaded sets the asynchronous
# cancellation bit of the caller's struct pthread (cancelhandling) for the
# duration of the call: the kernel copies the page with the bit set, the
# crc is summed after, with it clear.
# Fixed: write_pages writes the pages of the thread's descriptor (and the
# TLS page below) from a copy, the bytes it sums.
. "$(dirname "$0")/lib.sh"
norand true 2>/dev/null || skip "setarch -R does not work here"
prog=$t/img_threaded
build_c "$prog" "$T/tests/prog/img_threaded.c" -pthread
cd "$t" || die "no $t"
pm_run "$prog" t.img >o 2>e || die "saving run: $(cat e)"
expect_eq "the saving run" "saved 0" "$(cat o)"
"$B/pmalloc" verify t.img >v 2>&1
expect_eq "the image verifies: exit" 0 $?
expect_has "the image verifies" "t.img: ok" "$(cat v)"
"$B/pmalloc" run --resume t.img -- "$prog" t.img >o 2>e
expect_eq "the image resumes" "resumed 1" "$(cat o)"
grep "not resumed" e && bad "refused: $(cat e)"
finish
