#!/bin/sh
# attack_img_vdso.sh - the vDSO's length in an image's process record is
# a number from the file: the resume hashed that many bytes from this
# process's vDSO, so a damaged length (or an image from a kernel with a
# larger vDSO) read past the mapping and the process died of SIGSEGV
# before it could refuse.  The length must be the image's [vdso]
# mapping's (reader, pmalloc verify too) and this process's (resume).
# Also the refusals for another kernel (the vDSO's bytes differ) and
# another CPU (CPUID leaves 1 and 7), which one machine can only show
# with images crafted to say so.
. "$(dirname "$0")/lib.sh"
. "$T/tests/prog/img_attack.sh"

# struct pmf_proc: vdso_len at 32 (PMF_SEC_PROC = 12)
damaged len1m rec 12 32 8 0x100000
refused "vDSO length 1 MiB" "vDSO" "$t/len1m.img"
"$B/pmalloc" verify "$t/len1m.img" >"$t/v.out" 2>&1
expect_eq "pmalloc verify of a vDSO length 1 MiB: exit" 1 "$?"
damaged lenbig rec 12 32 8 +0x10000
refused "vDSO length 64 KiB more" "vDSO" "$t/lenbig.img"
# an image whose vDSO is smaller than this kernel's (consistent in itself:
# the mapping and the record agree): refused for its length, by the resume
i=$("$craft" "$base" vma "[vdso]") || die "no [vdso] in the image"
damaged small rec 6 $((i * 64 + 8)) 8 -4096
"$craft" "$t/small.img" rec 12 32 8 -4096 || die "img_craft"
refused "a smaller vDSO" "the vDSO here is" "$t/small.img"
# another kernel's vDSO (its SHA-256 at offset 40 of the process record)
damaged otherkernel rec 12 40 8 ^1
refused "another kernel's vDSO" "vDSO differs" "$t/otherkernel.img"
# another CPU: CPUID leaf 1 (offset 128) and leaf 7 ebx (offset 148)
damaged othercpu rec 12 128 4 ^0x10
refused "another CPU model" "another CPU" "$t/othercpu.img"
damaged otherfeat rec 12 148 4 ^0x20
refused "another CPU feature set" "another CPU" "$t/otherfeat.img"
finish
