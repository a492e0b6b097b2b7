#!/bin/sh
# ckpt_iofault.sh - every libc call of one checkpoint made to fail in turn
# (tests/prog/iofault.c, preloaded): with EIO, with ENOSPC, with SIGKILL,
# and every write to the temp file made short (then, in "shortfull", the
# disk full after it).  After each:
#   - a call on the new file's way (its creation, fchmod, fallocate, a
#     write, fsync, the rename) made the checkpoint fail; a failed
#     checkpoint left the previous file byte-identical; a call the writer
#     can do without (pagemap, getrandom, flock, the cleanup) gave either
#     a good new file or a clean failure;
#   - a failed fsync of the directory after the rename gave PM_EDIRSYNC
#     (-1009) with the new file in place;
#   - the file at the target verifies; no temp file is left (after a kill
#     the next checkpoint removes it);
#   - a second checkpoint in the same process, unfaulted, succeeds.
. "$(dirname "$0")/lib.sh"
writer_tools
d="$t/d"
mkdir "$d"
f="$d/state.ckpt"

out=$("$prog" "$f" | sed -n 1p)
[ "$out" = 0 ] || { echo "first checkpoint returned '$out'"; exit 1; }
pm_verify "$f" || { echo "first file bad"; exit 1; }

temps() { ls -a "$d" | grep -c '^\.state\.ckpt\.tmp\.'; }
injected=0
rename_n=0
# "stale": eio again, with a dead writer's temp present, so that the
# cleanup's calls fail too (that temp may stay then; no other)
stale=".state.ckpt.tmp.4194303.0123456789abcdef"
for mode in eio enospc kill short shortfull stale; do
	n=1
	while :; do
		rm -f "$t/log" "$d/next.ckpt"
		cp "$f" "$t/ref"
		fm=$mode
		[ $mode = stale ] && { fm=eio; : >"$d/$stale"; }
		IOFAULT_MODE=$fm IOFAULT_N=$n IOFAULT_LOG="$t/log" \
			LD_PRELOAD="$shim" "$prog" "$f" "$d/next.ckpt" \
			>"$t/out" 2>"$t/err"
		st=$?
		label=$(sed -n 's/^fault [0-9]* //p' "$t/log" 2>/dev/null)
		[ -n "$label" ] || break # N is past the last call
		injected=$((injected + 1))
		what="$mode #$n ($label)"
		[ "$mode:$label" = eio:renameat ] && rename_n=$n
		rc=$(sed -n 1p "$t/out")
		if [ "$mode" = kill ]; then
			[ $st -eq 137 ] || bad "$what: exit $st, expected 137 (SIGKILL)"
			# killed before the rename: the previous file; after
			# it: the new one (the calls come in the same order
			# as in the eio pass, which found the rename)
			if [ "$n" -le "$rename_n" ]; then
				cmp -s "$t/ref" "$f" || bad "$what: previous file changed"
			else
				cmp -s "$t/ref" "$f" && bad "$what: killed after the rename (call $rename_n), but the file is the old one"
			fi
			pm_verify "$f" ||
				bad "$what: $f does not verify"
			# the next checkpoint cleans up after the dead writer
			out=$("$prog" "$f" | sed -n 1p)
			[ "$out" = 0 ] || bad "$what: checkpoint after the kill: $out"
			[ "$(temps)" -eq 0 ] ||
				{ bad "$what: temp left after the next checkpoint:"; ls -a "$d"; }
			n=$((n + 1))
			continue
		fi
		[ $st -eq 0 ] || { bad "$what: exit $st, expected 0"; cat "$t/err"; }
		case "$mode:$label" in
		short:*) want=ok ;;
		shortfull:*) want=fail ;;
		*:fsync-D) want=dirsync ;;
		*:openat-T | *:open-T | *:fchmod-T | *:fallocate-T | *:pwrite-T | \
			*:pwrite64-T | *:write-T | *:pwritev-T | *:fsync-T | \
			*:fdatasync-T | *:rename | *:renameat | *:renameat2)
			want=fail ;;
		*) want=any ;;
		esac
		[ $want = any ] && { [ "$rc" = 0 ] && want=ok || want=fail; }
		case $want in
		ok)
			[ "$rc" = 0 ] || bad "$what: returned '$rc', expected 0: $(cat "$t/err")"
			cmp -s "$t/ref" "$f" && bad "$what: returned 0 but the file is the old one" ;;
		fail)
			case "$rc" in
			-[0-9]*) [ "$rc" != -1009 ] ||
				bad "$what: returned $rc, expected an error before the rename" ;;
			*) bad "$what: returned '$rc', expected an error" ;;
			esac
			cmp -s "$t/ref" "$f" || bad "$what: returned $rc and the previous file changed" ;;
		dirsync)
			[ "$rc" = -1009 ] || bad "$what: returned '$rc', expected -1009 (PM_EDIRSYNC)"
			grep -q 'directory' "$t/err" || bad "$what: message: $(cat "$t/err")"
			cmp -s "$t/ref" "$f" && bad "$what: PM_EDIRSYNC but the file is the old one" ;;
		esac
		pm_verify "$f" || bad "$what: $f does not verify"
		[ $mode = stale ] && rm -f "$d/$stale"
		left=$(temps)
		[ "$left" -eq 0 ] || { bad "$what: $left temp files left:"; ls -a "$d"; }
		rc2=$(sed -n 2p "$t/out")
		[ "$rc2" = 0 ] || bad "$what: the next checkpoint returned '$rc2', expected 0"
		pm_verify "$d/next.ckpt" ||
			bad "$what: the next checkpoint does not verify"
		n=$((n + 1))
	done
	echo "$mode: $((n - 1)) calls"
	[ "$rename_n" -gt 0 ] || bad "no renameat call seen in the eio pass"
	[ $n -gt 10 ] || bad "$mode: only $((n - 1)) calls faulted, expected more than 10"
done
echo "$injected faults injected"
exit $fail
