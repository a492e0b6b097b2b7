/*
 * pmalloc.h - the public interface of pmalloc, a malloc whose heap lives at
 * one fixed virtual address so that a program can checkpoint its heap and
 * its globals to a file and reinstall them in a later run.
 *
 * Conventions (as libuv): every pm_ function that can fail returns 0 (or a
 * non-negative value) on success and a negative error code on failure:
 * -errno where one fits, one of the PM_E* codes below otherwise.
 * pm_strerror() names a code; pm_errmsg() gives the detailed message of the
 * calling thread's last failure (which check failed, where).
 *
 * The malloc family itself (malloc, free, ...) keeps POSIX/glibc semantics.
 */
#ifndef PMALLOC_H
#define PMALLOC_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PMALLOC_VERSION_MAJOR 1
#define PMALLOC_VERSION_MINOR 0
#define PMALLOC_VERSION_PATCH 0
#define PMALLOC_VERSION_STRING "1.0.0"

/* Error codes of our own; all below -1000 so they never collide with -errno.
 * X(name, value, message) */
#define PM_ERRNO_MAP(X)                                                        \
	X(PM_ECORRUPT, -1001, "checkpoint file is corrupt")                    \
	X(PM_EVERSION, -1002, "checkpoint file has an unsupported version")    \
	X(PM_EMAGIC, -1003, "not a pmalloc checkpoint file")                   \
	X(PM_ELAYOUT, -1004, "address-space layout differs from the checkpoint") \
	X(PM_EEXEC, -1005, "checkpoint was made by another executable")        \
	X(PM_EBASE, -1006, "checkpoint heap base or size differs from this heap") \
	X(PM_ENOHEAP, -1007, "the pmalloc heap is not available")              \
	X(PM_ETRUNC, -1008, "checkpoint file is truncated")                    \
	X(PM_EDIRSYNC, -1009,                                                  \
	  "checkpoint written, but its directory could not be synced")         \
	X(PM_EAUTH, -1010, "checkpoint authentication failed")                 \
	X(PM_EUNTRUSTED, -1011, "checkpoint file is not from a trusted writer")

enum pm_error {
#define PM_ERR_ENUM_(name, value, msg) name = value,
	PM_ERRNO_MAP(PM_ERR_ENUM_)
#undef PM_ERR_ENUM_
};

/* ---- Checkpoint and restore -------------------------------------------- */

/* Write the persistent heap, the executable's data/bss, PM_PERSISTENT
 * globals and pm_register()ed ranges to `path`.  The file is written to a
 * temporary file in the same directory, fsync'd and renamed over `path`, so
 * a crash at any moment leaves any previous file at `path` intact.  Other
 * threads may keep running; the heap is quiesced while it is copied.
 * The file is always readable and writable by its owner, whatever the
 * umask: a new file gets mode 0600, one replacing a file of the same
 * owner keeps that file's read bits (plus owner rw, minus group and other
 * write: a restore refuses a file that group or others can write).
 * Errors: -EINVAL (path NULL or empty, or a symbolic link, fifo or
 * device), -EISDIR, -errno of open/write/fsync/rename (-ENOSPC on a full
 * disk, ...), -EFBIG (the file would exceed RLIMIT_FSIZE, `ulimit -f`;
 * SIGXFSZ is never delivered for it), PM_ENOHEAP: the previous file is
 * untouched.  PM_EDIRSYNC: the new file IS in place at `path` (the previous
 * one is gone), but the directory could not be fsync'd, so after a crash
 * `path` may still name the previous file. */
int pm_checkpoint(const char *path);

/* Flags for pm_restore_ex(). */
#define PM_RESTORE_ALLOW_MOVED 0x1u /* accept moved executable/libraries */
#define PM_RESTORE_NO_VERIFY 0x2u   /* skip data checksums (header, metadata
				       and layout are always checked) */
#define PM_RESTORE_COPY 0x4u        /* read the heap into memory instead of
				       mapping the file (see below) */
#define PM_RESTORE_ANY_OWNER 0x8u   /* UNSAFE: skip the owner and mode check
				       (see "Trust" below) */
#define PM_RESTORE_CHECK_HEAP 0x10u /* also walk every chunk of the file's
				       heap before committing (reads it all) */

