#!/bin/sh
# ckpt_image.sh - process image speed (issue 9 "Speed") against the plain
# file-system operations it is made of, side by side in one run; markdown
# on stdout (`make bench` appends it to docs/PERFORMANCE.md).
#
#   make all bench-ckpt-bins && sh bench/ckpt_image.sh
#
# Knobs: IMAGE_SPEED_MB=1024 (MiB live in the heap of the saving run),
# IMAGE_SPEED_RESUME_MB=96 (MiB live in the resumed image's heap: a file of
# about 100 MiB), IMAGE_SPEED_REPS=3 (saves), IMAGE_SPEED_RESUMES=5,
# IMAGE_SPEED_DIR (where the files go; default $BENCH_RESULTS, else
# $TMPDIR, else /tmp; on a disk, not a tmpfs, to measure a disk).
# Needs about 2 x IMAGE_SPEED_REPS x IMAGE_SPEED_MB of free disk and
# 2 x IMAGE_SPEED_MB of memory.
B=${PMALLOC_BUILD:-build}
MB=${IMAGE_SPEED_MB:-1024}
RMB=${IMAGE_SPEED_RESUME_MB:-96}
REPS=${IMAGE_SPEED_REPS:-3}
RES=${IMAGE_SPEED_RESUMES:-5}
DIR=${IMAGE_SPEED_DIR:-${BENCH_RESULTS:-${TMPDIR:-/tmp}}}
X=$(cd "$(dirname "$B/bench/ckpt_image")" 2>/dev/null && pwd)/ckpt_image
LIB=$(cd "$B" 2>/dev/null && pwd)/libpmalloc.so

if [ ! -x "$X" ] || [ ! -f "$LIB" ]; then
	echo "ckpt_image: $X or $LIB is missing (make all bench-ckpt-bins)" >&2
	exit 1
fi
mkdir -p "$DIR"
D=$(cd "$(mktemp -d "$DIR/ckpt_image.XXXXXX")" && pwd) || exit 1
trap 'rm -rf "$D"' EXIT
trap 'exit 1' INT TERM
fs=$(stat -f -c %T "$D" 2>/dev/null || echo "?")

