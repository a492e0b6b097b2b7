#!/bin/sh
# examples/latex/run.sh - the LuaLaTeX showcase (`make demo-latex`): a
# document with a real preamble (fontspec with a system font, amsmath,
# TikZ and four libraries, booktabs, xcolor, hyperref) compiled in full,
# then with a process image saved at \begin{document} (one line in the
# preamble: \usepackage{pmimage}), then, after an edit of the body,
# resumed from that image: the preamble is not run again, and the PDF is
# byte-identical to a full compile of the edited file.  An edit of the
# preamble refuses the image: that compile runs in full and saves a
# fresh one.  Prints the timings.
#
#   sh examples/latex/run.sh [BUILD_DIR]      (default: build)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
B=$(cd "${1:-$top/build}" && pwd)
command -v lualatex >/dev/null || {
	echo "lualatex is not installed (Debian: texlive-luatex" \
		"texlive-latex-recommended texlive-pictures fonts-dejavu-core)"
	exit 77
}
w=$(mktemp -d "${TMPDIR:-/tmp}/pmlatex.XXXXXX")
trap 'rm -rf "$w"' EXIT
cp "$here/doc.tex" "$here/pmimage.sty" "$here/pmimage.lua" "$w/"
cd "$w"
# reproducible PDFs: fixed dates (pmimage.sty's document also suppresses
# the optional /ID and info); the resumed process keeps this environment
export SOURCE_DATE_EPOCH=1700000000 FORCE_SOURCE_DATE=1
tex() { lualatex --shell-escape -interaction=nonstopmode -halt-on-error doc.tex >tex.out 2>&1; }
now() { date +%s.%N; }
secs() { echo "$1 $2" | awk '{ printf "%.3f", $2 - $1 }'; }
timed() { # WHAT CMD...: runs CMD, prints and remembers its time in $took
	what=$1
	shift
	t0=$(now)
	"$@" || { echo "$what failed:"; tail -n 20 tex.out; exit 1; }
	t1=$(now)
	took=$(secs "$t0" "$t1")
	printf '  %-58s %7s s\n' "$what" "$took"
}

echo "LuaLaTeX showcase in $w"
tex # warm the font cache (luaotfload's first run builds its database)
timed "full compile, no pmalloc" tex
full=$took
# the part of the full compile after the preamble: the floor of a resumed
# compile (the body, the PDF's fonts, LuaTeX's exit)
after=$(sed -n 's/^pmimage: clock at begin document: //p' doc.log | tail -n 1)
body=$(secs "$after" "$t1")
cp doc.pdf full.pdf
pmtex() { "$B/pmalloc" run "$@" -- lualatex --shell-escape -interaction=nonstopmode -halt-on-error doc.tex >tex.out 2>&1; }
timed "first compile on pmalloc: saves doc.img at begin document" pmtex
grep -q "pmimage: saved" doc.log || { echo "no image saved:"; grep pmimage doc.log; exit 1; }
cmp -s doc.pdf full.pdf || { echo "the imaging compile's PDF differs"; exit 1; }
echo "  image: $(wc -c <doc.img) bytes"

sed 's/later compiles resume/later compiles (this one, after an edit) resume/' doc.tex >doc.new && mv doc.new doc.tex
timed "edited body, resumed from the image" pmtex --resume doc.img
resumed=$took
grep -q "pmimage: resumed" doc.log || { echo "not resumed:"; cat tex.out | head; exit 1; }
cp doc.pdf resumed.pdf
timed "edited body, resumed, data checksums skipped" pmtex --resume doc.img --no-verify
cp doc.pdf resumed2.pdf
timed "edited body, full compile (the reference)" tex
if cmp -s resumed.pdf doc.pdf && cmp -s resumed2.pdf doc.pdf; then
	echo "  the resumed PDFs are byte-identical to the full compile's"
else
	echo "the resumed PDF differs from the full compile's"
	exit 1
fi

sed 's/^\\usepackage{booktabs}/\\usepackage{booktabs}\\usepackage{array}/' doc.tex >doc.new && mv doc.new doc.tex
timed "edited preamble: image refused, full compile, fresh image" pmtex --resume doc.img
grep -q "pmalloc: not resumed" tex.out && grep -q "pmimage: saved" doc.log ||
	{ echo "the edited preamble was not refused, or no fresh image"; exit 1; }
grep "pmalloc: not resumed" tex.out | sed 's/^pmalloc: not resumed: [^:]*: /  refused: /' | cut -c1-100
echo "  resumed compile / full compile: $(echo "$resumed $full" | awk '{ printf "%.2f", $1 / $2 }')"
printf '  (the full compile spent %s s after \\begin{document}: %s of it)\n' "$body" \
	"$(echo "$body $full" | awk '{ printf "%.2f", $1 / $2 }')"
