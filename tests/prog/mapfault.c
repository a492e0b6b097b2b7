/*
 * mapfault.so - an LD_PRELOAD shim for tests/ckpt_mapread.sh: it stands
 * in for madvise(MADV_POPULATE_READ), which the checksum pass of a
 * checkpoint or image reader calls on each window of the file it maps.
 *   MAPFAULT_MODE  count   pass the call on (the log shows it was made)
 *                  shrink  pass it on, then truncate MAPFAULT_FILE to
 *                          MAPFAULT_SIZE bytes: the pages just read are
 *                          taken out of the mapping (the race of a file
 *                          truncated while it is checked: SIGBUS)
 *                  eio     fail with EIO (a read error of the disk)
 *                  einval  fail with EINVAL (a kernel before 5.14)
 *                  sigbus  pass it on, then kill(getpid(), SIGBUS): a
 *                          SIGBUS sent to the process while the pass
 *                          runs (not a fault of the pass)
 *                  hold    two passes in two threads at once: the first
 *                          call creates MAPFAULT_HELD and waits for the
 *                          second; the second waits for the file
 *                          MAPFAULT_RELEASE (each at most 60 s)
 *   MAPFAULT_LOG   a file that gets a line "populate" for each call
 * Any other advice goes to the real madvise.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <signal.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif

int madvise(void *addr, size_t len, int advice)
{
	if (advice != MADV_POPULATE_READ)
		return (int)syscall(SYS_madvise, addr, len, advice);
	const char *mode = getenv("MAPFAULT_MODE");
	const char *log = getenv("MAPFAULT_LOG");
	if (log) {
		int fd = open(log, O_WRONLY | O_APPEND | O_CREAT, 0600);
		if (fd >= 0) {
			(void)!write(fd, "populate\n", 9);
			close(fd);
		}
	}
	if (mode && !strcmp(mode, "eio")) {
		errno = EIO;
		return -1;
	}
	if (mode && !strcmp(mode, "einval")) {
		errno = EINVAL;
		return -1;
	}
	if (mode && !strcmp(mode, "hold")) {
		static int calls;
		int me = __atomic_add_fetch(&calls, 1, __ATOMIC_SEQ_CST);
		struct stat st;
		const char *held = getenv("MAPFAULT_HELD");
		const char *rel = getenv("MAPFAULT_RELEASE");
		if (me == 1 && held)
			close(open(held, O_WRONLY | O_CREAT, 0600));
		for (int i = 0; i < 60000; i++) {
			if (me == 1 && __atomic_load_n(&calls, __ATOMIC_SEQ_CST) >= 2)
				break;
			if (me == 2 && rel && stat(rel, &st) == 0)
				break;
			if (me > 2)
				break;
			usleep(1000);
		}
	}
	int rc = (int)syscall(SYS_madvise, addr, len, advice);
	if (mode && !strcmp(mode, "sigbus"))
		kill(getpid(), SIGBUS);
	const char *file = getenv("MAPFAULT_FILE");
	if (rc == 0 && mode && !strcmp(mode, "shrink") && file)
		(void)!truncate(file, strtoll(getenv("MAPFAULT_SIZE") ?
					      getenv("MAPFAULT_SIZE") : "0",
					      NULL, 10));
	return rc;
}
