#!/bin/sh
# image_latex_exit.sh - how a resumed LuaLaTeX compile ends.  pmimage.lua
# ends a resumed run from LuaTeX's last wrapup_run callback with C's
# exit(), skipping lua_close (which walks the whole Lua heap of the
# image), and must give the exit code LuaTeX's do_final_end would: 0 for
# a clean body and for one with warnings, 1 for a body with an error,
# both with -halt-on-error (a fatal stop) and without (TeX goes on to
# the end).  Each resumed run is compared with a full compile of the same
# file: exit code, PDF, and the end of the terminal output.  A second
# wrapup_run callback added after the resume makes pmimage.lua leave the
# exit to LuaTeX (that callback must still run).  A shim preloaded in
# place of lua_close shows the quick exit taken.
# Skipped without lualatex.
. "$(dirname "$0")/lib.sh"
latex_prep
body() { # the document's body lines
	{
		printf '%s\n' '\documentclass{article}' '\usepackage{pmimage}' \
			'\begin{document}'
		printf '%s\n' "$@"
		printf '%s\n' '\end{document}'
	} >job.tex
}
lx() { # HALT [pm [pmalloc run args...]]: the compile, on pmalloc with
	# pm; its exit code in $rc
	h=$1
	shift
	if [ "$h" = halt ]; then h=-halt-on-error; else h=; fi
	if [ "${1-}" = pm ]; then
		shift
		"$B/pmalloc" run "$@" -- lualatex --shell-escape \
			-interaction=nonstopmode $h job.tex >tex.out 2>&1
	else
		lualatex --shell-escape -interaction=nonstopmode $h job.tex \
			>tex.out 2>&1
	fi
	rc=$?
}
# WHAT HALT BODY...: save an image, compile BODY in full and resumed,
# compare
case_() {
	what=$1 halt=$2
	shift 2
	body 'Before the image.'
	lx "$halt" pm || die "$what: saving compile exited $rc: $(tail -n 5 tex.out)"
	grep -q "pmimage: saved" job.log || die "$what: no image saved: $(grep pmimage job.log)"
	mv job.img keep.img
	body "$@"
	rm -f job.pdf
	lx "$halt"
	full_rc=$rc
	tail -n 2 tex.out >full.tail
	cp job.pdf full.pdf 2>/dev/null || : >full.pdf
	rm -f job.pdf
	cp keep.img job.img
	lx "$halt" pm --resume job.img
	expect_has "$what: resumed" "pmimage: resumed" "$(cat tex.out)"
	expect_eq "$what: exit code, full compile then resumed" "$full_rc" "$rc"
	tail -n 2 tex.out >res.tail
	cmp -s full.tail res.tail || bad "$what: the output ends differently: full: $(cat full.tail) resumed: $(cat res.tail)"
	[ -f job.pdf ] || : >job.pdf
	cmp -s full.pdf job.pdf || bad "$what: the PDFs differ"
}
case_ "clean body" halt 'A clean body.'
[ "$full_rc" = 0 ] || bad "clean body: the full compile exited $full_rc"
case_ "a warning" halt 'A body with a warning.\ref{nowhere}'
[ "$full_rc" = 0 ] || bad "a warning: the full compile exited $full_rc"
case_ "an error, halt-on-error" halt 'A body with an error: \undefinedmacro.'
[ "$full_rc" = 1 ] || bad "an error, halt-on-error: the full compile exited $full_rc"
case_ "an error, no halt" go 'A body with an error: \undefinedmacro, and more.'
[ "$full_rc" = 1 ] || bad "an error, no halt: the full compile exited $full_rc"
# a wrapup_run callback added in the body, after the resume: pmimage.lua
# must not end the process before it
case_ "a later wrapup_run callback" halt 'Text.\directlua{luatexbase.add_to_callback("wrapup_run", function() local f = io.open("later.txt", "w") f:write("ran") f:close() end, "later")}'
expect_eq "a later wrapup_run callback: it ran" "ran" "$(cat later.txt 2>/dev/null)"
# the quick exit is taken: a resumed clean compile does not reach
# lua_close; a full one does (a shim preloaded in both reports the call)
shim=$B/tests/luaclose.so
[ -f "$shim" ] || die "no $shim (make check builds it)"
body 'Before the image.'
LD_PRELOAD=$shim lx halt pm || die "saving compile with the shim: $(tail -n 5 tex.out)"
expect_has "shim: the saving compile calls lua_close" "luaclose: called" "$(cat tex.out)"
body 'A clean body.'
LD_PRELOAD=$shim lx halt pm --resume job.img
expect_eq "shim: resumed exit code" 0 "$rc"
expect_has "shim: resumed" "pmimage: resumed" "$(cat tex.out)"
grep -q "luaclose: called" tex.out && bad "shim: the resumed compile called lua_close (no quick exit)"
finish
