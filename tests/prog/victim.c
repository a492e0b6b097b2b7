/*
 * victim.c - the target of tests/ckpt_crafted.sh: crafted checkpoint
 * files must be refused without a trace.  Run under `pmalloc run`
 * (address-space randomisation off, so the addresses it prints hold in
 * the next run); linked -Wl,-z,lazy so that its GOT slot of puts is
 * writable data that a checkpoint saves (with its keep bit set).
 *
 *   setup F [MIB]        heap state (a list under the root "victim", freed
 *                        blocks in the bins), a function pointer in .data,
 *                        a PM_PERSISTENT global; optionally a MIB-MiB
 *                        block so that the heap's used extent is large;
 *                        checkpoint to F; print "name 0xaddr" lines: the
 *                        targets a crafted file aims at
 *   good F               pm_restore(F) must succeed and bring back the
 *                        state (the control case)
 *   bad F [ADDR [N]]     pm_restore(F) must be refused with a message;
 *                        then nothing may have changed: the globals, libc's
 *                        and ld.so's data, the GOT slot of puts, pmalloc's
 *                        own state (malloc, free, printf, pm_heap_check
 *                        work), and nothing is mapped at ADDR (0: no
 *                        check); with N, the process first makes N
 *                        mappings of its own (one page in two made
 *                        read-only)
 *   either F [ADDR [N]]  as bad, but F may also be restored: then the
 *                        state comes back and the targets are untouched
 *   chunk F              a file with a corrupted chunk size: refused, or
 *                        the free that meets it aborts with one line
 *   chunkwalk F          the same with PM_RESTORE_CHECK_HEAP: refused
 * Exit 0 when every assertion holds; each failure is printed.
 */
#define _GNU_SOURCE
#include <pmalloc.h>

#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static int f1(int x) { return x + 1; }
static int f2(int x) { return x + 2; }
static int (*volatile fp)(int) = f1; /* .data */
static long pers PM_PERSISTENT;
/* exe data a crafted fast list or bin may point into */
static char target_buf[512] __attribute__((aligned(16))) = "target";
static const char decoy[] = "hijacked";
static volatile int fake_called;
/* what a crafted GOT slot of puts points to */
static int fake_puts(const char *s)
{
	(void)s;
	fake_called = 1;
	return 0;
}

struct node {
	struct node *next;
	long v;
	char pad[40];
};

static int failures;
#define CHECK(c, ...)                                                          \
	do {                                                                   \
		if (!(c)) {                                                    \
			failures++;                                            \
			printf("FAIL: ");                                      \
			printf(__VA_ARGS__);                                   \
			printf("\n");                                          \
		}                                                              \
	} while (0)

/* ---- finding the targets ------------------------------------------------ */

struct span {
	uintptr_t lo, hi; /* writable, not RELRO */
};

struct findctx {
	const char *name; /* substring of the object's path; "" = the exe */
	struct span s;
};

static int find_cb(struct dl_phdr_info *info, size_t size, void *vctx)
{
	struct findctx *c = vctx;
	(void)size;
	const char *n = info->dlpi_name ? info->dlpi_name : "";
	if (c->name[0] ? !strstr(n, c->name) : n[0] != '\0')
		return 0;
	uintptr_t relro = 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *p = &info->dlpi_phdr[i];
		if (p->p_type == PT_GNU_RELRO)
			relro = info->dlpi_addr + p->p_vaddr + p->p_memsz;
	}
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *p = &info->dlpi_phdr[i];
		if (p->p_type != PT_LOAD || !(p->p_flags & PF_W))
			continue;
		uintptr_t lo = info->dlpi_addr + p->p_vaddr;
		uintptr_t hi = lo + p->p_memsz;
		if (relro > lo && relro < hi)
			lo = relro;
		c->s.lo = (lo + 7) & ~(uintptr_t)7;
		c->s.hi = hi & ~(uintptr_t)7;
		return 1;
	}
	return 0;
}

