#!/bin/sh
# attack_reg_readonly.sh - a registered range made read-only after its
# registration (tests/prog/reg_readonly.c) is silently left out.
#
# pm__globals_spans (src/spans.c) drops registered ranges that are not
# writable private memory now; the writer therefore omits the page without
# a word (pm_checkpoint returns 0), and the restoring process, whose page is
# still writable when it restores, finds no section for it: the restore
# succeeds and the page keeps its fresh contents.  Silent loss of state the
# program asked to persist.
#
# Expected: the page comes back (it is readable: the writer can save it),
# or the checkpoint or the restore refuses with a message.
. "$(dirname "$0")/lib.sh"
build_c "$t/prog" "$T/tests/prog/reg_readonly.c"
pm_run "$t/prog" setup "$t/f.ckpt"
rc=$?
[ $rc -eq 77 ] && skip "the fixed address is taken"
[ $rc -eq 3 ] && { echo "ok: the checkpoint refused"; finish; }
[ $rc -eq 0 ] || die "setup (exit $rc)"
out=$(pm_run "$t/prog" check "$t/f.ckpt" 2>&1)
rc=$?
echo "$out"
[ $rc -eq 0 ] || bad "a registered read-only page was silently dropped" \
	"(exit $rc)"
finish
