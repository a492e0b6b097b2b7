/*
 * os_sync.h - the OS layer's synchronisation calls (os_sync.c): futex
 * wait/wake for the arena locks, and a process-wide memory barrier for
 * the thread caches' quiesce.  Same contract as os.c (internal.h): no
 * allocation, no stdio, safe inside malloc and in a forked child; nothing
 * here knows of the region.
 */
#ifndef PM_OS_SYNC_H
#define PM_OS_SYNC_H

/* Sleep while *addr == val (process-private futex).  May return early
 * (a signal, a spurious wake-up, *addr already changed): the caller
 * re-checks.  Leaves errno as it was. */
void pm__os_futex_wait(int *addr, int val);
/* Wake up to n threads sleeping on addr.  Leaves errno as it was. */
void pm__os_futex_wake(int *addr, int n);
/* Once per process: register for expedited private membarrier when the
 * kernel has it. */
void pm__os_barrier_init(void);
/* Make every other running thread of the process execute a full memory
 * barrier before this returns (membarrier, or a TLB shoot-down forced by
 * an mprotect of a touched page where membarrier is missing). */
void pm__os_barrier_all(void);
#endif
