/*
 * u_globals.c - unit test of src/globals.c, compiled together with it (see
 * tests/extra.mk), so this program is "the executable" the code analyses.
 * Built several ways (PIE, -no-pie, RELR, full RELRO, the file lookup of
 * the pm_persistent section, clang); the checks adapt to what the linker
 * produced, found independently here from _DYNAMIC and dl_iterate_phdr.
 */
#include "../src/internal.h"
#include "testlib.h"
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <sys/mman.h>
#include <sys/stat.h>

/* Defined by init.c in the library; the test sets it to a fake region. */
__attribute__((weak)) struct pm_region *pm__region;
/* The allocator's version walks the transient arena for a live block;
 * with the fake region every transient address counts as one. */
static int fake_transient_live(uintptr_t v)
{
	return pm__region && v >= pm__region->tbase &&
	       v < pm__region->base + pm__region->size;
}

/* ---- the globals under test ---------------------------------------------- */
char *name = "x";                                   /* RELATIVE / RELR */
int (*cmp)(const char *, const char *) = strcmp;    /* R_X86_64_64 / ... */
int (*cmp2)(const char *, const char *) = strcmp;
int counter = 5;                                    /* .data */
long zeroes[100];                                   /* .bss */
const char *const ro_table[] = {"a", "b"};          /* .data.rel.ro (PIE) */
void *tptr;                                         /* set to the transient */
static long own_state PM_STATE = 3;                 /* pmalloc state */
static int pv PM_PERSISTENT = 7;
static uint64_t unref PM_PERSISTENT = 0x5eedfacecafebeefULL; /* unreferenced */
extern char **environ;

static int mycmp(const char *a, const char *b)
{
	return strcmp(b, a);
}

static int keep(const void *p)
{
	return pm__globals_keep_word((uintptr_t)p, fake_transient_live);
}

/* ---- an independent view of the executable ------------------------------ */
struct exe {
	uintptr_t bias;
	const ElfW(Phdr) *ph;
	int phnum;
	uintptr_t relro_lo, relro_hi;
};

static int first_cb(struct dl_phdr_info *i, size_t sz, void *ctx)
{
	struct exe *e = ctx;
	(void)sz;
	e->bias = i->dlpi_addr;
	e->ph = i->dlpi_phdr;
	e->phnum = i->dlpi_phnum;
	return 1;
}

static struct pm_gspan spans[PM_GSPAN_MAX];
static int is_static; /* no PT_INTERP */
static int nspans;

static const struct pm_gspan *span_of(uintptr_t a)
{
	for (int i = 0; i < nspans; i++)
		if (a >= spans[i].lo && a < spans[i].hi)
			return &spans[i];
	return NULL;
}

static int kind_of(const void *p)
{
	const struct pm_gspan *s = span_of((uintptr_t)p);
	return s ? (int)s->kind : 0;
}

/* Walk the relocations with our own code and check every one that lands in
 * a DATA span against the keep rules.  Returns how many were checked. */
