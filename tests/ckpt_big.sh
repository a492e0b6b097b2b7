#!/bin/sh
# ckpt_big.sh - a checkpoint large enough (over 64 MiB of heap) that
# restore checks the heap's checksums on two threads, one half each: the
# file verifies and restores, and a byte flipped in either half, or right
# at the middle, is still found.
. "$(dirname "$0")/lib.sh"
wi="$B/examples/wordindex"
[ -x "$wi" ] || die "no $wi (make builds it)"
pm_run "$wi" -n 6000000 -c "$t/w.ckpt" be >/dev/null 2>&1 || die "build run"
size=$(stat -c %s "$t/w.ckpt")
[ "$size" -gt $((72 << 20)) ] || bad "file only $size bytes, want more than $((72 << 20))"
pm_verify "$t/w.ckpt" || bad "$t/w.ckpt does not verify"
pm_run "$wi" -n 6000000 -c "$t/w.ckpt" be 2>&1 |
	grep -q "restored from" || bad "no restore"
heap_off=$(od -An -tu8 -j144 -N8 "$t/w.ckpt" | tr -d ' ')
mid=$(( heap_off + (size - heap_off) / 2 ))
for at in $(( heap_off + (size - heap_off) / 4 )) $mid $(( mid - 1 )) $(( size - 100 )); do
	cp "$t/w.ckpt" "$t/bad.ckpt"
	b=$(od -An -tu1 -j"$at" -N1 "$t/bad.ckpt" | tr -d ' ')
	printf "$(printf '\\%03o' $(( (b + 1) % 256 )))" |
		dd of="$t/bad.ckpt" bs=1 seek="$at" conv=notrunc 2>/dev/null
	out=$("$B/pmalloc" verify "$t/bad.ckpt" 2>&1)
	expect_has "byte $at flipped: refused" "checksum mismatch" "$out"
done
exit $fail
