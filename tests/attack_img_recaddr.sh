#!/bin/sh
# attack_img_recaddr.sh - the section table's addr of an image's records:
# only the stack record has one (the saved stack pointer), the writer
# puts 0 in every other.  A damaged addr (table crc recomputed) was
# ignored and the image resumed: a reader that trusts nothing it can
# compute refuses it.
. "$(dirname "$0")/lib.sh"
. "$T/tests/prog/img_attack.sh"

# struct pmf_section: addr at 8; kinds VMAS 6, STRINGS 7, CPU 10,
# SIGNALS 11, PROC 12, FDS 13
for k in 6 7 10 11 12 13; do
	damaged rec$k sec $k 0 8 8 ^0x1000
	refused "kind $k with an address" "an address on a record" "$t/rec$k.img"
done
finish