static int check_relocs(const struct exe *e, int *ncopy, int *ngot)
{
	const ElfW(Dyn) *dyn = NULL;
	uintptr_t lo = UINTPTR_MAX, hi = 0;
	for (int i = 0; i < e->phnum; i++) {
		if (e->ph[i].p_type == PT_DYNAMIC)
			dyn = (const void *)(e->bias + e->ph[i].p_vaddr);
		if (e->ph[i].p_type == PT_LOAD) {
			if (e->ph[i].p_vaddr < lo)
				lo = e->ph[i].p_vaddr;
			if (e->ph[i].p_vaddr + e->ph[i].p_memsz > hi)
				hi = e->ph[i].p_vaddr + e->ph[i].p_memsz;
		}
	}
	if (!dyn)
		return 0;
	uintptr_t tab[3] = {0}, sz[3] = {0}, symtab = 0;
	for (; dyn->d_tag; dyn++) {
		switch (dyn->d_tag) {
		case DT_RELA: tab[0] = dyn->d_un.d_ptr; break;
		case DT_RELASZ: sz[0] = dyn->d_un.d_val; break;
		case DT_JMPREL: tab[1] = dyn->d_un.d_ptr; break;
		case DT_PLTRELSZ: sz[1] = dyn->d_un.d_val; break;
		case DT_SYMTAB: symtab = dyn->d_un.d_ptr; break;
		}
	}
	if (symtab && symtab < e->bias + lo)
		symtab += e->bias;
	int n = 0;
	for (int t = 0; t < 2; t++) {
		if (!tab[t])
			continue;
		if (tab[t] < e->bias + lo || tab[t] >= e->bias + hi)
			tab[t] += e->bias;
		const ElfW(Rela) *r = (const void *)tab[t];
		for (size_t i = 0; i < sz[t] / sizeof *r; i++) {
			uintptr_t a = e->bias + r[i].r_offset;
			unsigned type = ELF64_R_TYPE(r[i].r_info);
			const struct pm_gspan *s = span_of(a);
			if (!s || s->kind != PM_GSPAN_DATA)
				continue;
			n++;
			switch (type) {
			case R_X86_64_GLOB_DAT:
			case R_X86_64_JUMP_SLOT:
			case R_X86_64_TPOFF64:
			case R_X86_64_DTPMOD64:
			case R_X86_64_DTPOFF64:
				++*ngot;
				CHECK_MSG(keep((void *)a), "type %u at %#lx", type,
					  (unsigned long)a);
				break;
			case R_X86_64_COPY: {
				const ElfW(Sym) *sym = (const ElfW(Sym) *)symtab +
						       ELF64_R_SYM(r[i].r_info);
				++*ncopy;
				for (uintptr_t w = a & ~7UL; w < a + sym->st_size;
				     w += 8)
					CHECK_MSG(keep((void *)w),
						  "copy reloc word %#lx",
						  (unsigned long)w);
				break;
			}
			case R_X86_64_RELATIVE:
				/* untouched by the program: kept */
				if (*(uintptr_t *)a == e->bias + (uintptr_t)r[i].r_addend)
					CHECK_MSG(keep((void *)a),
						  "RELATIVE at %#lx",
						  (unsigned long)a);
				break;
			}
		}
	}
	return n;
}

static void check_spans(const struct exe *e, int pie)
{
	/* sorted, disjoint, aligned */
	for (int i = 0; i < nspans; i++) {
		CHECK_LT(spans[i].lo, spans[i].hi);
		CHECK(!(spans[i].lo & 7) && !(spans[i].hi & 7));
		if (i)
			CHECK_LE(spans[i - 1].hi, spans[i].lo);
	}
	/* RELRO is never persisted */
	for (int i = 0; i < e->phnum; i++)
		if (e->ph[i].p_type == PT_GNU_RELRO) {
			uintptr_t lo = e->bias + e->ph[i].p_vaddr;
			uintptr_t hi = lo + e->ph[i].p_memsz;
			for (int j = 0; j < nspans; j++)
				CHECK_MSG(spans[j].hi <= lo || spans[j].lo >= hi,
					  "span %#lx-%#lx overlaps RELRO",
					  (unsigned long)spans[j].lo,
					  (unsigned long)spans[j].hi);
		}
	int data = is_static ? 0 : PM_GSPAN_DATA; /* libc inside: not saved */
	CHECK_EQ(kind_of(&counter), data);
	CHECK_EQ(kind_of(&zeroes[0]), data);
	CHECK_EQ(kind_of(&zeroes[99]), data);
	CHECK_EQ(kind_of(&name), data);
	CHECK_EQ(kind_of(&ro_table[0]), 0);
	(void)pie;

	/* PM_PERSISTENT: listed once, as its own span, holding both */
	int npers = 0;
	const struct pm_gspan *ps = NULL;
	for (int i = 0; i < nspans; i++)
		if (spans[i].kind == PM_GSPAN_PERSISTENT)
			npers++, ps = &spans[i];
	CHECK_EQ(npers, 1);
	CHECK_EQ(kind_of(&pv), PM_GSPAN_PERSISTENT);
	int found = 0;
	if (ps)
		for (uintptr_t a = ps->lo; a < ps->hi; a += 8)
			if (*(uint64_t *)a == 0x5eedfacecafebeefULL)
				found = 1;
	CHECK_MSG(found, "the unreferenced PM_PERSISTENT static is missing");
}

