#!/bin/sh
# examples/latex/run.sh - the LuaLaTeX showcase (`make demo-latex`): a
# document with a real preamble (fontspec with a system font, amsmath,
# TikZ and four libraries, booktabs, xcolor, hyperref) compiled in full,
# then with a process image saved at \begin{document} (one line in the
# preamble: \usepackage{pmimage}), then, after an edit of the body,
# resumed from that image: the preamble is not run again, and the PDF is
# byte-identical to a full compile of the edited file.  An edit of the
# preamble refuses the image: that compile runs in full and saves a
# fresh one.  Then the same preamble with a one-paragraph body, the
# setting of the issue's target (a resumed compile at most 1/10 of a full
# one): there the body costs next to nothing and the ratio shows what the
# resume itself costs.  Last, a local package that the preamble read is
# edited after the image: the resumed run finds it changed and compiles in
# full (pmimage.lua).  Prints the timings.
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
# DOC [ARGS]: lualatex on DOC.tex (ARGS for pmalloc run before it)
tex() { lualatex --shell-escape -interaction=nonstopmode -halt-on-error "$1.tex" >tex.out 2>&1; }
pmtex() {
	d=$1
	shift
	"$B/pmalloc" run "$@" -- lualatex --shell-escape -interaction=nonstopmode \
		-halt-on-error "$d.tex" >tex.out 2>&1
}
now() { date +%s.%N; }
secs() { echo "$1 $2" | awk '{ printf "%.3f", $2 - $1 }'; }
ratio() { echo "$1 $2" | awk '{ printf "%.2f", $1 / $2 }'; }
timed() { # WHAT CMD...: runs CMD, prints and remembers its time in $took
	what=$1
	shift
	t0=$(now)
	"$@" || { echo "$what failed:"; tail -n 20 tex.out; exit 1; }
	t1=$(now)
	took=$(secs "$t0" "$t1")
	printf '  %-58s %7s s\n' "$what" "$took"
}
# DOC: the time the last full compile of DOC spent after \begin{document}
# (the body, the PDF's fonts, LuaTeX's exit): the floor of a resumed one
after_preamble() {
	secs "$(sed -n 's/^pmimage: clock at begin document: //p' "$1.log" | tail -n 1)" "$t1"
}
# DOC EDIT: the cycle on DOC.tex: full compile, compile on pmalloc saving
# DOC.img, the sed script EDIT applied, resumed with and without the data
# checksums, the PDFs compared with a full compile of the edited file;
# sets full, resumed, quick (no checksums), floor
cycle() {
	d=$1
	timed "full compile, no pmalloc" tex "$d"
	full=$took
	floor=$(after_preamble "$d")
	cp "$d.pdf" full.pdf
	timed "first compile on pmalloc: saves $d.img at begin document" pmtex "$d"
	grep -q "pmimage: saved" "$d.log" || { echo "no image saved:"; grep pmimage "$d.log"; exit 1; }
	cmp -s "$d.pdf" full.pdf || { echo "the imaging compile's PDF differs"; exit 1; }
	echo "  image: $(wc -c <"$d.img") bytes"
	sed "$2" "$d.tex" >"$d.new" && mv "$d.new" "$d.tex"
	timed "edited body, resumed from the image" pmtex "$d" --resume "$d.img"
	resumed=$took
	grep -q "pmimage: resumed" "$d.log" || { echo "not resumed:"; head tex.out; exit 1; }
	cp "$d.pdf" resumed.pdf
	timed "edited body, resumed, data checksums skipped" pmtex "$d" --resume "$d.img" --no-verify
	quick=$took
	cp "$d.pdf" resumed2.pdf
	timed "edited body, full compile (the reference)" tex "$d"
	if cmp -s resumed.pdf "$d.pdf" && cmp -s resumed2.pdf "$d.pdf"; then
		echo "  the resumed PDFs are byte-identical to the full compile's"
	else
		echo "the resumed PDF differs from the full compile's"
		exit 1
	fi
}
report() {
	echo "  resumed compile / full compile: $(ratio "$resumed" "$full")" \
		"($(ratio "$quick" "$full") with the data checksums skipped)"
	printf '  the full compile spent %s s after \\begin{document}: %s of it\n' \
		"$floor" "$(ratio "$floor" "$full")"
}

echo "LuaLaTeX showcase in $w"
tex doc # warm the font cache (luaotfload's first run builds its database)
echo "doc.tex: the preamble, and a body with a section, maths, TikZ, a table"
cycle doc 's/later compiles resume/later compiles (this one, after an edit) resume/'
rich="$resumed $quick $full $floor"

sed 's/^\\usepackage{booktabs}/\\usepackage{booktabs}\\usepackage{array}/' doc.tex >doc.new && mv doc.new doc.tex
timed "edited preamble: image refused, full compile, fresh image" pmtex doc --resume doc.img
grep -q "pmalloc: not resumed" tex.out && grep -q "pmimage: saved" doc.log ||
	{ echo "the edited preamble was not refused, or no fresh image"; exit 1; }
grep "pmalloc: not resumed" tex.out | sed 's/^pmalloc: not resumed: [^:]*: /  refused: /' | cut -c1-100
# the fresh image, saved by a process whose resume was refused, resumes
timed "the fresh image: resumed" pmtex doc --resume doc.img
grep -q "pmimage: resumed" doc.log || { echo "the fresh image was not resumed:"; head tex.out; exit 1; }

echo "short.tex: the same preamble, a one-paragraph body"
sed -n '1,/^\\begin{document}/p' "$here/doc.tex" >short.tex
printf '%s\n' 'This compile was resumed at \verb|\begin{document}|.' '\end{document}' >>short.tex
tex short
cycle short 's/This compile was/This compile, after an edit, was/'

short="$resumed $quick $full $floor"

echo "mine.tex: the same, with a local package (mine.sty) edited after the image"
printf '%s\n' '\newcommand\greeting{Hello from mine.sty}' >mine.sty
sed -n '1,/^\\usepackage{pmimage}/p' "$here/doc.tex" |
	sed 's/^\\usepackage{pmimage}/\\usepackage{mine}\\usepackage{pmimage}/' >mine.tex
printf '%s\n' '\begin{document}' '\greeting.' '\end{document}' >>mine.tex
tex mine
timed "first compile on pmalloc: saves mine.img" pmtex mine
grep -q "pmimage: saved" mine.log || { echo "no image saved:"; grep pmimage mine.log; exit 1; }
printf '%s\n' '\newcommand\greeting{Goodbye from the edited mine.sty}' >mine.sty
timed "resumed, finds mine.sty changed, compiles in full" pmtex mine --resume mine.img
grep -q "pmimage: stale image: .*mine.sty changed" tex.out && grep -q "pmimage: saved" mine.log ||
	{ echo "the edited package was not found, or no fresh image:"; grep pmimage tex.out mine.log; exit 1; }
cp mine.pdf stale.pdf
tex mine
cmp -s stale.pdf mine.pdf || { echo "the PDF after the stale image differs from a full compile's"; exit 1; }
echo "  its PDF is byte-identical to a full compile's"
for r in "doc.tex:$rich" "short.tex:$short"; do
	echo "${r%%:*}"
	set -- ${r#*:}
	resumed=$1 quick=$2 full=$3 floor=$4
	report
	echo "  timings: full $full resumed $resumed quick $quick floor $floor"
done
