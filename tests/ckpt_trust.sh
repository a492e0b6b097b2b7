#!/bin/sh
# ckpt_trust.sh - the trust model (docs/FORMAT.md, "Trust"): a restore
# runs what the file holds, so
#   - a checkpoint owned by another user, or writable by group or others,
#     is refused (PM_EUNTRUSTED) unless the caller opts out;
#   - a setuid program ignores every PMALLOC_* variable (PMALLOC_RESTORE,
#     PMALLOC_BASE, PMALLOC_TRUST_ANY_OWNER...) and restores only files of
#     its effective user or root, even through its own pm_restore call.
# Needs root (to chown and to make a setuid copy, then drop privileges with
# setpriv); skips (77) otherwise.
. "$(dirname "$0")/lib.sh"
need_root "not root: cannot test setuid"
[ -n "$NOBODY" ] || skip "no setpriv"
# the kernel randomises a setuid program's layout whatever personality
# says, so the program restores with PM_RESTORE_ALLOW_MOVED: layout is not
# tested here
build_trust

# files: one of root's, one of the user's, a group-writable one
"$t/trust" save "$t/root.ckpt" >/dev/null || die "save"
as_user "$t/trust" save "$t/user/user.ckpt" >/dev/null ||
	die "save as user"
cp "$t/root.ckpt" "$t/gw.ckpt"; chmod 664 "$t/gw.ckpt"
cp "$t/root.ckpt" "$t/ow.ckpt"; chmod 606 "$t/ow.ckpt"
expect_has "the writer leaves a 0600 file" "-rw-------" \
	"$(ls -l "$t/root.ckpt")"
chmod 644 "$t/root.ckpt"

# an ordinary program: the owner and the mode decide
expect_has "root restores its own file" "rc=0 secret=4242" \
	"$("$t/trust" restore "$t/root.ckpt")"
expect_has "the user restores their own file" "rc=0 secret=4242" \
	"$(as_user "$t/trust" restore "$t/user/user.ckpt")"
expect_has "the user restores root's file" "rc=0 secret=4242" \
	"$(as_user "$t/trust" restore "$t/root.ckpt")"
expect_has "root refuses the user's file" "rc=-1011 secret=-1 msg=the file is owned by uid 65534" \
	"$("$t/trust" restore "$t/user/user.ckpt")"
expect_has "group-writable refused" "rc=-1011 secret=-1 msg=the file is writable by its group" \
	"$("$t/trust" restore "$t/gw.ckpt")"
expect_has "other-writable refused" "rc=-1011 secret=-1 msg=the file is writable by others" \
	"$("$t/trust" restore "$t/ow.ckpt")"
expect_has "PM_RESTORE_ANY_OWNER opts out" "rc=0 secret=4242" \
	"$("$t/trust" restore-any "$t/user/user.ckpt")"
expect_has "PMALLOC_TRUST_ANY_OWNER=1 opts out" "rc=0 secret=4242" \
	"$(PMALLOC_TRUST_ANY_OWNER=1 "$t/trust" restore "$t/gw.ckpt")"
expect_has "PMALLOC_RESTORE works in an ordinary program" "restored=1 base=default secret=4242" \
	"$(PMALLOC_RESTORE="$t/root.ckpt" PMALLOC_ALLOW_MOVED=1 "$t/trust" state)"
expect_has "PMALLOC_RESTORE of a foreign file refused" "restored=0" \
	"$(PMALLOC_RESTORE="$t/user/user.ckpt" "$t/trust" state 2>"$t/err")"
expect_has "... with the reason on stderr" "not from a trusted writer" "$(cat "$t/err")"

# the setuid copy, run by the user
cp "$t/trust" "$t/suid"; chown 0:0 "$t/suid"; chmod 4755 "$t/suid"
out=$(as_user env PMALLOC_RESTORE="$t/user/user.ckpt" \
	PMALLOC_TRUST_ANY_OWNER=1 PMALLOC_BASE=0x300000000 PMALLOC_STATS=1 \
	"$t/suid" state 2>"$t/err")
expect_has "setuid: PMALLOC_RESTORE/BASE ignored" "restored=0 base=default secret=-1" "$out"
if [ -s "$t/err" ]; then
	echo "FAIL: setuid program printed on stderr (PMALLOC_STATS honoured?):"
	cat "$t/err"; fail=1
fi
expect_has "setuid: the user's file refused by pm_restore" "rc=-1011 secret=-1 msg=the file is owned by uid 65534, not by uid 0" \
	"$(as_user env PMALLOC_TRUST_ANY_OWNER=1 "$t/suid" restore "$t/user/user.ckpt")"
expect_has "setuid: root's file accepted" "rc=0 secret=4242" \
	"$(as_user "$t/suid" restore "$t/root.ckpt")"
exit $fail