static void check_keep(const struct exe *e, int pie)
{
	/* name = "x": a loader-written word in a PIE, a constant otherwise */
	CHECK_EQ(keep(&name), pie);
	/* cmp = strcmp, left alone: keep in a PIE; without PIE the linker
	 * may have made it a constant (canonical PLT) */
	if (pie) /* R_X86_64_64, or IRELATIVE in a static PIE */
		CHECK_EQ(keep(&cmp), 1);
	name = "another";
	__asm__ volatile("" ::: "memory");
	CHECK_EQ(keep(&name), 0);
	cmp2 = mycmp;
	__asm__ volatile("" ::: "memory");
	CHECK_EQ(keep(&cmp2), 0);
	CHECK_EQ(keep(&counter), 0);
	CHECK_EQ(keep(&zeroes[3]), 0);

	/* copy relocations of stdout/stderr/environ (gcc, PIE or not) */
	uintptr_t cp[] = {(uintptr_t)&stdout, (uintptr_t)&stderr,
			  (uintptr_t)&environ};
	int incopy = 0;
	for (int i = 0; i < 3; i++)
		if (span_of(cp[i])) {
			incopy++;
			CHECK_MSG(keep((void *)cp[i]), "copy reloc %d", i);
		}
	fprintf(stderr, "stdout/stderr/environ copy-relocated here: %d\n",
		incopy);

	int ncopy = 0, ngot = 0;
	int n = check_relocs(e, &ncopy, &ngot);
	fprintf(stderr, "%d relocations in DATA spans (%d copy, %d GOT/TLS)\n",
		n, ncopy, ngot);

	/* pmalloc's own state */
	CHECK(own_state == 3 && keep(&own_state) == 1);

	/* pointers into the transient arena are kept; others not */
	static struct pm_region fake;
	void *m = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK_NE(m, MAP_FAILED);
	fake.base = (uintptr_t)m;
	fake.size = 1 << 20;
	fake.tbase = fake.base + (1 << 19);
	pm__region = &fake;
	tptr = (char *)m + (1 << 19) + 64;
	CHECK_EQ(keep(&tptr), 1);
	tptr = (char *)m + 64; /* the persistent arena: restored */
	CHECK_EQ(keep(&tptr), 0);
	tptr = (char *)m + (1 << 20); /* one past the end */
	CHECK_EQ(keep(&tptr), 0);
	tptr = (char *)m + (1 << 20) - 8;
	CHECK_EQ(keep(&tptr), 1);

	/* keep_mask agrees with keep_word over every span */
	long words = 0, kept = 0;
	for (int i = 0; i < nspans; i++) {
		size_t nw = (spans[i].hi - spans[i].lo) / 8;
		uint8_t *bits = calloc((nw + 7) / 8 + 1, 1);
		bits[(nw + 7) / 8] = 0xa5; /* guard */
		int k = pm__globals_keep_mask(spans[i].lo, spans[i].hi, bits,
						fake_transient_live);
		int k2 = 0;
		for (size_t w = 0; w < nw; w++) {
			int b = bits[w / 8] >> (w % 8) & 1;
			int kw = keep((void *)(spans[i].lo + 8 * w));
			k2 += kw;
			if (b != kw) {
				CHECK_MSG(b == kw, "mask/word differ at %#lx",
					  (unsigned long)(spans[i].lo + 8 * w));
				break;
			}
		}
		CHECK_EQ(k, k2);
		CHECK_EQ(bits[(nw + 7) / 8], 0xa5);
		words += (long)nw;
		kept += k;
		free(bits);
	}
	fprintf(stderr, "%d spans, %ld words, %ld kept\n", nspans, words, kept);
	pm__region = NULL;
	munmap(m, 1 << 20);
}

