#!/bin/sh
# image_latex.sh - the LuaLaTeX showcase (issue 9 item 6) as a test:
# examples/latex/run.sh compiles a document with a real preamble in full,
# then on pmalloc saving a process image at \begin{document}, then, after
# an edit of the body, resumed from the image (with and without the data
# checksums), and fails unless the resumed PDFs are byte-identical to a
# full compile of the edited file and an edit of the preamble refuses the
# image (naming the file) and compiles in full, saving a fresh image;
# then the same cycle for the preamble with a one-paragraph body.
# The timings it prints are information, not a pass/fail criterion.
# Skipped without lualatex.
. "$(dirname "$0")/lib.sh"
command -v lualatex >/dev/null 2>&1 || skip "lualatex is not installed"
norand true 2>/dev/null || skip "setarch -R does not work here"
TMPDIR=$t sh "$T/examples/latex/run.sh" "$B"
rc=$?
[ $rc -eq 77 ] && skip "the showcase cannot run here"
[ $rc -eq 0 ] || bad "examples/latex/run.sh exited $rc"
finish
