/*
 * os_sync.c - the OS layer's synchronisation calls: futex and membarrier
 * (see os_sync.h for the contract).  Owns the "membarrier works" flag and
 * the fallback's page; knows nothing of the region or the heap.
 */
#include "internal.h"
#include "os_sync.h"
#include <errno.h>
#include <unistd.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#define MEMB_QUERY 0
#define MEMB_PRIVATE_EXPEDITED (1 << 3)
#define MEMB_REGISTER_PRIVATE_EXPEDITED (1 << 4)

static int membarrier_ok PM_STATE;

void pm__os_futex_wait(int *addr, int val)
{
	int e = errno; /* EAGAIN/EINTR are not the caller's news */
	syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
	errno = e;
}

void pm__os_futex_wake(int *addr, int n)
{
	int e = errno;
	syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
	errno = e;
}

void pm__os_barrier_init(void)
{
	int e = errno;
	/* no MEMB_QUERY first: a kernel without the command refuses the
	 * registration (EINVAL), and that is one call fewer at start-up */
	if (syscall(SYS_membarrier, MEMB_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0)
		membarrier_ok = 1;
	errno = e;
}

void pm__os_barrier_all(void)
{
	int e = errno;
	if (membarrier_ok &&
	    syscall(SYS_membarrier, MEMB_PRIVATE_EXPEDITED, 0, 0) == 0) {
		errno = e;
		return;
	}
	/* Fallback: changing the protection of a touched page makes the
	 * kernel shoot down TLBs with an IPI on every CPU running this mm,
	 * which serialises them. */
	static char *page PM_STATE;
	if (!page)
		page = pm__os_aux(PM_PAGE);
	if (page) {
		page[0] = 1;
		pm__os_protect(page, PM_PAGE, PROT_READ);
		pm__os_protect(page, PM_PAGE, PROT_READ | PROT_WRITE);
	}
	errno = e;
}
