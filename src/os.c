/*
 * os.c - the OS layer: everything pmalloc asks of the kernel.
 *
 * Contract (see internal.h): nothing here allocates or uses stdio, so every
 * function may run inside malloc, before libc is initialised, or in a
 * forked child.  Errors are returned as -errno; pm__fatal is the only way
 * out that does not return.
 *
 * Every mmap, mprotect and madvise of the library is here (but for those
 * of alloc.c and tcache.c, docs/DESIGN.md "Layers").  Nothing here knows
 * the region: functions take addresses and sizes, and whoever owns a range
 * passes it (init.c: the heap's reservation, and where pmalloc's own pages
 * go, pm__os_aux_after).
 *
 * Fixed addresses are taken with MAP_FIXED_NOREPLACE (pm__os_reserve,
 * pm__os_map_at), and the address the kernel returns is compared with the
 * one asked for: old kernels and some sanitizer runtimes treat the flag as
 * a hint.  Plain MAP_FIXED is used only over memory the caller already
 * owns (pm__os_map_over, pm__os_map_file, pm__os_discard).
 */
#include "internal.h"
#include <link.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/uio.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <time.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

void pm__write_all(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t w = write(fd, s, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

void pm__fatal(const char *msg, const void *addr)
{
	char line[256];
	size_t n;
	if (addr)
		n = pm__fmt(line, sizeof line, "pmalloc: %s: %p\n", msg, addr);
	else
		n = pm__fmt(line, sizeof line, "pmalloc: %s\n", msg);
	pm__write_all(2, line, n < sizeof line ? n : sizeof line - 1);
	abort();
}

/* ---- /proc/self/maps without malloc ------------------------------------ */

static uintptr_t hex(const char **s)
{
	uintptr_t v = 0;
	for (;; (*s)++) {
		char c = **s;
		if (c >= '0' && c <= '9')
			v = v * 16 + (uintptr_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v = v * 16 + (uintptr_t)(c - 'a' + 10);
		else
			return v;
	}
}

int pm__os_maps(int (*fn)(void *, uintptr_t, uintptr_t, const char *,
			  const char *),
		void *ctx)
{
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* a line is about 80 bytes and a path (PATH_MAX 4096 at most); no
	 * more: start-up reads the maps with few frames above, and a deeper
	 * stack is one more page to fault in */
	char buf[4096 + 256];
	size_t have = 0;
	int ret = 0;
	for (;;) {
		ssize_t r = read(fd, buf + have, sizeof buf - 1 - have);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		have += (size_t)r;
		buf[have] = '\0';
		char *line = buf, *nl;
		while ((nl = memchr(line, '\n', have - (size_t)(line - buf)))) {
			*nl = '\0';
			const char *s = line;
			uintptr_t lo = hex(&s);
			s++;
			uintptr_t hi = hex(&s);
			s++;
			char perms[5];
			memcpy(perms, s, 4);
			perms[4] = '\0';
			/* skip perms, offset, dev, inode to the path */
			int fields = 0;
			while (*s && fields < 4) {
				while (*s && *s != ' ')
					s++;
				while (*s == ' ')
					s++;
				fields++;
			}
			ret = fn(ctx, lo, hi, perms, s);
			if (ret)
				goto out;
			line = nl + 1;
		}
		have -= (size_t)(line - buf);
		memmove(buf, line, have);
		if (have == sizeof buf - 1)
			have = 0; /* absurdly long line: drop it */
	}
out:
	close(fd);
	return ret;
}

struct objmaps {
	int (*fn)(void *, uintptr_t, uintptr_t, const char *, const char *);
	void *ctx;
	uintptr_t vdso;
	int seen, ret;
};

/* The vdso (not a file) and the executable (named "") aside, is the name
 * of every object absolute? */
static int names_cb(struct dl_phdr_info *info, size_t size, void *vc)
{
	struct objmaps *o = vc;
	(void)size;
	if (o->seen++ && info->dlpi_addr != o->vdso &&
	    info->dlpi_name[0] != '/')
		return o->ret = -EAGAIN;
	return 0;
}

static int segs_cb(struct dl_phdr_info *info, size_t size, void *vc)
{
	struct objmaps *o = vc;
	uintptr_t done = 0; /* segments in address order: next above done */
	(void)size;
	if (o->seen++ && info->dlpi_addr == o->vdso)
		return 0;
	for (;;) {
		const ElfW(Phdr) *next = NULL;
		for (int i = 0; i < info->dlpi_phnum; i++) {
			const ElfW(Phdr) *p = &info->dlpi_phdr[i];
			if (p->p_type == PT_LOAD && p->p_memsz &&
			    info->dlpi_addr + p->p_vaddr + p->p_memsz > done &&
			    (!next || p->p_vaddr < next->p_vaddr))
				next = p;
		}
		if (!next)
			return 0;
		uintptr_t a = info->dlpi_addr + next->p_vaddr;
		uintptr_t lo = a & ~(uintptr_t)(PM_PAGE - 1);
		uintptr_t hi = (a + next->p_memsz + PM_PAGE - 1) &
			       ~(uintptr_t)(PM_PAGE - 1);
		const char *perms = (next->p_flags & PF_X) ? "r-xp"
				    : (next->p_flags & PF_W) ? "rw-p"
							     : "r--p";
		done = a + next->p_memsz;
		if ((o->ret = o->fn(o->ctx, lo, hi, perms, info->dlpi_name)))
			return 1;
	}
}

int pm__os_object_maps(int (*fn)(void *ctx, uintptr_t lo, uintptr_t hi,
				 const char *perms, const char *path),
		       void *ctx)
{
	struct objmaps o = {fn, ctx, getauxval(AT_SYSINFO_EHDR), 0, 0};
	dl_iterate_phdr(names_cb, &o);
	if (o.ret)
		return o.ret;
	o.seen = 0;
	dl_iterate_phdr(segs_cb, &o);
	return o.ret;
}

struct occupant {
	uintptr_t lo, hi;
	char what[160];
};

static int find_occupant(void *ctx, uintptr_t lo, uintptr_t hi,
			 const char *perms, const char *path)
{
	struct occupant *o = ctx;
	(void)perms;
	if (lo < o->hi && hi > o->lo) {
		pm__fmt(o->what, sizeof o->what, "%lx-%lx %s", (unsigned long)lo,
			(unsigned long)hi, *path ? path : "[anonymous]");
		return 1;
	}
	return 0;
}

int pm__os_reserve(uintptr_t base, size_t size, size_t *got)
{
	int shrunk = 0;
	size_t want = size;
	for (;;) {
		void *p = mmap((void *)base, size, PROT_NONE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE |
				       MAP_FIXED_NOREPLACE,
			       -1, 0);
		if (p == (void *)base) {
			if (shrunk)
				pm__warn("address-space limit: reserved %zu MiB "
					 "at %p instead of %zu MiB",
					 size >> 20, (void *)base, want >> 20);
			*got = size;
			return 0;
		}
		int e = p == MAP_FAILED ? errno : EEXIST;
		if (p != MAP_FAILED)
			munmap(p, size); /* flag taken as a hint: not ours */
		if (e == ENOMEM && size / 2 >= PM_MIN_SIZE) {
			size /= 2;
			shrunk = 1;
			continue;
		}
		if (e == EEXIST) {
			struct occupant o = { base, base + size, "" };
			pm__os_maps(find_occupant, &o);
			pm__warn("cannot reserve %lx-%lx for the heap: occupied "
				 "by %s; set PMALLOC_BASE to a free address",
				 (unsigned long)base, (unsigned long)(base + size),
				 o.what[0] ? o.what : "another mapping");
		} else {
			pm__warn("cannot reserve %lx-%lx for the heap: %s; set "
				 "PMALLOC_SIZE or PMALLOC_BASE",
				 (unsigned long)base, (unsigned long)(base + size),
				 e == ENOMEM ? "out of address space"
					     : "mmap failed");
		}
		return -e;
	}
}

int pm__os_commit(void *p, size_t n)
{
	if (mprotect(p, n, PROT_READ | PROT_WRITE) != 0)
		return -errno;
	return 0;
}

int pm__os_map_at(uintptr_t at, size_t len, int prot)
{
	void *p = mmap((void *)at, len, prot,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE |
			       MAP_FIXED_NOREPLACE,
		       -1, 0);
	if (p == (void *)at)
		return 0;
	if (p == MAP_FAILED)
		return -errno;
	munmap(p, len); /* the flag taken as a hint: not where we asked */
	return -EEXIST;
}

int pm__os_map_over(void *at, size_t len)
{
	void *p = mmap(at, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	return p == at ? 0 : -errno;
}

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 31;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 29;
	x *= 0x94d049bb133111ebull;
	return x ^ (x >> 32);
}

uint64_t pm__os_random64(void)
{
	uint64_t v;
	if (syscall(SYS_getrandom, &v, sizeof v, 1 /* GRND_NONBLOCK */) ==
	    (long)sizeof v)
		return v;
	struct timespec ts;
	uint64_t aux[2] = {0, 0};
	const void *r = (const void *)getauxval(AT_RANDOM);
	if (r)
		memcpy(aux, r, sizeof aux);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return mix64(aux[0] ^ mix64(aux[1] ^ (uint64_t)ts.tv_nsec ^
				    (uint64_t)(uintptr_t)&v));
}

int pm__os_move(void *from, size_t len, void *to)
{
	void *p = mremap(from, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, to);
	return p == to ? 0 : -errno;
}

void pm__os_unmap(void *p, size_t len)
{
	if (p && len)
		munmap(p, len);
}

int pm__os_protect(void *p, size_t len, int prot)
{
	return mprotect(p, len, prot) ? -errno : 0;
}

void *pm__os_scratch(size_t n)
{
	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

void pm__os_scratch_free(void *p, size_t n)
{
	pm__os_unmap(p, n);
}

int pm__os_map_file(void *at, size_t len, int prot, int fd, uint64_t off)
{
	int flags = at ? MAP_PRIVATE | MAP_FIXED : MAP_PRIVATE;
	void *p = mmap(at, len, prot, flags, fd, (off_t)off);
	if (p == MAP_FAILED)
		return -errno;
	if (at && p != at) {
		munmap(p, len);
		return -EEXIST;
	}
	return 0;
}

void *pm__os_map_file_any(size_t len, int prot, int fd)
{
	void *p = mmap(NULL, len, prot, MAP_PRIVATE, fd, 0);
	return p == MAP_FAILED ? NULL : p;
}

void pm__os_discard(void *p, size_t n, int file_backed)
{
	if (!n)
		return;
	if (file_backed) {
		/* MADV_DONTNEED on a private file mapping brings back the
		 * file's bytes: replace the pages with fresh anonymous ones. */
		void *q = mmap(p, n, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE |
				       MAP_FIXED,
			       -1, 0);
		if (q == p)
			return;
		/* cannot keep the promise that the pages read as zero */
		pm__fatal("cannot replace pages of the heap", p);
	}
	madvise(p, n, MADV_DONTNEED);
}

/* ---- the environment ----------------------------------------------------
 * getenv() may not be safe this early (and is not ours to call during
 * preload start-up): scan environ ourselves; if libc has not set it yet,
 * read the initial environment from /proc/self/environ. */
extern char **environ;
/* /proc/self/environ's copy: a page mapped the first time it is needed
 * (rarely: libc sets environ before any constructor), not 4 KiB of
 * pmalloc's own data that every process would carry */
#define ENVBUF 4096
static char *envbuf PM_STATE;

/* In a program started with privileges the user did not have (setuid,
 * setgid, file capabilities: the kernel's AT_SECURE), every PMALLOC_*
 * variable is ignored, as glibc ignores MALLOC_*: a variable naming a
 * checkpoint file would otherwise run the user's bytes with the program's
 * privileges. */
int pm__secure(void)
{
	/* fixed for the process's life: asked once (start-up asks a dozen
	 * times, and getauxval walks the whole vector each time) */
	static int secure PM_STATE; /* 0 not asked, 1 no, 2 yes */
	int v = __atomic_load_n(&secure, __ATOMIC_RELAXED);
	if (!v) {
		v = getauxval(AT_SECURE) ? 2 : 1;
		__atomic_store_n(&secure, v, __ATOMIC_RELAXED);
	}
	return v == 2;
}

int pm__os_aslr_off(void)
{
	static int off PM_STATE; /* 0 not asked, 1 on, 2 off */
	int v = __atomic_load_n(&off, __ATOMIC_RELAXED);
	if (!v) {
		int pers = personality(0xffffffff);
		v = pers != -1 && (pers & ADDR_NO_RANDOMIZE) ? 2 : 1;
		__atomic_store_n(&off, v, __ATOMIC_RELAXED);
	}
	return v == 2;
}

const char *pm__env(const char *name)
{
	size_t n = strlen(name);
	if (pm__secure())
		return NULL;
	if (environ) {
		for (char **e = environ; *e; e++)
			if (**e == *name && !strncmp(*e, name, n) &&
			    (*e)[n] == '=')
				return *e + n + 1;
		return NULL;
	}
	char *buf = __atomic_load_n(&envbuf, __ATOMIC_ACQUIRE);
	if (!buf) {
		char *fresh = pm__os_scratch(ENVBUF), *none = NULL;
		if (!fresh)
			return NULL;
		if (__atomic_compare_exchange_n(&envbuf, &none, fresh, 0,
						__ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE))
			buf = fresh;
		else
			pm__os_scratch_free(fresh, ENVBUF), buf = none;
	}
	int fd = open("/proc/self/environ", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	ssize_t r = read(fd, buf, ENVBUF - 1);
	close(fd);
	if (r <= 0)
		return NULL;
	buf[r] = '\0';
	for (char *s = buf; s < buf + r; s += strlen(s) + 1)
		if (!strncmp(s, name, n) && s[n] == '=')
			return s + n + 1;
	return NULL;
}

/* ---- pmalloc's own pages ------------------------------------------------
 * Placed from `aux_floor` up (the region's owner sets it to the region's
 * end, init.c) when those addresses are free.  aux_next is the next
 * address to try: bumped by each mapping, lowered again when the last one
 * is given back (scratch is freed in LIFO order). */
static uintptr_t aux_floor PM_STATE, aux_next PM_STATE;

void pm__os_aux_after(uintptr_t floor)
{
	__atomic_store_n(&aux_floor, floor, __ATOMIC_RELEASE);
}

/* n bytes (page-rounded) placed from the floor: anonymous memory when fd
 * is negative, else [off, off + n) of fd read-only and shared.  NULL when
 * there is no floor or 16 places in a row were taken. */
static void *aux_place(size_t n, int fd, uint64_t off)
{
	uintptr_t end = __atomic_load_n(&aux_floor, __ATOMIC_ACQUIRE);
	if (!end)
		return NULL;
	uintptr_t cur = aux_next;
	if (cur < end)
		__atomic_compare_exchange_n(&aux_next, &cur, end, 0,
					    __ATOMIC_RELAXED, __ATOMIC_RELAXED);
	for (int tries = 0; tries < 16; tries++) {
		uintptr_t at = __atomic_fetch_add(&aux_next, n, __ATOMIC_RELAXED);
		if (fd < 0) {
			if (pm__os_map_at(at, n, PROT_READ | PROT_WRITE) == 0)
				return (void *)at;
			continue;
		}
		void *p = mmap((void *)at, n, PROT_READ,
			       MAP_SHARED | MAP_FIXED_NOREPLACE, fd, (off_t)off);
		if (p == (void *)at)
			return p;
		if (p != MAP_FAILED)
			munmap(p, n); /* the flag taken as a hint */
		else if (errno != EEXIST)
			return NULL;
	}
	return NULL;
}

void *pm__os_aux(size_t n)
{
	n = (n + PM_PAGE - 1) & ~(PM_PAGE - 1);
	void *p = aux_place(n, -1, 0);
	return p ? p : pm__os_scratch(n);
}

/* [off, off+n) of fd, read-only and shared, among pmalloc's own pages
 * (the offset page-aligned); NULL when it cannot be mapped there.  In a
 * process without a floor (the CLI), anywhere. */
void *pm__os_aux_file(int fd, uint64_t off, size_t n)
{
	n = (n + PM_PAGE - 1) & ~(PM_PAGE - 1);
	if (__atomic_load_n(&aux_floor, __ATOMIC_ACQUIRE))
		return aux_place(n, fd, off); /* NULL: the caller reads */
	void *p = mmap(NULL, n, PROT_READ, MAP_SHARED, fd, (off_t)off);
	return p == MAP_FAILED ? NULL : p;
}

/* Read every page of [p, p+n) of a file mapping in (page cache) and map
 * it: 0, or -errno (EFAULT: past the file's end; EINVAL or ENOSYS: a
 * kernel before 5.14). */
int pm__os_populate_read(void *p, size_t n)
{
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif
	return madvise(p, n, MADV_POPULATE_READ) ? -errno : 0;
}

void *pm__scratch(size_t n) { return pm__os_aux(n); }
void pm__scratch_free(void *p, size_t n) { pm__os_aux_free(p, n); }

uintptr_t pm__os_aux_end(void)
{
	uintptr_t end = __atomic_load_n(&aux_floor, __ATOMIC_ACQUIRE);
	if (!end)
		return 0;
	uintptr_t cur = __atomic_load_n(&aux_next, __ATOMIC_RELAXED);
	return cur > end ? cur : end;
}

void pm__os_aux_free(void *p, size_t n)
{
	if (!p)
		return;
	n = (n + PM_PAGE - 1) & ~(PM_PAGE - 1);
	munmap(p, n);
	uintptr_t top = (uintptr_t)p + n;
	__atomic_compare_exchange_n(&aux_next, &top, (uintptr_t)p, 0,
				    __ATOMIC_RELAXED, __ATOMIC_RELAXED);
}

/* ---- /proc/sys ---------------------------------------------------------- */

uint64_t pm__os_sysctl(const char *path, uint64_t dflt)
{
	char b[32];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return dflt;
	ssize_t n = read(fd, b, sizeof b - 1);
	close(fd);
	if (n <= 0)
		return dflt;
	uint64_t v = 0;
	int any = 0;
	for (ssize_t i = 0; i < n && b[i] >= '0' && b[i] <= '9'; i++, any = 1)
		v = v * 10 + (uint64_t)(b[i] - '0');
	return any ? v : dflt;
}

/* ---- /proc/self/status ------------------------------------------------- */

int pm__thread_count(void)
{
	int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	char buf[4096];
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	char *t = strstr(buf, "\nThreads:");
	if (!t)
		return -1;
	t += 9;
	while (*t == ' ' || *t == '\t')
		t++;
	int v = 0;
	while (*t >= '0' && *t <= '9')
		v = v * 10 + (*t++ - '0');
	return v;
}

/* Copy n bytes that another thread may unmap meanwhile (JIT code a
 * library frees): EFAULT instead of a crash. */
int pm__copy_checked(void *dst, const void *src, size_t n)
{
	struct iovec l = {dst, n}, r = {(void *)(uintptr_t)src, n};
	ssize_t got = process_vm_readv(getpid(), &l, 1, &r, 1, 0);
	if (got == (ssize_t)n)
		return 0;
	if (got < 0 && errno != EFAULT) { /* not allowed here (a seccomp
					   * filter): copy and trust it */
		memcpy(dst, src, n);
		return 0;
	}
	return -EFAULT;
}