/* Reinstall the heap and the globals from `path`.  The whole file is
 * validated before memory is touched; on any failure the process is exactly
 * as before.  Must be called while the process has a single thread.
 *
 * Trust: a checkpoint holds pointers, function pointers and code, so
 * restoring a file runs what it holds.  Restore only files written by a
 * writer you trust.  Enforced: the file must be owned by the real user or
 * root (in a setuid program: the effective user or root; in a setgid or
 * file-capability program: root) and not be writable by group or
 * others, else PM_EUNTRUSTED;
 * PM_RESTORE_ANY_OWNER or PMALLOC_TRUST_ANY_OWNER=1 turns this off.  A
 * restore writes only where a checkpoint of this process could have
 * written: the heap region and the globals this process itself persists
 * (targets and keep masks are computed here, never taken from the file).
 * With a key (pm_key_set, PMALLOC_KEY_FILE) only files carrying a valid
 * MAC made with it are restored.
 * By default the heap is mapped from the file (MAP_PRIVATE): pages come in
 * as they are touched, so restore time does not grow with the heap, but
 * the file must not be rewritten in place (cp over it, `>`, truncate)
 * while the process runs: untouched pages would change, or SIGBUS.
 * Replacing it (pm_checkpoint, mv, rm) is safe.  PM_RESTORE_COPY (or
 * PMALLOC_RESTORE_COPY=1) reads the heap into memory instead.
 * Errors: -ENOENT/-EACCES/... (open), -EBUSY (other threads running, or the
 * program already holds blocks in the persistent heap), PM_EMAGIC,
 * PM_EVERSION, PM_ECORRUPT, PM_ETRUNC, PM_EEXEC, PM_EBASE, PM_ELAYOUT,
 * PM_EUNTRUSTED.
 * The environment variable PMALLOC_ALLOW_MOVED=1 acts as
 * PM_RESTORE_ALLOW_MOVED.  In a program with AT_SECURE set (setuid,
 * setgid, file capabilities) every PMALLOC_* variable is ignored.
 * With a key configured (pm_key_set, PMALLOC_KEY_FILE) the file's MAC is
 * checked too, always (PM_RESTORE_NO_VERIFY does not skip it): PM_EAUTH
 * if the file has no MAC or its MAC does not match the key; the key file's
 * errors as pm_key_set's below. */
int pm_restore(const char *path);
int pm_restore_ex(const char *path, unsigned flags);

/* Authentication of checkpoint files.  A restore runs what the file holds
 * (its heap and globals become the program's state), so a file must come
 * from a writer that can be trusted.  With a key configured, every
 * checkpoint carries an HMAC-SHA-256 of the whole file under that key
 * (docs/FORMAT.md, "Authentication") and a restore refuses a file whose
 * MAC is missing or wrong (PM_EAUTH) before it touches memory.  Without a
 * key, files are written without a MAC and a MAC in a file is ignored.
 *
 * pm_key_set(key, len) sets the key: any bytes, any length (keys longer
 * than 64 bytes are used through their SHA-256, as HMAC does); the library
 * keeps at most 64 bytes in its own memory, never in the heap (which is
 * checkpointed).  len 0 clears the key (the bytes are wiped) and from then
 * on PMALLOC_KEY_FILE is not consulted either.  Not to be called while
 * another thread checkpoints or restores.  Errors: -EINVAL (key NULL with
 * len > 0).
 *
 * Until pm_key_set is called, the environment variable
 * PMALLOC_KEY_FILE=path names a file whose bytes (all of them, a trailing
 * newline included) are the key.  It is read at the first checkpoint or
 * restore, never at start-up, and must be a regular file of at most 4096
 * bytes, owned by the real user or root, neither readable nor writable by
 * group or others (as OpenSSH asks of a private key); otherwise that
 * checkpoint or restore fails with -EACCES (ownership or mode), -EINVAL
 * (not a regular file, empty), -EFBIG (too long), or open's -errno, and
 * the file is read again at the next one. */
int pm_key_set(const void *key, size_t len);

/* 1 if this process's heap was restored from a checkpoint (by pm_restore or
 * by PMALLOC_RESTORE at start-up), 0 otherwise. */
int pm_restored(void);

/* Process images (docs/IMAGE.md): pm_image(path) writes an image of the
 * whole calling process (heap, every writable mapping, stack, registers,
 * signal state) and returns 0.  A later run of the same program resumed
 * from it (`pmalloc run --resume path -- PROG ARGS`) continues inside this
 * same call, which then returns PM_RESUMED.  The process must have one
 * thread (-EBUSY) and run with address-space randomisation off, as under
 * `pmalloc run` (-ENOTSUP); shared mappings are refused (-ENOTSUP).  The
 * file is written as checkpoints are (temp, fsync, rename, mode 0600, a
 * MAC when a key is set).  Every signal is blocked while it is written. */
#define PM_RESUMED 1
int pm_image(const char *path);
/* Hooks: fn(arg) before an image is written (in registration order) and
 * after a resume (in reverse order); up to 32 of each.  Close in the
 * first what an image cannot hold (sockets, pipes), reopen in the second.
 * 0, -EINVAL (fn NULL), -ENOSPC (too many). */
int pm_at_image(void (*fn)(void *arg), void *arg);
int pm_at_resume(void (*fn)(void *arg), void *arg);

