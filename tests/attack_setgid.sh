#!/bin/sh
# attack_setgid.sh - a setgid program and a program with file capabilities
# (AT_SECURE, like setuid) must not restore a file its unprivileged user
# wrote: that user can craft the file (recompute the crcs) and so run
# code with the group's or the capability's privilege.  check_trust()
# accepts the effective user's files under AT_SECURE, and in a setgid or
# file-capability program the effective user IS the unprivileged user.
# Expected: PM_EUNTRUSTED (-1011) for the user's file in both programs.
# Needs root, setpriv (and setcap for the second case); skips otherwise.
. "$(dirname "$0")/lib.sh"
need_root "not root: cannot test setgid"
[ -n "$NOBODY" ] || skip "no setpriv"
build_trust

# the user's own checkpoint (a crafted one restores as well: the owner
# and the mode are all that is checked without a key)
as_user "$t/trust" save "$t/user/user.ckpt" >/dev/null ||
	die "save as user"

cp "$t/trust" "$t/sgid"; chown 0:0 "$t/sgid"; chmod 2755 "$t/sgid"
expect_has "setgid: PMALLOC_BASE ignored (AT_SECURE is set)" "base=default" \
	"$(as_user env PMALLOC_BASE=0x300000000 "$t/sgid" state)"
expect_has "setgid: the user's file refused by pm_restore" "rc=-1011" \
	"$(as_user "$t/sgid" restore "$t/user/user.ckpt")"

if command -v setcap >/dev/null &&
	cp "$t/trust" "$t/fcap" && setcap cap_dac_override+ep "$t/fcap"; then
	expect_has "file caps: PMALLOC_BASE ignored (AT_SECURE is set)" \
		"base=default" \
		"$(as_user env PMALLOC_BASE=0x300000000 "$t/fcap" state)"
	expect_has "file caps: the user's file refused by pm_restore" "rc=-1011" \
		"$(as_user "$t/fcap" restore "$t/user/user.ckpt")"
else
	echo "no setcap (or it failed): file capabilities not tested"
fi
exit $fail
