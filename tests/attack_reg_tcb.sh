#!/bin/sh
# attack_reg_tcb.sh - pm_register() accepts libc's thread control block.
#
# register.c refuses ranges that reach into libc's, the loader's or
# pmalloc's loaded objects, and memory that is not writable private; the
# main thread's TCB (and static TLS) is an anonymous rw-p mapping of the
# loader's, in no object, so pm_register(__builtin_thread_pointer(), 64)
# succeeds.  A checkpoint then holds the writer's stack-protector canary
# and pointer guard, and a restore writes them into the new process: every
# pointer libc mangled before the restore (atexit handlers, jmp_bufs) is
# demangled with the wrong guard (exit crashes: SIGSEGV), and the canary
# of frames live across the restore changes.  docs/FORMAT.md: "libc's,
# the loader's and pmalloc's own memory are never spans".
#
# Expected: pm_register refuses the range, or the restore keeps those
# words (tests/prog/reg_tcb.c exits 0 either way).
. "$(dirname "$0")/lib.sh"
build_c "$t/reg_tcb" "$T/tests/prog/reg_tcb.c"
pm_run "$t/reg_tcb" setup "$t/f.ckpt" || die "setup"
out=$(pm_run "$t/reg_tcb" check "$t/f.ckpt" 2>&1)
rc=$?
echo "$out"
[ $rc -eq 0 ] || bad "libc's TCB registered and overwritten by a restore" \
	"(exit $rc)"
finish
