#!/bin/sh
# ckpt_umask.sh - a checkpoint file is readable and writable by its owner
# whatever the umask: under umask 0777, as a user who is not root, a new
# file is 0600 (it was 0000, with a 0 return); a 0644 target stays 0644
# when replaced (it became 0600), a 0640 one stays 0640, and a 0400 one
# becomes 0600 (owner rw added); a file another user planted at the path
# gives 0600, not its read bits.  As root, setpriv(1) runs the checkpoints
# as nobody; as another user, that user runs them.
. "$(dirname "$0")/lib.sh"
writer_tools
chmod 755 "$t"
# copies the other user can reach whatever the build directory's modes
# (the program finds the library through its rpath, $ORIGIN/..)
mkdir "$t/bin" "$t/d"
cp "$prog" "$B/pmalloc" "$t/bin/" && cp -L "$B/libpmalloc.so.1" "$t/" || exit 1
prog="$t/bin/ckpt_fault"
verify="$t/bin/pmalloc verify"
d="$t/d"
as=
if [ "$(id -u)" -eq 0 ]; then
	[ -n "$NOBODY" ] || skip "no setpriv"
	as=$NOBODY
	chown 65534:65534 "$d"
fi
f="$d/state.ckpt"
ckpt() { # umask, file
	$as sh -c 'umask $1 && exec "$2" "$3"' sh "$1" "$prog" "$2" >"$t/out" 2>&1
	rc=$(sed -n 1p "$t/out")
	[ "$rc" = 0 ] || bad "checkpoint under umask $1 returned '$rc': $(cat "$t/out")"
}
mode() { stat -c %a "$1"; }
ckpt 0777 "$f"
m=$(mode "$f")
[ "$m" = 600 ] || bad "new file under umask 0777: mode $m, expected 600"
[ -n "$as" ] && { o=$(stat -c %u "$f"); [ "$o" = 65534 ] || bad "owner $o"; }
$as $verify "$f" >/dev/null || bad "the owner cannot verify the file"
for want in 644 640 400:600 604 664:644 606:604; do
	set_m=${want%%:*} exp=${want#*:}
	$as chmod "$set_m" "$f"
	ckpt 0777 "$f"
	m=$(mode "$f")
	[ "$m" = "$exp" ] || bad "a $set_m target replaced under umask 0777: mode $m, expected $exp"
	echo "$set_m -> $m"
done
# a file another user planted at the path: its read bits are not kept
if [ -n "$as" ]; then
	mkdir "$t/sticky" && chmod 1777 "$t/sticky"
	$as sh -c 'echo planted >"$1" && chmod 644 "$1"' sh "$t/sticky/s.ckpt"
	"$prog" "$t/sticky/s.ckpt" >"$t/out" 2>&1
	m=$(mode "$t/sticky/s.ckpt") o=$(stat -c %u "$t/sticky/s.ckpt")
	[ "$m" = 600 ] && [ "$o" = 0 ] ||
		{ echo "FAIL: replacing another user's 0644 file: mode $m owner $o, expected 600 0"; fail=1; }
	echo "planted 644 -> $m"
fi
ckpt 0022 "$d/other.ckpt"
m=$(mode "$d/other.ckpt")
[ "$m" = 600 ] || bad "new file under umask 0022: mode $m, expected 600"
$verify "$f" >/dev/null || bad "$f does not verify"
[ $fail -eq 0 ] && echo ok
exit $fail
