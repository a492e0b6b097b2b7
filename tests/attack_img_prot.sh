#!/bin/sh
# attack_img_prot.sh - the protection of an image's writable mappings,
# damaged to read-only (every checksum recomputed).  The image resumed
# and the process died of SIGSEGV: in the restorer, after its point of no
# return, when the thread descriptor (where it writes the thread id) or
# pmalloc's own data (its state, the inherited descriptors' table) were
# read-only; at the first malloc for pmalloc's region; at the first store
# for a data segment of the executable, libc or ld.so.  What pmalloc
# itself writes must be writable in the image, and the data segments of
# the objects loaded here (writable here, as the loader made them) too;
# each is refused before anything changes and the program runs normally.
. "$(dirname "$0")/lib.sh"
. "$T/tests/prog/img_attack.sh"

# index of the first mapping (pmalloc info's list) with protection rw-
# whose line contains NAME ("" for the first rw- one)
rw_index() {
	"$B/pmalloc" info "$base" | awk -v name="$1" '
		/^  from +to +prot/ { on = 1; next }
		on && NF == 0 { exit }
		on { if ($3 == "rw-" && index($0, name)) { print n + 0; exit } n++ }'
}
# the mapping holding the thread pointer (the thread descriptor)
tp=$("$B/pmalloc" info "$base" | sed -n 's/.*thread pointer \(0x[0-9a-f]*\).*/\1/p')
tls=
n=0
for range in $("$B/pmalloc" info "$base" | awk '
	/^  from +to +prot/ { on = 1; next }
	on && NF == 0 { exit }
	on { print $1 "-" $2 }'); do
	if [ $((${range%-*})) -le $((tp)) ] && [ $((tp)) -lt $((${range#*-})) ]; then
		tls=$n
		break
	fi
	n=$((n + 1))
done
for case in "thread:$tls:pmalloc's thread id" \
	"region:$(rw_index 0x00000000e0000000):in pmalloc's region is not read-write" \
	"pmalloc:$(rw_index libpmalloc):pmalloc's" \
	"exe:$(rw_index image_prog):the data of $t/image_prog" \
	"libc:$(rw_index libc.so):the data of /" \
	"ldso:$(rw_index ld-linux):the data of /"; do
	name=${case%%:*}
	rest=${case#*:}
	idx=${rest%%:*}
	why=${rest#*:}
	[ -n "$idx" ] || { bad "$name: no such mapping in the image"; continue; }
	damaged "$name" rec 6 $((idx * 64 + 40)) 4 1 # struct pmf_vma prot: r--
	refused "$name read-only" "$why" "$t/$name.img"
done
finish
