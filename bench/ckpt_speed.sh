#!/bin/sh
# ckpt_speed.sh - checkpoint and restore speed against the plain file-system
# operations they are made of, side by side in one run; markdown on stdout
# (`make bench` appends it to docs/PERFORMANCE.md).
#
#   make bench-ckpt-bins && sh bench/ckpt_speed.sh
#
# Knobs: CKPT_SPEED_MB=1024 (MiB live in the heap), CKPT_SPEED_REPS=3,
# CKPT_SPEED_DIR (where the files go; default $BENCH_RESULTS, else $TMPDIR,
# else /tmp; put it on a disk, not a tmpfs, to measure a disk).
# Needs about 2 x CKPT_SPEED_REPS x CKPT_SPEED_MB of free disk (no file is
# deleted while timing) and 2 x CKPT_SPEED_MB of memory.
B=${PMALLOC_BUILD:-build}
MB=${CKPT_SPEED_MB:-1024}
REPS=${CKPT_SPEED_REPS:-3}
DIR=${CKPT_SPEED_DIR:-${BENCH_RESULTS:-${TMPDIR:-/tmp}}}
X=$B/bench/ckpt_speed
PM=$B/pmalloc

if [ ! -x "$X" ] || [ ! -x "$PM" ]; then
	echo "ckpt_speed: $X or $PM is missing (make all bench-ckpt-bins)" >&2
	exit 1
fi
mkdir -p "$DIR"
D=$(mktemp -d "$DIR/ckpt_speed.XXXXXX") || exit 1
trap 'rm -rf "$D"' EXIT
trap 'exit 1' INT TERM
F=$D/heap.ckpt
fs=$(stat -f -c %T "$D" 2>/dev/null || echo "?")

# median of the numbers on stdin
med() {
	sort -n | awk '{ a[NR] = $1 }
		END { if (NR % 2) print a[(NR + 1) / 2];
		      else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

# 1. checkpoint vs write+fsync (in one process: the same heap for both)
"$PM" run -- "$X" make "$F" "$MB" "$REPS" >"$D/make.out" || {
	echo "ckpt_speed: the checkpoint run failed" >&2; exit 1; }
tw=$(awk '$1 == "rep" { print $4 }' "$D/make.out" | med)
tc=$(awk '$1 == "rep" { print $6 }' "$D/make.out" | med)
# shellcheck disable=SC2046 # split into the five numbers
set -- $(awk '$1 == "live" { print $2, $4, $6, $8, $10 }' "$D/make.out")
live=$1 blocks=$2 extent=$3 fsize=$4 meta=$5

# 2. restores (each a fresh process) vs one read() pass, file in the page
# cache (it was just written; one read first makes sure)
"$X" read "$F" >/dev/null
: >"$D/read"; : >"$D/rv"; : >"$D/rn"
r=0
# shellcheck disable=SC2015 # any failure of the three ends the run
while [ $r -lt "$REPS" ]; do
	"$X" read "$F" >>"$D/read" &&
	"$PM" run -- "$X" restore "$F" >>"$D/rv" &&
	"$PM" run -- "$X" restore "$F" nv >>"$D/rn" || {
		echo "ckpt_speed: a restore failed" >&2; exit 1; }
	r=$((r + 1))
done
trd=$(med <"$D/read")
trv=$(med <"$D/rv")
trn=$(med <"$D/rn")
"$PM" verify "$F" >/dev/null || { echo "ckpt_speed: verify failed" >&2; exit 1; }
nsec=$("$PM" info "$F" | sed -n 's/^sections (\([0-9]*\)).*/\1/p')

# ratio A B, and "yes"/"no" for A <= LIMIT
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
met() { awk -v a="$1" -v l="$2" 'BEGIN { print (a <= l ? "yes" : "**no**") }'; }
mib() { awk -v a="$1" 'BEGIN { printf "%.1f", a / 1048576 }'; }
kib() { awk -v a="$1" 'BEGIN { printf "%.0f", a / 1024 }'; }
list() { tr '\n' ' ' | sed 's/ $//; s/ /, /g'; }
reps() { awk -v f="$1" '$1 == "rep" { print $f }' "$D/make.out"; }

rc=$(ratio "$tc" "$tw")
rs=$(awk -v f="$fsize" -v m="$meta" -v l="$live" \
	'BEGIN { printf "%.3f", (f - m) / l }')
rr=$(ratio "$trv" "$trd")
ms=$(awk -v t="$trn" 'BEGIN { printf "%.1f", t * 1000 }')

cat <<EOT
### Checkpoint and restore speed (\`bench/ckpt_speed.sh\`)

A heap of $(mib "$live") MiB in $blocks live blocks (mostly 16 B..1 KiB,
one in sixteen 1..64 KiB, one in ten freed again; every byte written with
incompressible data; used extent $(mib "$extent") MiB).  Each measurement
is side by side with the plain file-system work it replaces, in the same
run, on the same file system ($fs, as \`stat -f\` names it); $REPS
repetitions, medians.

* **checkpoint**: \`pm_checkpoint()\` (temp file, checksums, fsync,
  rename) against \`write()\` of as many bytes of the heap in 1 MiB
  pieces to a new file in the same directory plus \`fsync()\`; both in the same
  process, alternating which goes first, each after a \`sync\`, each to
  a new file (none is deleted until the timing is done).
* **file size**: the checkpoint file against the live bytes; metadata =
  the bytes before the heap data (header, tables, globals, padding).
* **restore**: \`pm_restore()\` in a fresh process (\`pmalloc run\`), file
  in the page cache, against one \`read()\` pass over the file in 1 MiB
  pieces; without checksums (\`PM_RESTORE_NO_VERIFY\`) the heap is
  mapped from the file and read on first touch (the file has $nsec
  sections: the free gaps between them are left out of the file).

| | pmalloc | reference | ratio | target | met |
|---|---:|---:|---:|---:|:---:|
| checkpoint | $tc s | write+fsync $tw s | $rc | <= 1.2 | $(met "$rc" 1.2) |
| file size | $(mib "$fsize") MiB | live $(mib "$live") MiB + metadata $(kib "$meta") KiB | $rs | <= 1.05 | $(met "$rs" 1.05) |
| restore, checksums | $trv s | one read() pass $trd s | $rr | <= 2 | $(met "$rr" 2) |
| restore, no checksums | $ms ms | | | < 20 ms | $(met "$trn" 0.02) |

Ratios are of the medians.  Every run (seconds): checkpoint
$(reps 6 | list); write+fsync $(reps 4 | list); restore
$(list <"$D/rv"); read pass $(list <"$D/read"); no-checksum restore
$(list <"$D/rn").

For reference: CRIU 4.2 measured here took 0.57 s to dump and 3.76 s to
restore a 1 GiB heap (a whole-process dump and restore, not the same work).

Reproduce: \`make all bench-ckpt-bins && sh bench/ckpt_speed.sh\`
(\`CKPT_SPEED_MB=1024\`, \`CKPT_SPEED_REPS=3\`, \`CKPT_SPEED_DIR=\` a
directory on the disk to measure).
EOT
