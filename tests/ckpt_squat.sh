#!/bin/sh
# ckpt_squat.sh - another user who can write the directory (a shared,
# sticky one like /tmp) pre-creates temp names: every name the old scheme
# (.NAME.tmp.PID.N, N from 0 to 63) would try for the writer's pid, some as
# symbolic links to a file of the victim, some as files owned by someone
# else, plus temps of the new shape.  The checkpoint still succeeds, writes
# nothing through a link, and leaves the squatters' files of a live pid
# alone.
. "$(dirname "$0")/lib.sh"
writer_tools
chmod 755 "$t"
d="$t/shared"
mkdir "$d"
chmod 1777 "$d"
echo "victim's data" >"$t/victim"
cp "$t/victim" "$t/victim.ref"
other=$NOBODY # the squatter: another user when there is one
# the squatter knows the pid: the shell below execs the writer
cat >"$t/squat.sh" <<'EOS'
d=$1 pid=$2
i=0
while [ $i -lt 64 ]; do
	case $i in
	*[05]) ln -s ../victim "$d/.state.ckpt.tmp.$pid.$i" ;;
	*) : >"$d/.state.ckpt.tmp.$pid.$i" ;;
	esac
	i=$((i + 1))
done
: >"$d/.state.ckpt.tmp.$pid.0123456789abcdef"
ln -s ../victim "$d/.state.ckpt.tmp.$pid.fedcba9876543210"
EOS
out=$(sh -c '$1 sh "$2" "$3" $$ && exec "$4" "$3/state.ckpt"' sh "$other" \
	"$t/squat.sh" "$d" "$prog" 2>&1)
rc=$(echo "$out" | sed -n 1p)
[ "$rc" = 0 ] || bad "checkpoint among squatted names returned '$rc', expected 0: $out"
pm_verify "$d/state.ckpt" || bad "the file does not verify"
cmp -s "$t/victim" "$t/victim.ref" || bad "written through a link"
n=$(ls -a "$d" | grep -c '^\.state\.ckpt\.tmp\.')
echo "$n squatted names left"
# the old-shape names of a pid that was alive then (and is gone now) may
# be cleaned only by a later checkpoint; the checkpoint's own temp is gone
[ "$n" -le 66 ] || { echo "FAIL: $n temp names, expected at most 66"; ls -la "$d"; fail=1; }
if [ -n "$other" ]; then
	o=$(stat -c %u "$d/.state.ckpt.tmp."*".1" | head -n 1)
	[ "$o" = 65534 ] || bad "squatter's files owned by $o, expected 65534"
fi
# a second checkpoint (the squatters' pid is gone): still fine, the links
# and the other user's files in the sticky directory stay or go, nothing
# is written through them
rc=$("$prog" "$d/state.ckpt" | sed -n 1p)
[ "$rc" = 0 ] || bad "second checkpoint returned '$rc'"
cmp -s "$t/victim" "$t/victim.ref" || bad "written through a link"
pm_verify "$d/state.ckpt" || bad "the file does not verify"
[ $fail -eq 0 ] && echo ok
exit $fail