static struct span span_of(const char *name)
{
	struct findctx c = {name, {0, 0}};
	dl_iterate_phdr(find_cb, &c);
	return c.s;
}

static uintptr_t find_word(struct span s, uintptr_t value)
{
	for (uintptr_t a = s.lo; a + 8 <= s.hi; a += 8)
		if (*(uintptr_t *)a == value)
			return a;
	return 0;
}

struct targets {
	uintptr_t libc_word;  /* &program_invocation_short_name */
	uintptr_t ld_word;    /* &_r_debug (ld.so's data) */
	uintptr_t got_puts;   /* the exe's GOT slot of puts */
	uintptr_t pm_bss;     /* libpmalloc's word holding the region base */
	uintptr_t aux;        /* pmalloc's pages right past the region */
	uintptr_t base, top_end;
};

static void find_targets(struct targets *t)
{
	struct pm_heap_info hi;
	memset(t, 0, sizeof *t);
	pm_heap_info(&hi);
	t->base = hi.base;
	t->top_end = hi.top;
	/* looked up, not named: a reference from here would make the
	 * linker copy them into this executable's .bss */
	t->libc_word = (uintptr_t)dlsym(RTLD_DEFAULT,
					"program_invocation_short_name");
	t->ld_word = (uintptr_t)dlsym(RTLD_DEFAULT, "_r_debug");
	struct span libc = span_of("libc.so"), ld = span_of("ld-linux");
	if (t->libc_word < libc.lo || t->libc_word >= libc.hi)
		t->libc_word = 0;
	if (t->ld_word < ld.lo || t->ld_word >= ld.hi)
		t->ld_word = 0;
	void *real_puts = dlsym(RTLD_DEFAULT, "puts");
	t->got_puts = find_word(span_of(""), (uintptr_t)real_puts);
	t->pm_bss = find_word(span_of("libpmalloc"), hi.base);
	/* the mapping starting at the end of the region */
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	while (f && fgets(line, sizeof line, f)) {
		unsigned long lo, up;
		if (sscanf(line, "%lx-%lx", &lo, &up) == 2 &&
		    lo == hi.base + hi.size)
			t->aux = lo;
	}
	if (f)
		fclose(f);
}

/* 0: nothing mapped at addr; 1: mapped; 2: mapped writable and
 * executable at once */
static int mapped(uintptr_t addr)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	int found = 0;
	while (f && fgets(line, sizeof line, f)) {
		unsigned long lo, hi;
		char perms[5];
		if (sscanf(line, "%lx-%lx %4s", &lo, &hi, perms) == 3 &&
		    addr >= lo && addr < hi)
			found = perms[1] == 'w' && perms[2] == 'x' ? 2 : 1;
	}
	if (f)
		fclose(f);
	return found;
}

/* ---- the modes ---------------------------------------------------------- */

static int setup(const char *path, long mib)
{
	struct node *head = NULL;
	void *junk[64];
	for (int i = 0; i < 1000; i++) {
		struct node *n = malloc(sizeof *n);
		n->next = head;
		n->v = i;
		head = n;
		if (i < 64)
			junk[i] = malloc(16 + 24 * (size_t)i);
	}
	for (int i = 0; i < 64; i += 2)
		free(junk[i]);
	if (mib > 0 && pm_root_set("big", malloc((size_t)mib << 20)))
		return 1;
	pm_root_set("victim", head);
	fp = f2;
	pers = 4242;

	puts("victim: setup"); /* binds the GOT slot */
	struct targets t;
	find_targets(&t);
	int rc = pm_checkpoint(path);
	if (rc) {
		fprintf(stderr, "checkpoint: %s\n", pm_errmsg());
		return 1;
	}
	printf("libc_word 0x%lx\n", (unsigned long)t.libc_word);
	printf("ld_word 0x%lx\n", (unsigned long)t.ld_word);
	printf("got_puts 0x%lx\n", (unsigned long)t.got_puts);
	printf("pm_bss 0x%lx\n", (unsigned long)t.pm_bss);
	printf("aux 0x%lx\n", (unsigned long)t.aux);
	printf("base 0x%lx\n", (unsigned long)t.base);
	printf("top_end 0x%lx\n", (unsigned long)t.top_end);
	printf("decoy 0x%lx\n", (unsigned long)(uintptr_t)decoy);
	printf("fake_puts 0x%lx\n", (unsigned long)(uintptr_t)fake_puts);
	printf("exe_data 0x%lx\n", (unsigned long)(uintptr_t)target_buf);
	printf("fp 0x%lx\n", (unsigned long)(uintptr_t)&fp);
	printf("pers 0x%lx\n", (unsigned long)(uintptr_t)&pers);
	printf("text 0x%lx\n", (unsigned long)((uintptr_t)setup & ~4095ul));
	printf("node 0x%lx\n", (unsigned long)(uintptr_t)head);
	return 0;
}

