#!/bin/sh
# attack_img_vmas.sh - a mapping of an image outside user space.  The
# reader checked order, alignment and classes but not where a mapping
# lies: the image's last mapping ([vsyscall]) made a copied mapping at
# 0x800000000000 (crcs recomputed) verified, and the resume died after
# its point of no return ("resume failed at step N: errno 12").  A
# mapping other than the kernel's must lie in [page size, 2^47) (and a
# resume refuses one below vm.mmap_min_addr).
. "$(dirname "$0")/lib.sh"
. "$T/tests/prog/img_attack.sh"

i=$("$craft" "$base" vma "[vsyscall]") || skip "no [vsyscall] mapping here"
o=$((i * 64))
# struct pmf_vma: start 0, end 8, prot 40, vclass 44 (2: copied)
damaged high rec 6 $o 8 0x800000000000
"$craft" "$t/high.img" rec 6 $((o + 8)) 8 0x800000001000 &&
	"$craft" "$t/high.img" rec 6 $((o + 40)) 4 3 &&
	"$craft" "$t/high.img" rec 6 $((o + 44)) 4 2 || die "img_craft"
refused "a copied mapping above user space" "not a user address range" "$t/high.img"
"$B/pmalloc" verify "$t/high.img" >"$t/v.out" 2>&1
expect_eq "pmalloc verify of it: exit" 1 "$?"
damaged zero rec 6 0 8 0
refused "a mapping at address 0" "not a user address range" "$t/zero.img"
finish
