#!/bin/sh
# real_sort_awk.sh - sort (in memory, and with a small buffer so it merges
# temporary files with several threads) and awk (associative arrays, string
# building, split, sprintf) over a generated file of 300000 lines, under
# LD_PRELOAD=libpmalloc.so, print exactly what they print without it.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/real/common.sh"

rp_need sort awk
rp_setup
# gawk if there is one (it allocates much more than mawk), else awk.
awk=awk
command -v gawk >/dev/null 2>&1 && awk=gawk

# The input, made without pmalloc: key, number, word, free text.
awk -v n=300000 'BEGIN {
	x = 12345
	split("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu", w, " ")
	for (i = 0; i < n; i++) {
		x = (x * 1103515245 + 12345) % 2147483648
		k = int(x / 65536) % 5000
		y = (x * 69069 + 1) % 2147483648
		t = ""
		for (j = 0; j < (y % 6); j++) t = t w[(int(y / 7) + j) % 12 + 1] "-"
		printf "k%05d\t%d\t%s\t%s%d\n", k, y % 100000, w[k % 12 + 1], t, i
	}
}' >"$rp_tmp/input.txt"
echo "input: $(wc -l <"$rp_tmp/input.txt") lines, $(wc -c <"$rp_tmp/input.txt") bytes"

sort_awk_job() {
	in=$rp_tmp/input.txt
	mkdir -p sorttmp
	sort -t "$(printf '\t')" -k3,3 -k2,2n -k1,1 "$in" >s1.txt
	echo "sort1: $? $(cksum <s1.txt)"
	sort -S 256K -T sorttmp --parallel=4 -t "$(printf '\t')" -k2,2nr -k4,4 "$in" >s2.txt
	echo "sort2: $? $(cksum <s2.txt)"
	sort -u -t "$(printf '\t')" -k1,1 "$in" | cksum
	sort -m s1.txt s1.txt | cksum
	"$awk" -F '\t' '
	{
		count[$1]++
		sum[$1] += $2
		n = split($4, parts, "-")
		for (i = 1; i < n; i++) word[parts[i]]++
		concat[$3] = length(concat[$3]) > 5000 ? substr(concat[$3], 2000) $1 : concat[$3] $1
		line[NR % 1000] = $0 ":" NR
	}
	END {
		for (k in count) printf "%s %d %d %s\n", k, count[k], sum[k], sprintf("%.3f", sum[k] / count[k])
		for (k in word) printf "word %s %d\n", k, word[k]
		for (k in concat) printf "concat %s %d\n", k, length(concat[k])
		for (i = 0; i < 1000; i += 111) print "line", i, line[i]
	}' "$in" | sort >a1.txt
	echo "awk1: $? $(wc -l <a1.txt) $(cksum <a1.txt)"
	"$awk" '{ $2 = toupper($3) "_" $2; gsub(/a/, "AA"); print }' "$in" | cksum
	head -n 20 a1.txt
}
rp_both sort_awk_job
rp_compare
rp_same_file s1.txt
rp_same_file s2.txt
rp_same_file a1.txt
rp_check_probe sort
rp_check_probe "$awk"
rp_check_stats
rp_finish