/* the heap state setup made */
static void check_state(void)
{
	struct node *n = pm_root_get("victim");
	long want = 999, count = 0;
	for (; n && count < 2000; n = n->next, count++, want--)
		if (n->v != want)
			break;
	CHECK(count == 1000 && want == -1, "list: %ld nodes, stopped at %ld",
	      count, want);
	CHECK(fp == f2, "fp %p, want f2 %p", (void *)fp, (void *)f2);
	CHECK(pers == 4242, "pers %ld, want 4242", pers);
}

/* malloc, free, printf, the heap checker */
static void check_alive(const struct targets *t)
{
	void *p[300];
	for (int i = 0; i < 300; i++) {
		size_t n = 1 + (size_t)(i * 37 % 2000);
		p[i] = malloc(n);
		CHECK(p[i] != NULL, "malloc(%zu)", n);
		if (!p[i])
			return;
		uintptr_t a = (uintptr_t)p[i];
		CHECK(a - t->base < (4ul << 30), "malloc(%zu) = %p outside the "
		      "heap", n, p[i]);
		if (a - t->base >= (4ul << 30))
			return;
		memset(p[i], i, n);
	}
	for (int i = 0; i < 300; i += 2)
		free(p[i]);
	char *big = malloc(3 << 20);
	CHECK(big && (uintptr_t)big - t->base < (4ul << 30), "big malloc %p",
	      (void *)big);
	free(big);
	for (int i = 1; i < 300; i += 2)
		free(p[i]);
	int rc = pm_heap_check();
	CHECK(rc == 0, "pm_heap_check %d: %s", rc, rc ? pm_errmsg() : "");
	char buf[64];
	snprintf(buf, sizeof buf, "%d-%s", 42, "ok");
	CHECK(!strcmp(buf, "42-ok"), "snprintf gave %s", buf);
}

/* A file whose first list node has a corrupted size: refused, or the
 * corruption met when the list is freed: one line and abort, no crash. */
