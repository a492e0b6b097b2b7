#!/bin/sh
# man.sh - the manual pages: every function and macro of include/pmalloc.h
# has a section-3 page (its own or a .so link to its family's), every
# family page has the usual sections, every PM_E code is listed in
# pm_strerror(3), and every page is clean under `mandoc -Tlint` (all
# levels) or, without mandoc, `groff -man -ww -z`.
. "$(dirname "$0")/lib.sh"
m3=$T/docs/man3
hdr=$T/include/pmalloc.h

# the names the header declares or defines for users
{
	sed -n 's/^[a-z][a-z_ ]*[ *]\(pm_[a-z_]*\|mm_[a-z_]*\)(.*/\1/p' "$hdr"
	sed -n 's/^#define \(PM_[A-Z_]*\)\((X)\)\{0,1\}[ 	]*\\$/\1/p; s/^#define \(PM_[A-Z_]*\)([^)]*)[ 	]*\\$/\1/p' "$hdr"
} | sort -u >"$t/names"
n=$(wc -l <"$t/names")
[ "$n" -ge 20 ] || bad "found only $n names in pmalloc.h: $(tr '\n' ' ' <"$t/names")"
for name in $(cat "$t/names"); do
	[ -f "$m3/$name.3" ] || { bad "no page docs/man3/$name.3"; continue; }
	page=$m3/$name.3
	if head -n 1 "$page" | grep -q '^\.so '; then
		target=$(sed -n '1s/^\.so man3\///p' "$page")
		[ -f "$m3/$target" ] || { bad "$name.3: .so to missing $target"; continue; }
		page=$m3/$target
	fi
	# the name is in the page's NAME section and in its SYNOPSIS
	sed -n '/^\.SH NAME/,/^\.SH SYNOPSIS/p' "$page" | grep -q "\\b$name\\b" ||
		bad "$name is not in the NAME section of $(basename "$page")"
	sed -n '/^\.SH SYNOPSIS/,/^\.SH DESCRIPTION/p' "$page" | grep -q "$name" ||
		bad "$name is not in the SYNOPSIS of $(basename "$page")"
done

for code in $(sed -n 's/.*X(\(PM_E[A-Z]*\), .*/\1/p' "$hdr"); do
	grep -q "^\.BR $code " "$m3/pm_strerror.3" || bad "pm_strerror.3 does not list $code"
done

pages=""
for f in "$m3"/*.3; do
	head -n 1 "$f" | grep -q '^\.so ' && continue
	pages="$pages $f"
	b=$(basename "$f")
	[ "$b" = pmalloc.3 ] && continue
	for s in NAME SYNOPSIS DESCRIPTION "RETURN VALUE" ERRORS EXAMPLES "SEE ALSO"; do
		grep -q "^\.SH $s\$" "$f" || bad "$b has no $s section"
	done
done
pages="$pages $T/docs/pmalloc.1"

if command -v mandoc >/dev/null 2>&1; then
	for f in $pages; do
		mandoc -Tlint -Wstyle "$f" >"$t/lint" 2>&1
		[ -s "$t/lint" ] && { bad "mandoc -Tlint $(basename "$f"):"; cat "$t/lint"; }
	done
	tool=mandoc
elif command -v groff >/dev/null 2>&1; then
	tool=groff
else
	echo "neither mandoc nor groff is installed"; exit 77
fi
if command -v groff >/dev/null 2>&1; then
	for f in $pages; do
		groff -man -ww -z "$f" >"$t/lint" 2>&1
		[ -s "$t/lint" ] && { bad "groff -ww $(basename "$f"):"; cat "$t/lint"; }
	done
	tool="$tool and groff"
fi
[ $fail -eq 0 ] && echo "man: $n names of pmalloc.h documented; $(echo $pages | wc -w) pages clean under $tool"
exit $fail
