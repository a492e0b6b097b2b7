/*
 * ckpt_api.c - the public checkpoint/restore entry points and the
 * PMALLOC_RESTORE start-up hook.
 *
 * PMALLOC_RESTORE=FILE: init.c calls pm__restore_at_startup() right before
 * main().  The variable is removed from environ first (so children of the
 * program do not restore too): the pointer array is shifted in place, no
 * allocation.  A failed restore is not fatal: one line to fd 2 with the
 * reason, and the program starts with its fresh heap.
 *
 * The hook lives here, apart from the parser: a program linking
 * libpmalloc.a that never calls the checkpoint API does not pull it in
 * (init.c's reference to the hook is weak).  The pmalloc CLI links only
 * the file-reading objects (ckpt.h), so neither a restore nor the
 * allocator is in it.
 */
#include "ckpt.h"
#include "vg.h"

#include <stdarg.h>
#include <string.h>

/* Under memcheck a checkpoint and a restore are pmalloc's own work: they
 * read chunk heads and free chunks (NOACCESS to memcheck) and write the
 * program's blocks, undefined bytes included, to the file (vg.h). */
static int write_file(const char *path)
{
	pm__vg_mute();
	int rc = pm__ckpt_write(path);
	pm__vg_unmute();
	return rc;
}

static int restore_file(const char *path, unsigned flags)
{
	pm__vg_mute();
	int rc = pm__ckpt_restore(path, flags);
	pm__vg_unmute();
	return rc;
}

PM_EXPORT int pm_checkpoint(const char *path)
{
	return write_file(path);
}

PM_EXPORT int mm_store_heap_file(const char *filename)
{
	return write_file(filename);
}

PM_EXPORT int pm_restore_ex(const char *path, unsigned flags)
{
	return restore_file(path, flags);
}

PM_EXPORT int pm_restore(const char *path)
{
	return restore_file(path, 0);
}

PM_EXPORT int pm_restored(void)
{
	return pm__ckpt_restored;
}

extern char **environ;

void pm__env_remove(const char *name)
{
	size_t n = strlen(name);
	if (!environ)
		return;
	char **w = environ;
	for (char **r = environ; *r; r++)
		if (strncmp(*r, name, n) != 0 || (*r)[n] != '=')
			*w++ = *r;
	*w = NULL;
}

/* `pmalloc run --valgrind --restore FILE` passes FILE as
 * PMALLOC_VALGRIND_RESTORE, honoured only by a process valgrind runs: the
 * valgrind wrapper script and launcher run with the library preloaded
 * too, and would take (and refuse) PMALLOC_RESTORE first. */
int pm__restore_at_startup(void)
{
	char path[4096], line[1024];
	const char *name = "PMALLOC_RESTORE";
	const char *v = pm__env(name);
	if (!v && PM_VG_RUNNING())
		v = pm__env(name = "PMALLOC_VALGRIND_RESTORE");
	if (!v)
		return 0;
	pm__env_copy(v, path, sizeof path);
	pm__env_remove(name);
	if (!path[0])
		return 0;
	int rc = restore_file(path, 0);
	if (rc)
		pm__say_line(line, sizeof line, "pmalloc: %s=%s: %s: %s", name,
			     path, pm_strerror(rc), pm_errmsg());
	return rc;
}

void pm__env_copy(const char *v, char *buf, size_t cap)
{
	size_t n = strlen(v);
	if (n >= cap)
		n = cap - 1;
	memcpy(buf, v, n);
	buf[n] = '\0';
}

void pm__say_line(char *line, size_t cap, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	size_t k = pm__vfmt(line, cap, fmt, ap);
	va_end(ap);
	if (k > cap - 2)
		k = cap - 2;
	line[k++] = '\n';
	pm__write_all(2, line, k);
}
