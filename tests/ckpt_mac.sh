#!/bin/sh
# Checkpoint authentication (pm_key_set, PMALLOC_KEY_FILE): a file made
# with a key restores with that key; another key, a file without a MAC,
# and a heap byte changed with every crc recomputed are refused (PM_EAUTH,
# -1010) and the process carries on; the same changed file restores
# without a key (why the MAC matters); PM_RESTORE_NO_VERIFY still checks
# the MAC; a key file readable by others is refused (-EACCES); pm_key_set
# sets and clears; with libpmalloc.a linked in, the key is not in the
# file; pmalloc info/verify report and check the MAC; the parser's rules.
. "$(dirname "$0")/lib.sh"
build_c "$t/ms" "$T/tests/prog/mac_state.c"
"$CC" -std=c11 -D_GNU_SOURCE -O2 -I"$T/src" -I"$T/include" -o "$t/tamper" \
	"$T/tests/prog/ckpt_tamper.c" "$T/src/crc32c.c" || exit 1
run() { pm_run "$t/ms" "$@"; }

head -c 32 /dev/urandom >"$t/k1"
head -c 32 /dev/urandom >"$t/k2"
cp "$t/k1" "$t/k644"
chmod 600 "$t/k1" "$t/k2"
chmod 644 "$t/k644"

out=$(PMALLOC_KEY_FILE="$t/k1" run make "$t/f1.ckpt")
expect "make with key" "made" "$out"
out=$(PMALLOC_KEY_FILE="$t/k1" run check "$t/f1.ckpt")
expect "same key" "ok MARKER-original 42*alive 0" "$out"
out=$(PMALLOC_KEY_FILE="$t/k2" run check "$t/f1.ckpt")
expect "another key" "refused -1010 *does not match the key*alive 0" "$out"
out=$(PMALLOC_KEY_FILE="$t/k2" run check "$t/f1.ckpt" nv)
expect "another key, NO_VERIFY" "refused -1010 *alive 0" "$out"
out=$(run check "$t/f1.ckpt")
expect "MAC ignored without a key" "ok MARKER-original 42*" "$out"

out=$(run make "$t/f0.ckpt")
expect "make without key" "made" "$out"
out=$(PMALLOC_KEY_FILE="$t/k1" run check "$t/f0.ckpt")
expect "no MAC, key set" "refused -1010 *has no MAC and a key is configured*alive 0" "$out"

cp "$t/f1.ckpt" "$t/ft.ckpt"
"$t/tamper" "$t/ft.ckpt" MARKER-original MARKER-tampered >/dev/null || fail=1
pm_verify "$t/ft.ckpt" ||
	bad "the changed file's crcs do not hold"
out=$(PMALLOC_KEY_FILE="$t/k1" run check "$t/ft.ckpt")
expect "changed heap byte, key" "refused -1010 *alive 0" "$out"
out=$(run check "$t/ft.ckpt")
expect "changed heap byte, no key" "ok MARKER-tampered 42*" "$out"

out=$(PMALLOC_KEY_FILE="$t/k644" run make "$t/fx.ckpt")
expect "key file 0644, checkpoint" "refused -13 *mode 0644*" "$out"
[ -e "$t/fx.ckpt" ] && bad "file written with a refused key"
out=$(PMALLOC_KEY_FILE="$t/k644" run check "$t/f1.ckpt")
expect "key file 0644, restore" "refused -13 *mode 0644*alive 0" "$out"
out=$(PMALLOC_KEY_FILE="$t/missing" run check "$t/f1.ckpt")
expect "no key file" "refused -2 *cannot open*" "$out"

# (with PMALLOC_KEY_FILE set: once pm_key_set cleared the key, the
# variable is not consulted either)
out=$(PMALLOC_KEY_FILE="$t/k1" run keyset "$t")
expect "pm_key_set" "keyset ok" "$out"
# its last file was made with a 200-byte key given to pm_key_set
head -c 200 /dev/zero | tr '\0' k >"$t/klong"
chmod 600 "$t/klong"
out=$("$B/pmalloc" verify --key "$t/klong" "$t/keyed.ckpt")
expect "200-byte key" "*ok*MAC verified" "$out"
# PMALLOC_KEY_FILE is not read at start-up: a bad one harms no program
# that never checkpoints
out=$(PMALLOC_KEY_FILE="$t/k644" pm_run true && echo fine)
expect "start-up" "fine" "$out"