static void check_register(void)
{
	/* stands in for a library's data; 8 words past the range registered
	 * below, so that the range stays inside mapped memory wherever the
	 * linker puts the array (registered ranges must be writable: a .bss
	 * that ends on a page boundary right after a 64-word array made the
	 * result depend on the layout) */
	static long lib_data[72];
	void *m = mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK_EQ(pm_register(NULL, 8), -EINVAL);
	CHECK_EQ(pm_register(m, 0), -EINVAL);
	CHECK_EQ(pm_register((void *)EHEAP_START_ADDRESS, 8), -EINVAL);
	CHECK_EQ(pm_register((void *)(EHEAP_START_ADDRESS - 8), 16), -EINVAL);
	CHECK(pm_register((void *)(EHEAP_START_ADDRESS + PM_DEFAULT_SIZE - 1), 1) ==
	      -EINVAL);
	/* just below the heap: unmapped, then a page of our own there */
	CHECK_EQ(pm_register((void *)(EHEAP_START_ADDRESS - 8), 8), -EFAULT);
	void *below = mmap((void *)(EHEAP_START_ADDRESS - 4096), 4096,
			   PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
			   -1, 0);
	CHECK_EQ(below, (void *)(EHEAP_START_ADDRESS - 4096));
	CHECK_EQ(pm_register((void *)(EHEAP_START_ADDRESS - 8), 8), 0);
	CHECK_EQ(pm_register((void *)-16L, 32), -EINVAL);
	CHECK_EQ(pm_register((char *)m + 3, 10), 0); /* rounded to words */
	CHECK_EQ(pm_register((char *)m + 3, 10), 0); /* twice: harmless */
	CHECK_EQ(pm_register(lib_data + 60, 64), 0);

	nspans = pm__globals_spans(spans, PM_GSPAN_MAX);
	const struct pm_gspan *s = span_of((uintptr_t)m);
	CHECK(s && s->kind == PM_GSPAN_REGISTERED && s->lo == (uintptr_t)m &&
	      s->hi == (uintptr_t)m + 16);
	/* not duplicated where it overlaps the data span */
	CHECK(kind_of(lib_data + 60) ==
	      (is_static ? PM_GSPAN_REGISTERED : PM_GSPAN_DATA));
	for (int i = 1; i < nspans; i++)
		CHECK_LE(spans[i - 1].hi, spans[i].lo);

	/* the table holds 256 */
	int ok = 0, rc = 0;
	for (int i = 0; i < 300; i++) {
		rc = pm_register((char *)m + 64 + 32 * i, 8);
		if (rc)
			break;
		ok++;
	}
	CHECK_MSG(ok == 256 - 3 && rc == -ENOMEM, "ok %d rc %d", ok, rc);
	CHECK_PTR_NE(strstr(pm_errmsg(), "256"), NULL);
	/* too small an output array */
	struct pm_gspan few[2];
	CHECK_EQ(pm__globals_spans(few, 2), -ENOSPC);
	nspans = pm__globals_spans(spans, PM_GSPAN_MAX);
	CHECK_GT(nspans, 256);
	munmap(m, 1 << 16);
}

static void check_objects(int pie)
{
	struct pm_object o[64];
	char exe[256];
	ssize_t r = readlink("/proc/self/exe", exe, sizeof exe - 1);
	exe[r > 0 ? r : 0] = '\0';
	int n = pm__objects(o, 64);
	CHECK(n >= (is_static ? 1 : 2));
	/* the program's own file, even when started as `ld.so prog` */
	struct stat a, b;
	CHECK(stat(o[0].path, &a) == 0 && stat(program_invocation_name, &b) == 0 &&
	      a.st_dev == b.st_dev && a.st_ino == b.st_ino);
	CHECK_EQ(o[0].path[0], '/');
	if (!strstr(exe, "/ld-"))
		CHECK_STR_EQ(o[0].path, exe);
	CHECK(o[0].size > 0 && o[0].mtime > 0);
	CHECK_GE(o[0].build_id_len, 8); /* ld: 20 (sha1), lld: 8 (fast) */
	CHECK_EQ((o[0].load != 0), pie);
	int libc = 0;
	for (int i = 0; i < n; i++) {
		fprintf(stderr, "object %d: %#lx %s size %lu build-id %u\n", i,
			(unsigned long)o[i].load, o[i].path,
			(unsigned long)o[i].size, o[i].build_id_len);
		CHECK_NE(o[i].path[0], '\0');
		CHECK(!strstr(o[i].path, "vdso"));
		if (strstr(o[i].path, "libc.so")) {
			libc = 1;
			CHECK(o[i].size > 0 && o[i].build_id_len > 0);
		}
	}
	CHECK(libc || is_static);
	CHECK_EQ(pm__objects(o, 1), 1);
}

int main(void)
{
	pm__globals_startup();
	pm__globals_startup(); /* once only */
	struct exe e = {0};
	dl_iterate_phdr(first_cb, &e);
	int pie = e.bias != 0;
	is_static = 1;
	for (int i = 0; i < e.phnum; i++)
		if (e.ph[i].p_type == PT_INTERP)
			is_static = 0;
	fprintf(stderr, "%s executable, bias %#lx\n", pie ? "PIE" : "non-PIE",
		(unsigned long)e.bias);
	CHECK_EQ(pv, 7);

	nspans = pm__globals_spans(spans, PM_GSPAN_MAX);
	CHECK_GT(nspans, 0);
	for (int i = 0; i < nspans; i++)
		fprintf(stderr, "span %#lx-%#lx kind %u\n",
			(unsigned long)spans[i].lo, (unsigned long)spans[i].hi,
			spans[i].kind);
	check_spans(&e, pie);
	check_keep(&e, pie);
	check_register();
	check_objects(pie);
	return test_end();
}
