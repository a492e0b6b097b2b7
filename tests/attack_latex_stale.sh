#!/bin/sh
# attack_latex_stale.sh - pmimage.lua's check of the files a preamble read
# (size and modification time, in whole seconds as LuaTeX's lfs gives
# them): a local package edited to the same size within the second of its
# time (here: its time set ahead, and set back after the edit, so that no
# clock is involved) was not seen, and the resumed compile ran with the
# old macros: its PDF said what the package no longer says.  A file whose
# time is not before the second of the image is now also checked by its
# contents (md5).  The full compile that follows saves a fresh image,
# which the next compile resumes (was: refused, "input on fd 3 changed":
# the restart's exec passed the resumed TeX's open files on, and the
# fresh image took them for inputs inherited from its caller).  Then the
# package removed: the resumed compile runs in full and fails as a full
# compile does.  Last, a job name with a space (LuaTeX's tex.jobname then
# has quotes: the image was saved as '"odd job".img', not the
# 'odd job.img' that \jobname.img names, and never resumed).
# Skipped without lualatex.
. "$(dirname "$0")/lib.sh"
latex_prep
ahead=$(($(date +%s) + 1000))
printf '%s\n' '\newcommand\greeting{Hello}' >mine.sty
touch -d "@$ahead" mine.sty
printf '%s\n' '\documentclass{article}' '\usepackage{mine}\usepackage{pmimage}' \
	'\begin{document}' '\greeting.' '\end{document}' >mine.tex
lx() { "$B/pmalloc" run "$@" -- lualatex --shell-escape -interaction=nonstopmode \
	-halt-on-error mine.tex >tex.out 2>&1; }
lx || die "saving compile: $(tail tex.out)"
grep -q "pmimage: saved" mine.log || die "no image saved: $(grep pmimage mine.log)"
printf '%s\n' '\newcommand\greeting{Howdy}' >mine.sty
touch -d "@$ahead" mine.sty
lx --resume mine.img
expect_eq "same size, same second: exit" 0 $?
expect_has "same size, same second: stale image found" "pmimage: stale image: ./mine.sty changed" "$(cat tex.out)"
grep -q "pmimage: saved" mine.log || bad "same size, same second: no full compile saving a fresh image: $(grep pmimage mine.log)"
lx --resume mine.img
expect_eq "the fresh image: exit" 0 $?
expect_has "the fresh image resumes" "pmimage: resumed" "$(cat tex.out)"
grep "not resumed" tex.out && bad "the fresh image refused"

rm mine.sty
lx --resume mine.img
rc=$?
[ $rc -ne 0 ] || bad "package removed: the resumed compile succeeded: $(grep pmimage tex.out)"
expect_has "package removed: stale image found" "pmimage: stale image: ./mine.sty changed" "$(cat tex.out)"
expect_has "package removed: then the full compile's error" "mine.sty' not found" "$(cat tex.out)"
printf '%s\n' '\newcommand\greeting{Hello}' >mine.sty
odd() { "$B/pmalloc" run "$@" -- lualatex --shell-escape -interaction=nonstopmode \
	-halt-on-error --jobname='odd job' mine.tex >tex.out 2>&1; }
odd || die "odd job name: $(tail tex.out)"
[ -f "odd job.img" ] || bad "odd job name: no 'odd job.img': $(ls)"
odd --resume "odd job.img"
expect_has "odd job name: resumed" "pmimage: resumed" "$(cat tex.out)"
finish