out=$("$B/pmalloc" info "$t/f1.ckpt" | grep '^MAC:')
expect "info, MAC" "MAC:*HMAC-SHA-256 [0-9a-f]*" "$out"
out=$("$B/pmalloc" info "$t/f0.ckpt" | grep '^MAC:')
expect "info, no MAC" "MAC:*none*" "$out"
out=$("$B/pmalloc" verify "$t/f1.ckpt")
expect "verify, no key" "*ok*has a MAC (not checked: no key)" "$out"
out=$(PMALLOC_KEY_FILE="$t/k1" "$B/pmalloc" verify "$t/f1.ckpt")
expect "verify, env key" "*ok*MAC verified" "$out"
out=$("$B/pmalloc" verify --key "$t/k1" "$t/f1.ckpt")
expect "verify --key" "*ok*MAC verified" "$out"
out=$("$B/pmalloc" verify --key "$t/k2" "$t/f1.ckpt") &&
	bad "verify with another key succeeded"
expect "verify, another key" "*authentication failed*" "$out"
out=$("$B/pmalloc" verify --key "$t/k1" "$t/f0.ckpt" "$t/ft.ckpt") &&
	bad "verify of unauthenticated files succeeded"
expect "verify, no MAC and changed" "*f0.ckpt*no MAC*ft.ckpt*does not match*" "$out"
out=$("$B/pmalloc" verify --key "$t/k644" "$t/f1.ckpt" 2>&1) &&
	bad "verify with a 0644 key file succeeded"
expect "verify --key 0644" "*mode 0644*" "$out"

# libpmalloc.a linked into the program: the key (in pmalloc's own state,
# inside the executable's data) must not reach the file
build_static "$t/sta" "$T/tests/prog/mac_state.c"
printf 'KEY-MARKER-%s' 0123456789abcdef >"$t/kmark"
chmod 600 "$t/kmark"
run_sta() { norand "$t/sta" "$@"; }
out=$(PMALLOC_KEY_FILE="$t/kmark" run_sta make "$t/fs.ckpt")
expect "static, make" "made" "$out"
n=$(grep -c KEY-MARKER "$t/fs.ckpt")
[ "$n" = 0 ] || bad "the key is in the file ($n matches)"
out=$(PMALLOC_KEY_FILE="$t/kmark" run_sta check "$t/fs.ckpt")
expect "static, same key" "ok MARKER-original 42*alive 0" "$out"
out=$(PMALLOC_KEY_FILE="$t/k1" run_sta check "$t/fs.ckpt")
expect "static, another key" "refused -1010 *alive 0" "$out"
out=$("$B/pmalloc" verify --key "$t/kmark" "$t/fs.ckpt")
expect "static, verify" "*ok*MAC verified" "$out"

# the parser: flags other than 0 and 1, mac bytes without the flag, and
# the reserved bytes after the mac are refused as corrupt
hdr() { # NAME FILE OFF BYTE: must be refused as corrupt
	cp "$2" "$t/h.ckpt"
	"$t/tamper" "$t/h.ckpt" --header $3 $4 || fail=1
	out=$("$B/pmalloc" verify "$t/h.ckpt") &&
		bad "$1 accepted"
	expect "$1" "*corrupt*${5:-flags}*" "$out"
}
hdr "flags 2" "$t/f1.ckpt" 16 2
hdr "flags 3" "$t/f1.ckpt" 16 3
hdr "mac byte without the flag" "$t/f0.ckpt" 160 1
hdr "MAC and flag cleared" "$t/f1.ckpt" 16 0
hdr "kind 1 in a version 1 file" "$t/f1.ckpt" 184 1 "kind 1 in a version 1"
hdr "reserved byte after the kind" "$t/f1.ckpt" 188 1
hdr "last reserved byte" "$t/f1.ckpt" 251 1
# a flipped MAC byte: sound to the parser, refused with the key
cp "$t/f1.ckpt" "$t/h.ckpt"
"$t/tamper" "$t/h.ckpt" --header 183 ^1 || fail=1
pm_verify "$t/h.ckpt" ||
	bad "a changed MAC is not sound to the parser"
out=$(PMALLOC_KEY_FILE="$t/k1" run check "$t/h.ckpt")
expect "changed MAC byte" "refused -1010 *alive 0" "$out"
exit $fail
