#!/bin/sh
# region_layout.sh - docs/FORMAT.md "The region header" against the code:
# every row of its constant table and of its structure tables (offset,
# size, field, and each structure's size from its heading) is compiled
# into a C check with offsetof/sizeof and the constants of src/internal.h
# and src/chunk.h; any difference fails, printing the documented and the
# compiled value.
top=${PMALLOC_TOP:-.}
cc=${CC:-cc}
doc=$top/docs/FORMAT.md
[ -f "$doc" ] || { echo "no $doc"; exit 1; }
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
# the section, up to the next "## " heading
awk '/^## The region header/ { on = 1; next } /^## / { on = 0 } on' "$doc" \
	>"$tmp/section.md"
cat >"$tmp/head.c" <<'EOF'
#include <stdio.h>
#include "internal.h"
static int bad, rows;
#define EQ(what, got, want)                                                   \
	do {                                                                  \
		unsigned long long g_ = (got), w_ = (want);                   \
		rows++;                                                       \
		if (g_ != w_) {                                               \
			bad++;                                                \
			printf("%s: code %llu (0x%llx), FORMAT.md %llu\n",    \
			       what, g_, g_, w_);                             \
		}                                                             \
	} while (0)
int main(void)
{
EOF
cat >"$tmp/tail.c" <<'EOF'
	printf("%d rows, %d differ\n", rows, bad);
	return bad || rows < 60;
}
EOF
awk '
/^### `struct / {
	s = $0; sub(/^### `struct /, "", s); name = s; sub(/`.*/, "", name)
	n = s; sub(/^[^(]*\(/, "", n); sub(/ bytes.*/, "", n)
	printf "\tEQ(\"sizeof(struct %s)\", sizeof(struct %s), %s);\n", name, name, n
	next
}
/^\| `PM_[A-Z_]*` \|/ {
	split($0, f, "|"); c = f[2]; v = f[3]
	gsub(/[ `]/, "", c); gsub(/ /, "", v)
	printf "\tEQ(\"%s\", %s, %sULL);\n", c, c, v
	next
}
/^\| *[0-9]+ \| *[0-9]+ \| `[a-z_]+` \|/ {
	split($0, f, "|"); o = f[2]; z = f[3]; fl = f[4]
	gsub(/[ `]/, "", o); gsub(/[ `]/, "", z); gsub(/[ `]/, "", fl)
	printf "\tEQ(\"%s.%s offset\", offsetof(struct %s, %s), %s);\n", name, fl, name, fl, o
	printf "\tEQ(\"%s.%s size\", sizeof(((struct %s *)0)->%s), %s);\n", name, fl, name, fl, z
}' "$tmp/section.md" >"$tmp/rows.c"
cat "$tmp/head.c" "$tmp/rows.c" "$tmp/tail.c" >"$tmp/check.c"
if ! $cc -std=c11 -D_GNU_SOURCE -I"$top/src" -I"$top/include" -o "$tmp/check" \
	"$tmp/check.c" 2>"$tmp/cc.log"; then
	head -n 20 "$tmp/cc.log"
	echo "the generated check does not compile (a field FORMAT.md names is gone?)"
	exit 1
fi
"$tmp/check"
