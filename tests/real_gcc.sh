#!/bin/sh
# real_gcc.sh - gcc (driver, cc1, as, collect2/ld) under
# LD_PRELOAD=libpmalloc.so: compiling and linking a generated C file of a
# few hundred lines gives the same diagnostics, exit statuses, object file
# and program output as without it; every process that the probe saw had
# its heap in the region.  With g++ installed, tests/real/threads.cpp is
# compiled the same way (cc1plus).
here=$(cd "$(dirname "$0")" && pwd)
. "$here/real/common.sh"

rp_need gcc awk
rp_setup

# The generated source: structs, tables of strings, switches, recursion,
# a few hundred functions, and one unused variable (a -Wall warning).
awk -v n=40 'BEGIN {
	print "#include <stdio.h>"
	print "#include <string.h>"
	print "struct rec { int id; const char *name; double w; struct rec *next; };"
	print "static const char *names[] = {"
	for (i = 0; i < 64; i++) printf "\t\"name_%d_%s\",\n", i, substr("abcdefghijklmnopqrstuvwxyz", i % 26 + 1, 5)
	print "};"
	for (i = 0; i < n; i++) {
		printf "static unsigned f%d(unsigned x)\n{\n", i
		printf "\tunsigned acc = %du;\n", i * 2654435761 % 65536
		printf "\tfor (unsigned k = 0; k < %d; k++) {\n", 3 + i % 7
		printf "\t\tswitch ((x + k) %% 5) {\n"
		for (c = 0; c < 5; c++)
			printf "\t\tcase %d: acc = acc * %d + (x ^ %du); break;\n", c, 31 + c + i % 11, c * 977 + i
		printf "\t\t}\n\t}\n"
		if (i > 0) printf "\tif (x %% 3 == 0) acc += f%d(x / 3);\n", i - 1
		printf "\treturn acc + (unsigned)strlen(names[%d]);\n}\n", i % 64
	}
	print "static int unused_helper(void) { int unused_var; return 0; }"
	print "int main(void)"
	print "{"
	print "\tstruct rec recs[64];"
	print "\tunsigned total = 0;"
	print "\tfor (int i = 0; i < 64; i++) {"
	print "\t\trecs[i].id = i; recs[i].name = names[i];"
	print "\t\trecs[i].w = i * 0.5; recs[i].next = i ? &recs[i - 1] : 0;"
	print "\t}"
	for (i = 0; i < n; i++) printf "\ttotal ^= f%d(%du); total = total * 3 + 1;\n", i, i * 7 + 1
	print "\tprintf(\"total %u\\n\", total);"
	print "\tfor (struct rec *r = &recs[63]; r; r = r->next)"
	print "\t\tif (r->id % 9 == 0) printf(\"%d %s %.1f\\n\", r->id, r->name, r->w);"
	print "\treturn 0;"
	print "}"
}' >"$rp_tmp/gen.c"
echo "generated: $(wc -l <"$rp_tmp/gen.c") lines of C"

have_gxx=0
command -v g++ >/dev/null 2>&1 && have_gxx=1

gcc_job() {
	cp "$rp_tmp/gen.c" gen.c
	gcc -O2 -Wall -Wextra -c gen.c -o gen.o
	echo "cc: $?"
	gcc -O1 -o gen gen.o
	echo "ld: $?"
	./gen
	echo "run: $?"
	gcc -O0 -Wall -o gen0 gen.c && ./gen0 | head -n 1
	if [ $have_gxx = 1 ]; then
		cp "$here/real/threads.cpp" threads.cpp
		g++ -std=c++17 -O2 -Wall -c threads.cpp -o threads.o
		echo "c++: $?"
	fi
}
rp_both gcc_job
rp_compare
rp_same_file gen.o
if [ $have_gxx = 1 ]; then rp_same_file threads.o; fi
if command -v objdump >/dev/null 2>&1; then
	(cd "$rp_tmp/base" && objdump -d gen.o) >"$rp_tmp/base.dis"
	(cd "$rp_tmp/pm" && objdump -d gen.o) >"$rp_tmp/pm.dis"
	if ! cmp -s "$rp_tmp/base.dis" "$rp_tmp/pm.dis"; then
		rp_bad "objdump -d gen.o differs"
		rp_show_diff "$rp_tmp/base.dis" "$rp_tmp/pm.dis"
	fi
fi
grep -q 'unused_var' "$rp_tmp/base.err" || rp_bad "the expected -Wall warning is missing"
grep -q '^total ' "$rp_tmp/base.out" || rp_bad "the generated program printed no total"
rp_check_probe gcc
rp_check_probe cc1
if [ $have_gxx = 1 ]; then rp_check_probe cc1plus; fi
rp_check_stats
rp_finish
