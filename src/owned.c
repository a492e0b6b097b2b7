/*
 * owned.c - libc functions that hand the program memory of its own
 * (strdup, getline, asprintf, realpath, getcwd...).  libc calls malloc for
 * these itself, so the return-address rule (alloc.h) would put them in the
 * transient arena; the program keeps them as its own data, so they are
 * made here, from the persistent heap.
 *
 * <stdio.h> is not included: under optimisation glibc's header defines
 * getline inline, which would clash with ours.
 */
#ifndef PM_NO_INTERPOSE
#include "vg.h"
#include "libc_names.h"
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#define RA ((uintptr_t)__builtin_return_address(0))

typedef struct _IO_FILE FILE;
extern int vsnprintf(char *, size_t, const char *, va_list);

static char *dup_owned(const char *s, size_t max, uintptr_t ra)
{
	size_t n = strnlen(s, max);
	char *p = PM_API_MALLOC(n + 1, pm__owned_transient(ra));
	if (!p)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

PM_EXPORT char *strdup(const char *s) { return dup_owned(s, SIZE_MAX, RA); }
PM_EXPORT char *strndup(const char *s, size_t max)
{
	return dup_owned(s, max, RA);
}
/* The names glibc's headers before 2.26 turned them into, still called by
 * binaries built then. */
PM_EXPORT char *__strdup(const char *s) { return dup_owned(s, SIZE_MAX, RA); }
PM_EXPORT char *__strndup(const char *s, size_t max)
{
	return dup_owned(s, max, RA);
}

static void *next_fn(const char *name)
{
	return dlsym(RTLD_NEXT, name);
}

static ssize_t getdelim_owned(char **line, size_t *n, int delim, FILE *f,
			      uintptr_t ra)
{
	static ssize_t (*real)(char **, size_t *, int, FILE *) PM_STATE;
	if (!real)
		real = (ssize_t(*)(char **, size_t *, int, FILE *))next_fn(
			"getdelim");
	if (line && n && !*line) { /* libc would malloc it: we do */
		*line = PM_API_MALLOC(120, pm__owned_transient(ra));
		if (!*line) {
			errno = ENOMEM;
			return -1;
		}
		*n = 120;
	}
	return real(line, n, delim, f); /* its realloc keeps our arena */
}

PM_EXPORT ssize_t getdelim(char **line, size_t *n, int delim, FILE *f)
{
	return getdelim_owned(line, n, delim, f, RA);
}

/* glibc's <stdio.h> turns getline into an inline call of __getdelim when
 * optimising: programs reach that name directly. */
PM_EXPORT ssize_t __getdelim(char **line, size_t *n, int delim, FILE *f)
{
	return getdelim_owned(line, n, delim, f, RA);
}

PM_EXPORT ssize_t getline(char **line, size_t *n, FILE *f)
{
	return getdelim_owned(line, n, '\n', f, RA);
}

extern int __vsnprintf_chk(char *, size_t, int, size_t, const char *,
			   va_list);

/* flag > 0: the fortified variant's checks (glibc's __vsnprintf_chk
 * refuses %n in a writable format, for one) */
static int format_owned(char **out, int flag, const char *fmt, va_list ap,
			uintptr_t ra)
{
	char buf[512];
	va_list ap2;
	va_copy(ap2, ap);
	int len = flag > 0 ? __vsnprintf_chk(buf, sizeof buf, flag, sizeof buf,
					     fmt, ap)
			   : vsnprintf(buf, sizeof buf, fmt, ap);
	char *p = NULL;
	if (len >= 0)
		p = PM_API_MALLOC((size_t)len + 1, pm__owned_transient(ra));
	if (p && (size_t)len < sizeof buf)
		memcpy(p, buf, (size_t)len + 1);
	else if (p)
		vsnprintf(p, (size_t)len + 1, fmt, ap2);
	va_end(ap2);
	if (!p)
		return -1;
	*out = p;
	return len;
}

PM_EXPORT int vasprintf(char **out, const char *fmt, va_list ap)
{
	return format_owned(out, 0, fmt, ap, RA);
}

PM_EXPORT int asprintf(char **out, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = format_owned(out, 0, fmt, ap, RA);
	va_end(ap);
	return r;
}

/* What -D_FORTIFY_SOURCE makes of them (Debian builds its libraries so:
 * GLib's g_strdup_printf reaches __vasprintf_chk). */
PM_EXPORT int __vasprintf_chk(char **out, int flag, const char *fmt,
			      va_list ap)
{
	return format_owned(out, flag, fmt, ap, RA);
}

PM_EXPORT int __asprintf_chk(char **out, int flag, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = format_owned(out, flag, fmt, ap, RA);
	va_end(ap);
	return r;
}

PM_EXPORT char *realpath(const char *restrict path, char *restrict resolved)
{
	static char *(*real)(const char *, char *) PM_STATE;
	if (!real)
		real = (char *(*)(const char *, char *))next_fn("realpath");
	if (resolved)
		return real(path, resolved);
	char buf[PATH_MAX];
	if (!real(path, buf))
		return NULL;
	return dup_owned(buf, SIZE_MAX, RA);
}

PM_EXPORT char *getcwd(char *buf, size_t size)
{
	static char *(*real)(char *, size_t) PM_STATE;
	if (!real)
		real = (char *(*)(char *, size_t))next_fn("getcwd");
	if (buf)
		return real(buf, size);
	char tmp[PATH_MAX];
	if (!real(tmp, sizeof tmp))
		return NULL;
	size_t n = strlen(tmp) + 1;
	if (size && n > size) {
		errno = ERANGE;
		return NULL;
	}
	char *p = PM_API_MALLOC(size > n ? size : n, pm__owned_transient(RA));
	return p ? memcpy(p, tmp, n) : NULL;
}
#endif /* PM_NO_INTERPOSE */