/* The process is about to exit: from now on the calling thread's frees
 * (free, realloc's old block, delete) keep their memory instead of giving
 * it back, and its requests are served without a thread cache.  For the
 * teardown that programs do before exit(3) (an interpreter freeing every
 * object): in a process resumed from an image, each such free would copy
 * a page of the image only to throw it away.  Other threads' frees give
 * memory back as before; the pointer must still be one that malloc
 * returned (a pointer outside the heap aborts as before). */
void pm_exiting(void);

/* Named roots kept inside the heap (names up to 63 bytes), pointing into
 * the persistent heap.  pm_root_set with ptr NULL removes the root.
 * Errors: -EINVAL (bad name, or ptr outside the persistent heap),
 * -ENOMEM. */
int pm_root_set(const char *name, void *ptr);
void *pm_root_get(const char *name);

/* Add [addr, addr+len) (global memory, e.g. in a shared library) to what is
 * persisted.  Errors: -EINVAL (NULL, zero length, overlaps the heap),
 * -ENOMEM (too many ranges: the table holds 256). */
int pm_register(void *addr, size_t len);

/* Add the whole writable data/bss of the loaded shared object whose path
 * contains `name` (the first in load order, e.g. "libsqlite3") to what is
 * persisted, for libraries that keep state in their own globals.  Every
 * loaded library but the C/C++ run-time (libc, libstdc++, libm, ...) is
 * registered so automatically at each checkpoint and restore, unless
 * PMALLOC_PERSIST_LIBS=0; this call is for that case and for libraries
 * the automatic rule leaves out.  Ranges
 * inside a loaded object, here and with pm_register(), follow the
 * executable's rules: read-only-after-relocation pages (RELRO) are left
 * out, and GOT slots, TLS and copy relocations, .dynamic, words the loader
 * wrote and the program never changed, pointers into the run-time's
 * transient blocks and pmalloc's own state keep the restoring process's
 * values.  A restore needs the object loaded at the same address.
 * Errors: -EINVAL (NULL or empty name; libc or the dynamic loader),
 * -ENOENT (no loaded object matches), -ENOMEM (tables full). */
int pm_register_object(const char *name);

/* A global that must persist: `static int counter PM_PERSISTENT;` */
#define PM_PERSISTENT                                                          \
	__attribute__((section("pm_persistent"), used, retain, aligned(16)))

/* PM_PERSISTENT globals of the executable are found automatically.  A
 * shared library that has some writes, once, at file scope:
 *     PM_REGISTER_LIBRARY_PERSISTENT();
 * which registers the library's own pm_persistent section when it loads. */
#define PM_REGISTER_LIBRARY_PERSISTENT()                                       \
	extern char __start_pm_persistent[]                                    \
		__attribute__((visibility("hidden"), weak));                   \
	extern char __stop_pm_persistent[]                                     \
		__attribute__((visibility("hidden"), weak));                   \
	__attribute__((constructor)) static void pm_lib_persistent_(void)      \
	{                                                                      \
		char *lo_ = __start_pm_persistent;                             \
		char *hi_ = __stop_pm_persistent;                              \
		if (lo_ && hi_ > lo_)                                          \
			(void)pm_register(lo_, (size_t)(hi_ - lo_));           \
	}                                                                      \
	extern int pm_lib_persistent_unused_

const char *pm_strerror(int code);
const char *pm_errmsg(void);

/* The seed's dump entry point: the same as pm_checkpoint(). */
int mm_store_heap_file(const char *filename);

/* ---- The heap without interposition ------------------------------------ */

/* The same allocator as malloc & co., under names of our own, for programs
 * and tests that do not interpose libc's names. */
void *pm_malloc(size_t n);
void pm_free(void *p);
void *pm_calloc(size_t nmemb, size_t size);
void *pm_realloc(void *p, size_t n);
void *pm_memalign(size_t align, size_t n);
int pm_posix_memalign(void **out, size_t align, size_t n);
size_t pm_usable_size(const void *p);

/* Walk every chunk and every free list of the heap and check its
 * invariants.  Returns 0, or PM_ECORRUPT with the reason in pm_errmsg(). */
int pm_heap_check(void);

/* Facts about the heap. */
struct pm_heap_info {
	size_t base;      /* region base address */
	size_t size;      /* reserved bytes */
	size_t used;      /* bytes of the persistent arena in use by chunks */
	size_t top;       /* end of the persistent arena's used extent */
	size_t live;      /* bytes in live blocks (persistent arena) */
	size_t transient; /* bytes in live blocks of the transient arena */
};
int pm_heap_info(struct pm_heap_info *out);

#ifdef __cplusplus
}
#endif
#endif /* PMALLOC_H */
