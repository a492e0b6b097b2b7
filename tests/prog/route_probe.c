/*
 * route_probe - where libc's and ld.so's malloc calls go (route.c).
 *
 * Prints "libc N ld M": how many words of libc's and ld.so's RELRO data
 * hold malloc's address (1 and 1 while they call malloc itself; 0 and 0
 * once pmalloc pointed them to its own entry point), then "file T" (1 if
 * a FILE of fopen, libc's own block, is in the transient part) and
 * "block P" (1 if the program's malloc(40) is in the persistent part).
 * With an argument, libc's offset of its malloc GOT entry (the GLOB_DAT
 * relocation `objdump -R` lists), it first prints "got G": 1 if that word
 * holds malloc's address.  Built -no-pie, malloc's and write's addresses
 * are the program's PLT entries (their canonical addresses), which libc's
 * and ld.so's words hold then.  The counts find the words the way route.c
 * does; the relocation table says where the word is independently.  The
 * counts are taken after 300 mallocs; with ROUTE_PROBE_EARLY set, also
 * before them ("early libc N ld M": 1 and 1, the route not yet set up).
 * Last "thread T": 1 if a thread whose cache was made before those 300
 * calls got only persistent blocks from its 2000 mallocs after them.
 */
#define _GNU_SOURCE
#include <link.h>
#include <pmalloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

struct probe {
	uintptr_t ld_base, want, libc_base;
	int count[2];
};

static int scan(struct dl_phdr_info *info, size_t size, void *ctx)
{
	struct probe *p = ctx;
	(void)size;
	int which = -1;
	if (p->ld_base && info->dlpi_addr == p->ld_base)
		which = 1;
	/* libc by its name: in a non-PIE program `write` may name the
	 * program's own PLT entry (and does here, whose main takes its
	 * address) */
	const char *b = info->dlpi_name ? strrchr(info->dlpi_name, '/') : NULL;
	if (which < 0 && b && !strncmp(b + 1, "libc.so", 7))
		which = 0;
	if (which < 0)
		return 0;
	if (which == 0)
		p->libc_base = info->dlpi_addr;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_GNU_RELRO)
			continue;
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
		for (uintptr_t a = (lo + 7) & ~(uintptr_t)7;
		     a + 8 <= lo + ph->p_memsz; a += 8)
			p->count[which] += *(uintptr_t *)a == p->want;
	}
	return 0;
}

/* A thread that made its cache before the route was set up, and
 * allocates after: its blocks stay the program's (persistent), whether
 * its next slow call gives it the direct route or not. */
static pthread_barrier_t go;
static uintptr_t p_lo, p_hi;

static void *early_thread(void *arg)
{
	(void)arg;
	free(malloc(8)); /* its cache, made now */
	pthread_barrier_wait(&go);
	pthread_barrier_wait(&go); /* the route is set up meanwhile */
	int ok = 1;
	for (int i = 0; i < 2000; i++) {
		char *b = malloc(24 + i % 200);
		ok &= b && (uintptr_t)b >= p_lo && (uintptr_t)b < p_hi;
		if (b)
			b[0] = 1;
		free(b);
	}
	return ok ? (void *)1 : NULL;
}

int main(int argc, char **argv)
{
	struct pm_heap_info hi;
	if (pm_heap_info(&hi)) {
		printf("pm_heap_info failed\n");
		return 1;
	}
	/* the transient arena is the last eighth of the region (whole MiB) */
	uintptr_t tb = hi.base + hi.size -
		       ((hi.size / 8) & ~(((size_t)1 << 20) - 1));
	void *(*volatile m)(size_t) = malloc;
	/* taken here, so that a non-PIE build makes the PLT entries of
	 * malloc and write their canonical addresses (route.c's plt_slot) */
	ssize_t (*volatile w)(int, const void *, size_t) = write;
	(void)w;
	struct probe p = { getauxval(AT_BASE), (uintptr_t)m, 0,
			   { 0, 0 } };
	/* the route is set up at malloc's 256th call through its slow path
	 * (route.c, DIRECT_AFTER): a process that allocates this little is
	 * left alone (first the count, with the words still malloc's) */
	dl_iterate_phdr(scan, &p);
	if (getenv("ROUTE_PROBE_EARLY"))
		printf("early libc %d ld %d\n", p.count[0], p.count[1]);
	p_lo = hi.base, p_hi = tb;
	pthread_t th;
	pthread_barrier_init(&go, NULL, 2);
	int have_thread = pthread_create(&th, NULL, early_thread, NULL) == 0;
	if (have_thread)
		pthread_barrier_wait(&go);
	for (int i = 0; i < 300; i++)
		free(m(24));
	void *thread_ok = NULL;
	if (have_thread) {
		pthread_barrier_wait(&go);
		pthread_join(th, &thread_ok);
	}
	p.count[0] = p.count[1] = 0;
	dl_iterate_phdr(scan, &p);
	if (argc > 1) {
		uintptr_t off = (uintptr_t)strtoull(argv[1], NULL, 16);
		printf("got %d\n", p.libc_base &&
			   *(uintptr_t *)(p.libc_base + off) == p.want);
	}
	printf("libc %d ld %d\n", p.count[0], p.count[1]);
	FILE *f = fopen("/dev/null", "r");
	uintptr_t fu = (uintptr_t)f;
	printf("file %d\n", f && fu >= tb && fu < hi.base + hi.size);
	if (f)
		fclose(f);
	void *b = malloc(40);
	uintptr_t bu = (uintptr_t)b;
	printf("block %d\n", b && bu >= hi.base && bu < tb);
	printf("thread %d\n", thread_ok != NULL);
	free(b);
	return 0;
}
