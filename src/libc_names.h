/*
 * libc_names.h - the C library's, glibc's internal and the C++ run-time's
 * names that pmalloc defines (interpose.c, owned.c, cxxnew.c), declared
 * as those libraries declare them, for the files that define them: the
 * system headers leave the glibc-internal and the mangled ones out, and
 * every function defined here must have a prototype in view
 * (-Wmissing-prototypes).
 */
#ifndef PM_LIBC_NAMES_H
#define PM_LIBC_NAMES_H

#include <stdarg.h>
#include <stddef.h>
#include <bits/types/FILE.h> /* FILE without the rest of stdio.h */
#include <sys/types.h>

/* glibc's internal allocation names (interpose.c) */
void *__libc_malloc(size_t n);
void __libc_free(void *p);
void *__libc_calloc(size_t a, size_t b);
void *__libc_realloc(void *p, size_t n);
void *__libc_memalign(size_t al, size_t n);
void *__libc_valloc(size_t n);
void *__libc_pvalloc(size_t n);
int posix_memalign(void **out, size_t al, size_t n);
void *aligned_alloc(size_t al, size_t n);
typedef int (*pm_main_fn)(int, char **, char **);
int __libc_start_main(pm_main_fn main, int argc, char **argv,
		      void (*init)(void), void (*fini)(void),
		      void (*rtld_fini)(void), void *stack_end);

/* functions returning memory the program owns (owned.c) */
char *__strdup(const char *s);
char *__strndup(const char *s, size_t max);
ssize_t getdelim(char **line, size_t *n, int delim, FILE *f);
ssize_t __getdelim(char **line, size_t *n, int delim, FILE *f);
ssize_t getline(char **line, size_t *n, FILE *f);
int vasprintf(char **out, const char *fmt, va_list ap);
int asprintf(char **out, const char *fmt, ...);
int __vasprintf_chk(char **out, int flag, const char *fmt, va_list ap);
int __asprintf_chk(char **out, int flag, const char *fmt, ...);
char *realpath(const char *restrict path, char *restrict resolved);

/* C++ operator new and delete, by their mangled names (cxxnew.c):
 * std::nothrow_t and std::align_val_t passed as a pointer and a size_t */
void *_Znwm(size_t n);
void *_Znam(size_t n);
void *_ZnwmRKSt9nothrow_t(size_t n, const void *t);
void *_ZnamRKSt9nothrow_t(size_t n, const void *t);
void *_ZnwmSt11align_val_t(size_t n, size_t al);
void *_ZnamSt11align_val_t(size_t n, size_t al);
void *_ZnwmSt11align_val_tRKSt9nothrow_t(size_t n, size_t al, const void *t);
void *_ZnamSt11align_val_tRKSt9nothrow_t(size_t n, size_t al, const void *t);
void _ZdlPv(void *p);
void _ZdaPv(void *p);
void _ZdlPvm(void *p, size_t n);
void _ZdaPvm(void *p, size_t n);
void _ZdlPvRKSt9nothrow_t(void *p, const void *t);
void _ZdaPvRKSt9nothrow_t(void *p, const void *t);
void _ZdlPvSt11align_val_t(void *p, size_t al);
void _ZdaPvSt11align_val_t(void *p, size_t al);
void _ZdlPvmSt11align_val_t(void *p, size_t n, size_t al);
void _ZdaPvmSt11align_val_t(void *p, size_t n, size_t al);

#endif /* PM_LIBC_NAMES_H */
