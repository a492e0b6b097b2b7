#!/bin/sh
# attack_uaf_ring.sh - the size ring of a large bin (fd_size, bk_size of a
# free chunk >= 1024 bytes) is followed and written without a check:
# pm__bin_remove checks fd and bk (f->bk == c, b->fd == c) but large_remove
# then does c->fd_size->bk_size = c->bk_size and c->bk_size->fd_size =
# c->fd_size whatever they hold.  A use-after-free write of those two
# words (tests/prog/uaf_ring.c) makes the next malloc of that size write a
# chosen pointer to a chosen address (the classic large-bin attack); a
# checkpoint file with a bad ring link (PM_RESTORE_CHECK_HEAP not asked)
# crashes the first malloc that meets it with SIGSEGV instead of the one
# "pmalloc: " line.  attack_uaf.sh asks SIGABRT and one line of the
# forged cached-block cases; DESIGN.md "Limits" names only the house of
# spirit as not caught.
#
# Expected: SIGABRT after one "pmalloc: " line (e.g. the checks glibc
# makes: c->fd_size->bk_size == c and c->bk_size->fd_size == c).
. "$(dirname "$0")/lib.sh"
"$CC" -std=c11 -O1 -fno-builtin -Wall -Wextra -o "$t/prog" \
	"$T/tests/prog/uaf_ring.c" || exit 1
pm_run "$t/prog" >"$t/out" 2>"$t/err"
rc=$?
cat "$t/out" "$t/err"
if [ $rc -eq 134 ] && grep -q '^pmalloc: ' "$t/err"; then
	echo "ok: caught"
else
	bad "forged size-ring links (exit $rc, want 134 and a pmalloc: line)"
fi
finish