med() {
	sort -n | awk '{ a[NR] = $1 }
		END { if (NR % 2) print a[(NR + 1) / 2];
		      else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
# the imaging run and the resuming one: the same preload, ASLR off
make_run() { # FILE MB REPS
	setarch "$(uname -m)" -R env LD_PRELOAD="$LIB" "$X" make "$@"
}
resume_run() { # FILE MB REPS VERIFY
	env LD_PRELOAD="$LIB" "$X" exec "$1.t0" "$1" "$4" "$X" make "$1" "$2" "$3"
}

# 1. saving a big heap: pm_image vs write+fsync, and the file's size
F=$D/big.img
make_run "$F" "$MB" "$REPS" >"$D/make.out" || {
	echo "ckpt_image: the imaging run failed" >&2; exit 1; }
tw=$(awk '$1 == "rep" { print $4 }' "$D/make.out" | med)
ti=$(awk '$1 == "rep" { print $6 }' "$D/make.out" | med)
# shellcheck disable=SC2046 # split into the five numbers
set -- $(awk '$1 == "live" { print $2, $4, $6, $8, $10 }' "$D/make.out")
live=$1 fsize=$2 recs=$3 hpages=$4 opages=$5
rm -f "$F"

# 2. resuming a ~100 MiB image (each a fresh process), file in the page
# cache, against one read() pass
R=$D/resume.img
make_run "$R" "$RMB" "$REPS" >"$D/rmake.out" || {
	echo "ckpt_image: the second imaging run failed" >&2; exit 1; }
rsize=$(awk '$1 == "live" { print $4 }' "$D/rmake.out")
# (the smaller heap's saves too: what does not grow with the heap)
tw2=$(awk '$1 == "rep" { print $4 }' "$D/rmake.out" | med)
ti2=$(awk '$1 == "rep" { print $6 }' "$D/rmake.out" | med)
"$X" read "$R" >/dev/null
: >"$D/read"; : >"$D/rv"; : >"$D/rn"
r=0
# shellcheck disable=SC2015 # any failure of the three ends the run
while [ $r -lt "$RES" ]; do
	"$X" read "$R" >>"$D/read" || exit 1
	resume_run "$R" "$RMB" "$REPS" 1 >"$D/one" 2>"$D/one.err" &&
		sed -n 's/^resume_s //p' "$D/one" >>"$D/rv" &&
		resume_run "$R" "$RMB" "$REPS" 0 >"$D/one" 2>"$D/one.err" &&
		sed -n 's/^resume_s //p' "$D/one" >>"$D/rn" || {
		echo "ckpt_image: a resume failed: $(cat "$D/one.err")" >&2
		exit 1
	}
	r=$((r + 1))
done
# shellcheck disable=SC2015 # the same
[ "$(wc -l <"$D/rn")" -eq "$RES" ] && [ "$(wc -l <"$D/rv")" -eq "$RES" ] || {
	echo "ckpt_image: a resume printed no time: $(cat "$D/one.err")" >&2
	exit 1
}
trd=$(med <"$D/read")
trv=$(med <"$D/rv")
trn=$(med <"$D/rn")

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
met() { awk -v a="$1" -v l="$2" 'BEGIN { print (a <= l ? "yes" : "**no**") }'; }
mib() { awk -v a="$1" 'BEGIN { printf "%.1f", a / 1048576 }'; }
kib() { awk -v a="$1" 'BEGIN { printf "%.0f", a / 1024 }'; }
list() { tr '\n' ' ' | sed 's/ $//; s/ /, /g'; }
reps() { awk -v f="$1" '$1 == "rep" { print $f }' "${2:-$D/make.out}"; }

ri=$(ratio "$ti" "$tw")
ri2=$(ratio "$ti2" "$tw2")
rs=$(awk -v f="$fsize" -v m="$recs" -v l="$live" -v o="$opages" \
	'BEGIN { printf "%.3f", (f - m) / (l + o) }')
rr=$(ratio "$trv" "$trd")
ms=$(awk -v t="$trn" 'BEGIN { printf "%.1f", t * 1000 }')

cat <<EOT
### Process images (\`bench/ckpt_image.sh\`)

\`pm_image()\` of a process whose heap holds $(mib "$live") MiB in live
blocks (bench/ckpt_image.c; blocks of mixed sizes as in
bench/ckpt_speed.c, every byte written), and \`pmalloc run --resume\`
of an image of $(mib "$rsize") MiB ($RMB MiB live).  Each measurement is side by side with the plain
file-system work it replaces, in the same run, on the same file system
($fs); $REPS saves, $RES resumes of each kind, medians.

* **save**: \`pm_image()\` (maps walk, kernel state, temp file,
  checksums, fsync, rename) against \`write()\` of as many bytes of
  memory in 1 MiB pieces to a new file plus \`fsync()\`; in the same
  process, alternating which goes first, each after a \`sync\`.  The
  target is for the big heap; the second row shows the same for the
  resumed image's heap (the part of the work that does not grow with
  the heap weighs more there).
* **image size**: the file without its records (header, tables, records,
  padding: $(kib "$recs") KiB) against the live heap bytes plus the other
  writable memory the image must carry: the pages saved outside
  pmalloc's region, $(kib "$opages") KiB (the executable's and the
  libraries' data, the brk heap, anonymous mappings; the stack is one of
  the records).  The pages of pmalloc's region in the file:
  $(mib "$hpages") MiB.
* **resume**: from just before \`execve()\` of the resuming process
  (\`ckpt_image exec\` reads \`CLOCK_MONOTONIC\`, writes it to a file and
  execs the program with \`PMALLOC_RESUME\` set, as \`pmalloc run
  --resume\` does) to the return of \`pm_image()\` in the resumed
  process (which reads the clock at once and the start time from that
  file: its memory, environment and argv are the image's); image in the
  page cache.  With checksums against one \`read()\` pass over the file
  in 1 MiB pieces; without (\`--no-verify\`, \`PMALLOC_RESUME_VERIFY=0\`)
  against the 20 ms target.  In both, the writable pages are mapped from
  the image (\`MAP_PRIVATE\`) and read on first touch: the time does not
  include the resumed program's page faults.

| | pmalloc | reference | ratio | target | met |
|---|---:|---:|---:|---:|:---:|
| save | $ti s | write+fsync $tw s | $ri | <= 1.2 | $(met "$ri" 1.2) |
| save, $RMB MiB live | $ti2 s | write+fsync $tw2 s | $ri2 | | |
| image size | $(mib "$((fsize - recs))") MiB | live $(mib "$live") MiB + other $(mib "$opages") MiB | $rs | <= 1.05 | $(met "$rs" 1.05) |
| resume, checksums | $trv s | one read() pass $trd s | $rr | <= 2 | $(met "$rr" 2) |
| resume, no checksums | $ms ms | | | < 20 ms | $(met "$trn" 0.02) |

Ratios are of the medians.  Every run (seconds): save $(reps 6 | list);
write+fsync $(reps 4 | list); with $RMB MiB live, save
$(reps 6 "$D/rmake.out" | list), write+fsync $(reps 4 "$D/rmake.out" | list);
resume $(list <"$D/rv"); read pass
$(list <"$D/read"); no-checksum resume $(list <"$D/rn").

Reproduce: \`make all bench-ckpt-bins && sh bench/ckpt_image.sh\`
(\`IMAGE_SPEED_MB=$MB\`, \`IMAGE_SPEED_RESUME_MB=$RMB\`,
\`IMAGE_SPEED_REPS=$REPS\`, \`IMAGE_SPEED_RESUMES=$RES\`,
\`IMAGE_SPEED_DIR=\` a directory on the disk to measure).
EOT
