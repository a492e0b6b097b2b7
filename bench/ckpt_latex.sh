#!/bin/sh
# ckpt_latex.sh - the LuaLaTeX showcase's timings (issue 9 "Speed": a
# resumed compile at most 1/10 of a full compile of the same document) as
# medians over several runs of examples/latex/run.sh; markdown on stdout
# (`make bench` appends it to docs/PERFORMANCE.md).
#
#   make all && sh bench/ckpt_latex.sh
#
# Knobs: LATEX_RUNS=5.  Without lualatex it says so and exits 0.
B=${PMALLOC_BUILD:-build}
RUNS=${LATEX_RUNS:-5}
TOP=$(cd "$(dirname "$0")/.." && pwd)
if ! command -v lualatex >/dev/null 2>&1; then
	printf '%s\n\n%s\n' "### The LuaLaTeX showcase (\`bench/ckpt_latex.sh\`)" \
		"Not measured: lualatex is not installed."
	exit 0
fi
D=$(mktemp -d "${TMPDIR:-/tmp}/ckpt_latex.XXXXXX") || exit 1
trap 'rm -rf "$D"' EXIT
trap 'exit 1' INT TERM

i=0
while [ $i -lt "$RUNS" ]; do
	i=$((i + 1))
	TMPDIR=$D sh "$TOP/examples/latex/run.sh" "$B" >"$D/run" 2>&1 || {
		echo "ckpt_latex: examples/latex/run.sh failed:" >&2
		tail -n 20 "$D/run" >&2
		exit 1
	}
	# "doc.tex" / "short.tex" lines, each followed by its "timings:" line
	awk '/^(doc|short)\.tex$/ { d = $1 } /^  timings:/ { print d, $3, $5, $7, $9 }' \
		"$D/run" >>"$D/all"
done

med() {
	sort -n | awk '{ a[NR] = $1 }
		END { if (NR % 2) print a[(NR + 1) / 2];
		      else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
col() { # DOC FIELD: that field's median over the runs
	awk -v d="$1" -v f="$2" '$1 == d { print $f }' "$D/all" | med
}
ratio() { echo "$1 $2" | awk '{ printf "%.3f", $1 / $2 }'; }
met() { echo "$1" | awk '{ print ($1 <= 0.10) ? "yes" : "no" }'; }

cat <<HEAD
### The LuaLaTeX showcase (\`bench/ckpt_latex.sh\`)

\`examples/latex/run.sh\` run $RUNS times (\`make demo-latex\` runs it
once): a preamble with fontspec (DejaVu), amsmath, TikZ and four of its
libraries, booktabs, xcolor and hyperref, saved as a process image at
\`\\begin{document}\`, then a compile resumed from the image after an edit
of the body, with and without the data checksums, against a full compile
of the same file.  \`doc.tex\` has a body with a section, an equation, a
TikZ picture and a table; \`short.tex\` has the same preamble and a
one-paragraph body (the setting of the issue's figures: the preamble in
full against a bare document).  "After the preamble" is how long the full
compile itself spent after \`\\begin{document}\` (typesetting the body,
the PDF and its fonts, LuaTeX's exit): no resumed compile can take less.
Medians of the $RUNS runs, in seconds; ratio = resumed / full.

| document | full | resumed | ratio | no checksums | ratio | after the preamble | share | target | met |
|---|---:|---:|---:|---:|---:|---:|---:|---:|:---:|
HEAD
for d in doc.tex short.tex; do
	full=$(col $d 2) res=$(col $d 3) quick=$(col $d 4) floor=$(col $d 5)
	r=$(ratio "$res" "$full")
	echo "| $d | $full | $res | $r | $quick | $(ratio "$quick" "$full") | $floor | $(ratio "$floor" "$full") | <= 0.10 | $(met "$r") |"
done
echo
echo "Every run: $(awk '{ printf "%s%s full %s resumed %s quick %s", (NR > 1 ? "; " : ""), $1, $2, $3, $4 }' "$D/all")."