static int chunk(const char *path, unsigned flags)
{
	int rc = pm_restore_ex(path, flags);
	printf("restore: %d %s\n", rc, rc ? pm_errmsg() : "ok");
	if (rc)
		return 0;
	if (flags & PM_RESTORE_CHECK_HEAP) {
		printf("FAIL: the full walk accepted a corrupted chunk size\n");
		return 1;
	}
	struct node *n = pm_root_get("victim");
	while (n) {
		struct node *next = n->next;
		free(n);
		n = next;
	}
	void *p[100];
	for (int i = 0; i < 100; i++)
		p[i] = malloc(48);
	for (int i = 0; i < 100; i++)
		free(p[i]);
	rc = pm_heap_check();
	printf("FAIL: the corrupted size went unnoticed (heap check %d: %s)\n",
	       rc, rc ? pm_errmsg() : "ok");
	return 1;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IONBF, 0); /* all of it, even if we crash */
	if (argc >= 3 && !strcmp(argv[1], "setup"))
		return setup(argv[2], argc > 3 ? atol(argv[3]) : 0);
	if (argc < 3)
		return 2;
	if (!strcmp(argv[1], "chunk"))
		return chunk(argv[2], 0);
	if (!strcmp(argv[1], "chunkwalk"))
		return chunk(argv[2], PM_RESTORE_CHECK_HEAP);
	int good = !strcmp(argv[1], "good");
	int either = !strcmp(argv[1], "either");
	uintptr_t absent = argc > 3 ? strtoul(argv[3], NULL, 0) : 0;
	long nmaps = argc > 4 ? atol(argv[4]) : 0;

	puts("victim: restore"); /* binds the GOT slot */
	fp = f1;
	pers = 777;
	struct targets t;
	find_targets(&t);
	CHECK(t.libc_word && t.ld_word && t.got_puts && t.pm_bss,
	      "targets not found: libc %lx ld %lx got %lx pm %lx",
	      (unsigned long)t.libc_word, (unsigned long)t.ld_word,
	      (unsigned long)t.got_puts, (unsigned long)t.pm_bss);
	if (failures)
		return 1;
	uintptr_t name = *(uintptr_t *)t.libc_word;
	uintptr_t ld = *(uintptr_t *)t.ld_word;
	uintptr_t got = *(uintptr_t *)t.got_puts;
	uintptr_t pmw = *(uintptr_t *)t.pm_bss;

	/* nmaps mappings of our own: what a restore maps must fit in what
	 * vm.max_map_count leaves */
	char *many = NULL;
	size_t many_len = (size_t)nmaps * 4096; /* nmaps/2 read-only pages */
	if (nmaps > 0) {
		many = mmap(NULL, many_len, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		CHECK(many != MAP_FAILED, "mmap of %zu bytes", many_len);
		if (many == MAP_FAILED)
			return 1;
		for (long i = 0; i < nmaps / 2; i++)
			if (mprotect(many + i * 2 * 4096, 4096, PROT_READ)) {
				CHECK(0, "mprotect: mapping %ld of %ld", i,
				      nmaps);
				break;
			}
	}

	int rc = pm_restore(argv[2]);
	const char *msg = pm_errmsg();
	printf("restore: %d %s\n", rc, rc ? msg : "ok");
	if (good || (either && rc == 0)) {
		CHECK(rc == 0, "a valid file was refused");
		if (rc == 0)
			check_state();
	} else {
		CHECK(rc != 0, "ACCEPTED: the crafted file was restored");
		CHECK(!rc || (msg && msg[0]), "refused without a message");
		CHECK(fp == f1 || rc == 0, "fp changed by a refused restore");
		CHECK(pers == 777 || rc == 0, "pers %ld, want 777", pers);
	}
	CHECK(*(uintptr_t *)t.libc_word == name,
	      "libc's program_invocation_short_name %lx, was %lx",
	      (unsigned long)*(uintptr_t *)t.libc_word, (unsigned long)name);
	CHECK(*(uintptr_t *)t.ld_word == ld, "ld.so's _r_debug %lx, was %lx",
	      (unsigned long)*(uintptr_t *)t.ld_word, (unsigned long)ld);
	CHECK(*(uintptr_t *)t.got_puts == got,
	      "GOT slot of puts %lx, was %lx",
	      (unsigned long)*(uintptr_t *)t.got_puts, (unsigned long)got);
	CHECK(*(uintptr_t *)t.pm_bss == pmw,
	      "libpmalloc's word at %lx: %lx, was %lx",
	      (unsigned long)t.pm_bss, (unsigned long)*(uintptr_t *)t.pm_bss,
	      (unsigned long)pmw);
	if (many)
		munmap(many, many_len);
	/* a refused file maps nothing; a restored one may have put its code
	 * section there */
	CHECK(!absent || !mapped(absent) || (either && rc == 0),
	      "something is mapped at %lx after a refused restore",
	      (unsigned long)absent);
	puts("victim: puts works");
	CHECK(!fake_called, "puts went elsewhere");
	check_alive(&t);
	printf("victim: %d failures\n", failures);
	return failures ? 1 : 0;
}
