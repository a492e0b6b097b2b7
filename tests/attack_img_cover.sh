#!/bin/sh
# attack_img_cover.sh - the pages of an image a reader can account for,
# damaged with every checksum recomputed.  A readable copied mapping of a
# file is saved whole by the writer (image_maps.c); its last page cut
# off (the section shortened, the file truncated to match) verified and
# resumed with that page zero: ld.so's data lost a page and the resumed
# program died of SIGSEGV.  pmalloc's region header is a page every image
# holds at the region's base; the run holding it moved one page up (the
# header page then reads as zero), or the header's magic flipped, or the
# file header's top disagreeing with it, resumed and the program's first
# malloc aborted ("corrupted free chunk").  Each is refused, by
# `pmalloc verify` too, and the program then runs normally.
. "$(dirname "$0")/lib.sh"
. "$T/tests/prog/img_attack.sh"

verify_refuses() { # WHAT REASON IMG
	out=$("$B/pmalloc" verify "$3" 2>&1) && bad "$1: pmalloc verify passed: $out"
	expect_has "$1: pmalloc verify" "$2" "$out"
}

# the last section: a copied mapping of a file (ld.so's data) in the
# base image; shortened by a page, the file and its header's sizes too
last=$("$B/pmalloc" info "$base" | awk '$2 == "pages" { n++ } END { print n - 1 }')
damaged short sec 8 "$last" 16 8 -4096
size=$(wc -c <"$t/short.img")
truncate -s $((size - 4096)) "$t/short.img" || die "truncate"
"$craft" "$t/short.img" hdr 56 8 -4096 && "$craft" "$t/short.img" hdr 112 8 -4096 &&
	"$craft" "$t/short.img" abs 0 1 +0 || die "img_craft short"
why="a copied file mapping not saved whole"
verify_refuses "a file mapping without its last page" "$why" "$t/short.img"
refused "a file mapping without its last page" "$why" "$t/short.img"

# the first run of pages starts at the region header; moved a page up
# (the next run starts further on in this image)
damaged moved sec 8 0 8 8 +4096
why="no page saved at the region's base"
verify_refuses "the region header page moved" "$why" "$t/moved.img"
refused "the region header page moved" "$why" "$t/moved.img"

# the region header's magic (its first 8 bytes), flipped
off=$("$B/pmalloc" info "$base" | awk '$2 == "pages" { print $6; exit }')
damaged magic abs "$off" 8 ^1
verify_refuses "the region header's magic" "region header" "$t/magic.img"
refused "the region header's magic" "region header" "$t/magic.img"

# the file header's top of the used extent, not the region header's
damaged top hdr 48 8 +4096
"$craft" "$t/top.img" abs 0 1 +0 || die "img_craft top"
why="region header disagrees with the file header"
verify_refuses "the header's top" "$why" "$t/top.img"
refused "the header's top" "$why" "$t/top.img"
PMALLOC_RESUME_VERIFY=0 refused "the header's top, no checksums" "$why" "$t/top.img"
finish
