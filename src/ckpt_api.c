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

#include <string.h>

PM_EXPORT int pm_checkpoint(const char *path)
{
	return pm__ckpt_write(path);
}

PM_EXPORT int mm_store_heap_file(const char *filename)
{
	return pm__ckpt_write(filename);
}

PM_EXPORT int pm_restore_ex(const char *path, unsigned flags)
{
	return pm__ckpt_restore(path, flags);
}

PM_EXPORT int pm_restore(const char *path)
{
	return pm__ckpt_restore(path, 0);
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

int pm__restore_at_startup(void)
{
	char path[4096], line[1024];
	const char *v = pm__env("PMALLOC_RESTORE");
	if (!v)
		return 0;
	size_t n = strlen(v);
	if (n >= sizeof path)
		n = sizeof path - 1;
	memcpy(path, v, n);
	path[n] = '\0';
	pm__env_remove("PMALLOC_RESTORE");
	if (!path[0])
		return 0;
	int rc = pm__ckpt_restore(path, 0);
	if (rc) {
		size_t k = pm__fmt(line, sizeof line,
				   "pmalloc: PMALLOC_RESTORE=%s: %s: %s", path,
				   pm_strerror(rc), pm_errmsg());
		if (k > sizeof line - 2)
			k = sizeof line - 2;
		line[k++] = '\n';
		pm__write_all(2, line, k);
	}
	return rc;
}
