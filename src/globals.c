/*
 * globals.c - which global memory a checkpoint persists, and which words of
 * it a restore must leave alone.
 *
 * Owns:
 *   - the analysis of the main executable: its writable PT_LOAD segments,
 *     PT_GNU_RELRO, PT_DYNAMIC and its dynamic relocations (RELA, JMPREL,
 *     RELR), done once at start-up (pm__globals_startup);
 *   - the span list (pm__globals_spans): data/bss, the pm_persistent
 *     section, pm_register()ed ranges;
 *   - the per-word "keep" decision (pm__globals_keep_word / _keep_mask);
 *   - the identity of the loaded objects (pm__objects);
 *   - pm_register(), pm_register_object() and the table of 256 ranges;
 *     a registered range inside a shared library is cut to that
 *     library's data spans and the library analysed like the executable
 *     (see "pm_register, pm_register_object" below).
 *
 * Spans (all 8-byte aligned, sorted by address, pairwise disjoint):
 *
 *   executable:  | RELRO (read-only after start-up) | .data ... .bss |
 *                  never persisted                    PM_GSPAN_DATA
 *                                                     with the pm_persistent
 *                                                     section cut out and
 *                                                     listed on its own as
 *                                                     PM_GSPAN_PERSISTENT
 *   registered:  pm_register()ed ranges, merged, minus what the spans above
 *                already cover (PM_GSPAN_REGISTERED)
 *
 *   Why RELRO is cut: glibc mprotects it read-only after relocation, and
 *   it holds nothing the program writes (GOT, .data.rel.ro, init arrays).
 *   Why the persistent section is split rather than duplicated: a byte must
 *   be written back once, and its kind tells the reader (and `pmalloc
 *   info`) what the bytes are.  A fully static executable (no PT_INTERP)
 *   gets no DATA span, only its PERSISTENT one: libc's own state (stdio,
 *   the loader's tables, TLS bookkeeping) lives in that segment and must
 *   never come from a file.
 *
 * Keep words: a restore writes back every word of a span except those for
 * which keep is 1, whose value in the restoring process wins:
 *   1. GOT slots (GLOB_DAT, JUMP_SLOT, the three reserved words at
 *      DT_PLTGOT), TLS words (TPOFF64, DTPMOD64, DTPOFF64),
 *      copy-relocated objects (stdout, stderr, environ, optind:
 *      their addresses and contents belong to this run's libc), the
 *      .dynamic section (glibc rewrites its pointers with the load bias),
 *      and any relocation type we do not know: the loader wrote them for
 *      this process, and under ASLR the old values point into nothing.
 *   2. loader-written words (RELATIVE, R_X86_64_64, IRELATIVE, RELR) whose
 *      value still equals the one the loader gave them: the program left
 *      them alone, so this process's value is the same datum at this run's
 *      addresses (a `static char *name = "x"` in a PIE).  Once the program
 *      stores something else there the checkpointed value is the datum.
 *      IRELATIVE belongs here, not in 1: in a static PIE `cmp = strcmp`
 *      is an IRELATIVE on a data word the program may change, while its
 *      GOT uses never change and so stay kept.
 *   3. words pointing into the transient arena: it is never checkpointed.
 *   4. words of pmalloc's own state (the `pm_state` section, see PM_STATE
 *      in internal.h): when libpmalloc.a is linked into the executable, its
 *      locks, the region pointer and these tables are part of .data/.bss
 *      and describe this process, not the checkpointed one.
 *
 * Invariants:
 *   - the tables are built once, before the program's own code runs, in a
 *     private anonymous mapping (no malloc: we may be inside the first
 *     malloc call); keep ranges are sorted, merged and disjoint; loader
 *     words are sorted by address and unique; both only cover the DATA
 *     spans (relocations elsewhere cannot matter to a restore).
 *   - for RELA R_X86_64_RELATIVE the start-up value is computed (load bias
 *     + addend), so it is exact even if our initialisation runs after some
 *     constructor already changed the word; RELR, R_X86_64_64 and
 *     IRELATIVE values are snapshotted from memory, which is exact because
 *     glibc relocates every object (and applies a static executable's
 *     IRELATIVEs) before the first call into the real malloc.
 *   - a library is analysed when its memory is first registered, after
 *     the program may have run: RELATIVE is bias + addend, RELR the file's
 *     word + bias, R_X86_64_64 the symbol looked up as the loader does
 *     (lib_abs_value) plus the addend; only IRELATIVE and symbols dlsym
 *     cannot find are read from memory (what a constructor stored there
 *     then counts as the loader's).  Its tables are never freed (a
 *     library registered once stays in the table).
 *   - if the tables cannot be built (no memory), DATA spans are withheld
 *     rather than persisted without their keep words (a restored GOT slot
 *     would crash at the next call).
 *   - all of this file's mutable globals are PM_STATE.
 *
 * Nothing here uses stdio, malloc or getenv.
 */
#include "internal.h"
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <dlfcn.h>
#include <link.h>
#include <string.h>
#include <unistd.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>

/* Bounds of sections, defined by the linker when the section exists in the
 * same link unit; hidden so that they can never bind to another object's
 * (see PITFALLS: clang + lld + --gc-sections). */
extern char __start_pm_persistent[] __attribute__((visibility("hidden"), weak));
extern char __stop_pm_persistent[] __attribute__((visibility("hidden"), weak));
extern char __start_pm_state[] __attribute__((visibility("hidden"), weak));
extern char __stop_pm_state[] __attribute__((visibility("hidden"), weak));

#define MAX_DSPAN 16     /* data spans of one object (writable minus RELRO) */
#define NREG 256         /* pm_register table */
#define MAX_LIBS PM_MAX_LIBS /* shared objects with registered memory */
#define MAX_PIECES 64    /* pieces one registration may be cut into */

struct range {
	uintptr_t lo, hi;
};
struct lword {
	uintptr_t addr, val;
};

/* The analysis of one object: the executable (built at start-up) or a
 * shared library some of whose memory was registered (built then). */
struct objan {
	uintptr_t bias;
	const ElfW(Phdr) *phdr;      /* libraries: valid while analysing */
	int phnum;
	int lib;                     /* 1: a shared library */
	const char *path;            /* libraries: while analysing */
	uintptr_t lo, hi;            /* mapped extent (every PT_LOAD) */
	struct range dspan[MAX_DSPAN]; /* writable PT_LOAD minus RELRO */
	int ndspan;
	struct range *keep;          /* sorted, merged */
	size_t nkeep;
	struct lword *lw;            /* sorted by addr, unique */
	size_t nlw;
	void *map;                   /* the tables' private mapping */
	size_t maplen;
};

/* The analysis of the executable (written once by startup). */
static struct {
	int state;                   /* 0 not yet, 1 building, 2 done */
	int broken;                  /* tables missing: withhold DATA spans */
	int is_static;               /* no PT_INTERP: libc inside */
	struct objan o;
	int pers_state;              /* 0 not looked up, 1 done */
	struct range pers;           /* the executable's pm_persistent, or 0 */
} G PM_STATE;

static struct range reg[NREG] PM_STATE;
static int nreg PM_STATE;
static int lock_word PM_STATE;
/* libraries analysed so far; an entry is immutable once counted */
static struct objan libs[MAX_LIBS] PM_STATE;
static int nlibs PM_STATE;

static void lock(void)
{
	while (__atomic_exchange_n(&lock_word, 1, __ATOMIC_ACQUIRE))
		while (__atomic_load_n(&lock_word, __ATOMIC_RELAXED))
			__builtin_ia32_pause();
}
static void unlock(void)
{
	__atomic_store_n(&lock_word, 0, __ATOMIC_RELEASE);
}

static uintptr_t align_up(uintptr_t v, uintptr_t a)
{
	return (v + a - 1) & ~(a - 1);
}
static uintptr_t align_down(uintptr_t v, uintptr_t a)
{
	return v & ~(a - 1);
}

/* ---- finding the executable -------------------------------------------- */

/* The load bias from the auxiliary vector, which the kernel (or ld.so when
 * run as `ld.so prog`) fills for the program; usable before libc is up. */
static int find_exe(void)
{
	const ElfW(Phdr) *ph = (const ElfW(Phdr) *)getauxval(AT_PHDR);
	int n = (int)getauxval(AT_PHNUM);
	if (!ph || n <= 0)
		return -1;
	G.o.phdr = ph;
	G.o.phnum = n;
	for (int i = 0; i < n; i++)
		if (ph[i].p_type == PT_PHDR) {
			G.o.bias = (uintptr_t)ph - ph[i].p_vaddr;
			return 0;
		}
	/* No PT_PHDR: the ELF header normally sits just before the program
	 * headers at the start of the first PT_LOAD (file offset 0). */
	uintptr_t eh = (uintptr_t)ph - sizeof(ElfW(Ehdr));
	if (((uintptr_t)ph & (PM_PAGE - 1)) < sizeof(ElfW(Ehdr)))
		return -1;
	const ElfW(Ehdr) *e = (const ElfW(Ehdr) *)eh;
	if (memcmp(e->e_ident, ELFMAG, SELFMAG) || e->e_phoff != sizeof *e)
		return -1;
	for (int i = 0; i < n; i++)
		if (ph[i].p_type == PT_LOAD && ph[i].p_offset == 0) {
			G.o.bias = eh - ph[i].p_vaddr;
			return 0;
		}
	return -1;
}

/* [lo, hi) minus [cl, ch) appended to o->dspan (at most two pieces). */
static void add_dspan(struct objan *o, uintptr_t lo, uintptr_t hi,
		      uintptr_t cl, uintptr_t ch)
{
	struct range piece[2] = {{lo, hi}, {0, 0}};
	if (ch > lo && cl < hi) {
		piece[0].hi = cl > lo ? cl : lo;
		piece[1].lo = ch < hi ? ch : hi;
		piece[1].hi = hi;
	}
	for (int i = 0; i < 2; i++) {
		uintptr_t a = align_up(piece[i].lo, 8);
		uintptr_t b = align_up(piece[i].hi, 8);
		if (a < b && o->ndspan < MAX_DSPAN)
			o->dspan[o->ndspan++] = (struct range){a, b};
	}
}

/* Data spans and extent of an object; returns 1 if it has a PT_INTERP. */
static int find_segments(struct objan *o)
{
	uintptr_t rl = 0, rh = 0;
	int interp = 0;
	o->lo = UINTPTR_MAX;
	o->hi = 0;
	for (int i = 0; i < o->phnum; i++) {
		const ElfW(Phdr) *p = &o->phdr[i];
		if (p->p_type == PT_GNU_RELRO) {
			rl = o->bias + p->p_vaddr;
			rh = rl + p->p_memsz;
		} else if (p->p_type == PT_INTERP) {
			interp = 1;
		} else if (p->p_type == PT_LOAD && p->p_memsz) {
			uintptr_t lo = o->bias + p->p_vaddr;
			if (align_down(lo, PM_PAGE) < o->lo)
				o->lo = align_down(lo, PM_PAGE);
			if (align_up(lo + p->p_memsz, PM_PAGE) > o->hi)
				o->hi = align_up(lo + p->p_memsz, PM_PAGE);
		}
	}
	if (o->lo > o->hi)
		o->lo = o->hi = 0;
	for (int i = 0; i < o->phnum; i++) {
		const ElfW(Phdr) *p = &o->phdr[i];
		if (p->p_type != PT_LOAD || !(p->p_flags & PF_W) || !p->p_memsz)
			continue;
		uintptr_t lo = o->bias + p->p_vaddr;
		add_dspan(o, lo, lo + p->p_memsz, rl, rh);
	}
	return interp;
}

static int in_dspan(const struct objan *o, uintptr_t a, uintptr_t n)
{
	for (int i = 0; i < o->ndspan; i++)
		if (a < o->dspan[i].hi && a + n > o->dspan[i].lo)
			return 1;
	return 0;
}

/* ---- sorting without libc (qsort may allocate) ---------------------------
 * Heapsort of 16-byte records ordered by their first word. */
struct rec {
	uintptr_t k, v;
};

static void sift(struct rec *a, size_t i, size_t n)
{
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= n)
			return;
		if (c + 1 < n && a[c + 1].k > a[c].k)
			c++;
		if (a[i].k >= a[c].k)
			return;
		struct rec t = a[i];
		a[i] = a[c];
		a[c] = t;
		i = c;
	}
}

static void sort_recs(struct rec *a, size_t n)
{
	size_t i;
	for (i = 1; i < n && a[i - 1].k <= a[i].k; i++)
		;
	if (i >= n)
		return; /* already sorted: the common case for RELATIVE */
	for (i = n / 2; i-- > 0;)
		sift(a, i, n);
	for (i = n; i-- > 1;) {
		struct rec t = a[0];
		a[0] = a[i];
		a[i] = t;
		sift(a, 0, i);
	}
}

/* ---- the relocation walk ------------------------------------------------- */

struct dyninfo {
	uintptr_t rela, relasz, relaent;
	uintptr_t jmprel, pltrelsz, pltrel;
	uintptr_t relr, relrsz, relrent;
	uintptr_t symtab, syment, pltgot;
	uintptr_t strtab, strsz, versym, verneed, verneednum, verdef, verdefnum;
	int symbolic;     /* DT_SYMBOLIC / DF_SYMBOLIC: own definitions win */
	uintptr_t lo, hi; /* the object's mapped extent (link addresses) */
};

/* glibc adds the load bias to some d_ptr entries in place when .dynamic is
 * writable, and leaves them alone otherwise: accept either form.  For a
 * PIE the link-time range [lo, hi) and the loaded one never overlap. */
static uintptr_t dptr(const struct objan *o, const struct dyninfo *d,
		      uintptr_t v)
{
	if (!v || !o->bias)
		return v;
	if (v >= o->bias + d->lo && v < o->bias + d->hi)
		return v;
	return v + o->bias;
}

static int read_dynamic(const struct objan *o, struct dyninfo *d,
			const ElfW(Dyn) **dynp, size_t *dynsz)
{
	const ElfW(Dyn) *dyn = NULL;
	memset(d, 0, sizeof *d);
	d->lo = UINTPTR_MAX;
	for (int i = 0; i < o->phnum; i++) {
		const ElfW(Phdr) *p = &o->phdr[i];
		if (p->p_type == PT_DYNAMIC) {
			dyn = (const ElfW(Dyn) *)(o->bias + p->p_vaddr);
			*dynsz = p->p_memsz;
		} else if (p->p_type == PT_LOAD) {
			if (p->p_vaddr < d->lo)
				d->lo = p->p_vaddr;
			if (p->p_vaddr + p->p_memsz > d->hi)
				d->hi = p->p_vaddr + p->p_memsz;
		}
	}
	if (!dyn)
		return -1;
	*dynp = dyn;
	d->relaent = sizeof(ElfW(Rela));
	d->syment = sizeof(ElfW(Sym));
	d->relrent = sizeof(ElfW(Relr));
	d->pltrel = DT_RELA;
	for (const ElfW(Dyn) *e = dyn; e->d_tag != DT_NULL; e++) {
		switch (e->d_tag) {
		case DT_RELA: d->rela = e->d_un.d_ptr; break;
		case DT_RELASZ: d->relasz = e->d_un.d_val; break;
		case DT_RELAENT: d->relaent = e->d_un.d_val; break;
		case DT_JMPREL: d->jmprel = e->d_un.d_ptr; break;
		case DT_PLTRELSZ: d->pltrelsz = e->d_un.d_val; break;
		case DT_PLTREL: d->pltrel = e->d_un.d_val; break;
		case DT_RELR: d->relr = e->d_un.d_ptr; break;
		case DT_RELRSZ: d->relrsz = e->d_un.d_val; break;
		case DT_RELRENT: d->relrent = e->d_un.d_val; break;
		case DT_SYMTAB: d->symtab = e->d_un.d_ptr; break;
		case DT_SYMENT: d->syment = e->d_un.d_val; break;
		case DT_PLTGOT: d->pltgot = e->d_un.d_ptr; break;
		case DT_STRTAB: d->strtab = e->d_un.d_ptr; break;
		case DT_STRSZ: d->strsz = e->d_un.d_val; break;
		case DT_VERSYM: d->versym = e->d_un.d_ptr; break;
		case DT_VERNEED: d->verneed = e->d_un.d_ptr; break;
		case DT_VERNEEDNUM: d->verneednum = e->d_un.d_val; break;
		case DT_VERDEF: d->verdef = e->d_un.d_ptr; break;
		case DT_VERDEFNUM: d->verdefnum = e->d_un.d_val; break;
		case DT_SYMBOLIC: d->symbolic = 1; break;
		case DT_FLAGS:
			if (e->d_un.d_val & DF_SYMBOLIC)
				d->symbolic = 1;
			break;
		}
	}
	d->rela = dptr(o, d, d->rela);
	d->jmprel = dptr(o, d, d->jmprel);
	d->relr = dptr(o, d, d->relr);
	d->symtab = dptr(o, d, d->symtab);
	d->pltgot = dptr(o, d, d->pltgot);
	d->strtab = dptr(o, d, d->strtab);
	d->versym = dptr(o, d, d->versym);
	d->verneed = dptr(o, d, d->verneed);
	d->verdef = dptr(o, d, d->verdef);
	if (d->relaent < sizeof(ElfW(Rela)))
		d->relaent = sizeof(ElfW(Rela));
	if (d->syment < sizeof(ElfW(Sym)))
		d->syment = sizeof(ElfW(Sym));
	if (d->relrent != sizeof(ElfW(Relr)))
		d->relr = 0; /* unknown encoding: ignore (nothing else uses 4) */
	if (d->pltrel != DT_RELA)
		d->jmprel = 0; /* x86-64 has no REL; be safe */
	return 0;
}

/* A library's file, mapped read-only, for the link-time contents of words
 * the loader relocated in place (RELR): their start-up value is that plus
 * the bias, whatever the program did to them since. */
struct fileview {
	const unsigned char *p;
	size_t len;
};

static void file_map(const struct objan *o, struct fileview *f)
{
	struct stat st;
	f->p = NULL;
	f->len = 0;
	int fd = o->path && o->path[0] ? open(o->path, O_RDONLY | O_CLOEXEC)
				       : -1;
	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0 && st.st_size > 0) {
		void *m = mmap(NULL, (size_t)st.st_size, PROT_READ,
			       MAP_PRIVATE, fd, 0);
		if (m != MAP_FAILED) {
			f->p = m;
			f->len = (size_t)st.st_size;
		}
	}
	close(fd);
}

/* The file's word at run-time address a; 0 if it has none there. */
static int file_word(const struct objan *o, const struct fileview *f,
		     uintptr_t a, uintptr_t *v)
{
	for (int i = 0; f->p && i < o->phnum; i++) {
		const ElfW(Phdr) *p = &o->phdr[i];
		uintptr_t off = a - o->bias - p->p_vaddr;
		if (p->p_type != PT_LOAD || a - o->bias < p->p_vaddr ||
		    off + 8 > p->p_filesz || p->p_offset + off + 8 > f->len)
			continue;
		memcpy(v, f->p + p->p_offset + off, 8);
		return 1;
	}
	return 0;
}

/* The start-up value of a RELR word: the executable's is still in memory
 * (we run before its code); a library's is its file's word plus the bias,
 * or, failing that, what is in memory now. */
static struct lword relr_word(const struct objan *o, const struct fileview *f,
			      uintptr_t a)
{
	uintptr_t v;
	if (o->lib && file_word(o, f, a, &v))
		return (struct lword){a, v + o->bias};
	return (struct lword){a, *(uintptr_t *)a};
}

/* The words a RELR table relocates: counted (out NULL: all of them) or
 * recorded with their start-up value (only those in DATA spans). */
static size_t relr_walk(const struct objan *o, const struct dyninfo *d,
			const struct fileview *f, struct lword *out)
{
	const ElfW(Relr) *r = (const ElfW(Relr) *)d->relr;
	size_t n = d->relr ? d->relrsz / sizeof *r : 0, cnt = 0;
	uintptr_t base = 0;
	for (size_t i = 0; i < n; i++) {
		ElfW(Relr) e = r[i];
		if (!(e & 1)) {
			uintptr_t a = o->bias + e;
			if (out && in_dspan(o, a, 8))
				out[cnt++] = relr_word(o, f, a);
			else if (!out)
				cnt++;
			base = a + 8;
			continue;
		}
		uintptr_t a = base;
		for (e >>= 1; e; e >>= 1, a += 8)
			if (e & 1) {
				if (out && in_dspan(o, a, 8))
					out[cnt++] = relr_word(o, f, a);
				else if (!out)
					cnt++;
			}
		base += 63 * 8;
	}
	return cnt;
}

struct builder {
	const struct objan *o;
	struct range *keep;
	size_t nkeep;
	struct lword *lw;
	size_t nlw;
	const struct dyninfo *d;
};

static void add_keep(struct builder *b, uintptr_t lo, uintptr_t hi)
{
	lo = align_down(lo, 8);
	hi = align_up(hi, 8);
	if (lo < hi && in_dspan(b->o, lo, hi - lo))
		b->keep[b->nkeep++] = (struct range){lo, hi};
}

/* The name of the version symbol index s requires or defines, or NULL. */
static const char *sym_version(const struct dyninfo *d, uint32_t s)
{
	if (!d->versym || !d->strtab)
		return NULL;
	unsigned idx = ((const ElfW(Half) *)d->versym)[s] & 0x7fff;
	if (idx < 2)
		return NULL; /* local or global: no version */
	uintptr_t p = d->verneed;
	for (uintptr_t i = 0; p && i < d->verneednum; i++) {
		const ElfW(Verneed) *vn = (const ElfW(Verneed) *)p;
		uintptr_t q = p + vn->vn_aux;
		for (unsigned j = 0; j < vn->vn_cnt; j++) {
			const ElfW(Vernaux) *va = (const ElfW(Vernaux) *)q;
			if (va->vna_other == idx)
				return (const char *)(d->strtab + va->vna_name);
			if (!va->vna_next)
				break;
			q += va->vna_next;
		}
		if (!vn->vn_next)
			break;
		p += vn->vn_next;
	}
	p = d->verdef;
	for (uintptr_t i = 0; p && i < d->verdefnum; i++) {
		const ElfW(Verdef) *vd = (const ElfW(Verdef) *)p;
		if (vd->vd_ndx == idx && vd->vd_cnt) {
			const ElfW(Verdaux) *va =
				(const ElfW(Verdaux) *)(p + vd->vd_aux);
			return (const char *)(d->strtab + va->vda_name);
		}
		if (!vd->vd_next)
			break;
		p += vd->vd_next;
	}
	return NULL;
}

/* What the loader wrote at start-up for R_X86_64_64 in a library: S + A,
 * with S looked up as the loader does (own definition first when the
 * object is -Bsymbolic or the symbol protected, else the global scope,
 * with the symbol's version).  Falls back to the word's current value
 * when the symbol cannot be found (an object dlopen'ed RTLD_LOCAL whose
 * definition is only in its own local scope). */
static uintptr_t lib_abs_value(const struct objan *o, const struct dyninfo *d,
			       const ElfW(Rela) *r, uintptr_t a)
{
	uint32_t s = ELF64_R_SYM(r->r_info);
	uintptr_t A = (uintptr_t)r->r_addend;
	if (!s)
		return A;
	if (!d->symtab || !d->strtab)
		return *(uintptr_t *)a;
	const ElfW(Sym) *sym =
		(const ElfW(Sym) *)(d->symtab + (uintptr_t)s * d->syment);
	int defined = sym->st_shndx != SHN_UNDEF;
	int ifunc = ELF64_ST_TYPE(sym->st_info) == STT_GNU_IFUNC;
	if (defined && !ifunc &&
	    (d->symbolic ||
	     ELF64_ST_VISIBILITY(sym->st_other) == STV_PROTECTED))
		return o->bias + sym->st_value + A;
	const char *name = (const char *)(d->strtab + sym->st_name);
	const char *ver = sym_version(d, s);
	void *p = ver ? dlvsym(RTLD_DEFAULT, name, ver) : NULL;
	if (!p)
		p = dlsym(RTLD_DEFAULT, name);
	if (p)
		return (uintptr_t)p + A;
	if (defined && !ifunc)
		return o->bias + sym->st_value + A;
	if (ELF64_ST_BIND(sym->st_info) == STB_WEAK)
		return A; /* an undefined weak symbol is 0 */
	return *(uintptr_t *)a;
}

static void one_rela(struct builder *b, const ElfW(Rela) *r)
{
	const struct objan *o = b->o;
	uintptr_t a = o->bias + r->r_offset;
	unsigned type = ELF64_R_TYPE(r->r_info);
	int data = in_dspan(o, a, 8) && !(a & 7);
	switch (type) {
	case R_X86_64_NONE:
		return;
	case R_X86_64_RELATIVE:
		if (data)
			b->lw[b->nlw++] = (struct lword){
				a, o->bias + (uintptr_t)r->r_addend};
		else
			add_keep(b, a, a + 8);
		return;
	case R_X86_64_64:
		if (data)
			b->lw[b->nlw++] = (struct lword){
				a, o->lib ? lib_abs_value(o, b->d, r, a)
					  : *(uintptr_t *)a};
		else
			add_keep(b, a, a + 8);
		return;
	case R_X86_64_IRELATIVE: /* a data pointer to an ifunc (strcmp) too */
		/* a library's: the value now (calling the resolver again is
		 * not ours to do); see "Invariants" */
		if (data)
			b->lw[b->nlw++] = (struct lword){a, *(uintptr_t *)a};
		else
			add_keep(b, a, a + 8);
		return;
	case R_X86_64_COPY: {
		size_t sz = 8;
		uint32_t s = ELF64_R_SYM(r->r_info);
		if (b->d->symtab && s) {
			const ElfW(Sym) *sym = (const ElfW(Sym) *)(
				b->d->symtab + (uintptr_t)s * b->d->syment);
			if (sym->st_size)
				sz = sym->st_size;
		}
		add_keep(b, a, a + sz);
		return;
	}
	default:
		/* GLOB_DAT, JUMP_SLOT (lazy binding rewrites it), TPOFF64,
		 * DTPMOD64, DTPOFF64 and anything unknown: this process's
		 * value, whatever it is now. */
		add_keep(b, a, a + 8);
		return;
	}
}

/* Build an object's tables in one private anonymous mapping, sized for the
 * worst case (every relocation lands in a DATA span).  0, or -1 when no
 * memory could be mapped (the object's spans must then not be saved). */
static int build_tables(struct objan *o)
{
	struct dyninfo d;
	const ElfW(Dyn) *dyn;
	size_t dynsz = 0;
	struct fileview f = {NULL, 0};
	if (read_dynamic(o, &d, &dyn, &dynsz) < 0)
		return 0; /* no dynamic section: no relocations to honour */
	size_t nrela = d.rela ? d.relasz / d.relaent : 0;
	size_t njmp = d.jmprel ? d.pltrelsz / d.relaent : 0;
	size_t nrelr = relr_walk(o, &d, &f, NULL);
	size_t nk = nrela + njmp + 2, nl = nrela + nrelr;
	size_t bytes = align_up((nk + nl) * 16, PM_PAGE);
	void *m = pm__os_aux(bytes);
	if (!m)
		return -1;
	struct builder b = {o, (struct range *)m, 0,
			    (struct lword *)((char *)m + nk * 16), 0, &d};

	add_keep(&b, (uintptr_t)dyn, (uintptr_t)dyn + dynsz);
	if (d.pltgot)
		add_keep(&b, d.pltgot, d.pltgot + 3 * 8);
	for (size_t i = 0; i < nrela; i++)
		one_rela(&b, (const ElfW(Rela) *)(d.rela + i * d.relaent));
	for (size_t i = 0; i < njmp; i++)
		one_rela(&b, (const ElfW(Rela) *)(d.jmprel + i * d.relaent));
	if (nrelr && o->lib)
		file_map(o, &f);
	b.nlw += relr_walk(o, &d, &f, b.lw + b.nlw);
	if (f.p)
		munmap((void *)f.p, f.len);

	sort_recs((struct rec *)b.keep, b.nkeep);
	size_t k = 0;
	for (size_t i = 0; i < b.nkeep; i++) {
		if (k && b.keep[i].lo <= b.keep[k - 1].hi) {
			if (b.keep[i].hi > b.keep[k - 1].hi)
				b.keep[k - 1].hi = b.keep[i].hi;
		} else {
			b.keep[k++] = b.keep[i];
		}
	}
	b.nkeep = k;
	sort_recs((struct rec *)b.lw, b.nlw);
	k = 0;
	for (size_t i = 0; i < b.nlw; i++)
		if (!k || b.lw[i].addr != b.lw[k - 1].addr)
			b.lw[k++] = b.lw[i];
	b.nlw = k;

	o->keep = b.keep;
	o->nkeep = b.nkeep;
	o->lw = b.lw;
	o->nlw = b.nlw;
	o->map = m;
	o->maplen = bytes;
	return 0;
}

void pm__globals_startup(void)
{
	int expect = 0;
	if (!__atomic_compare_exchange_n(&G.state, &expect, 1, 0,
					 __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
		while (__atomic_load_n(&G.state, __ATOMIC_ACQUIRE) != 2)
			__builtin_ia32_pause();
		return;
	}
	if (find_exe() < 0) {
		pm__warn("cannot find the executable's program headers; its "
			 "data/bss will not be checkpointed");
		G.broken = 1;
	} else {
		G.is_static = !find_segments(&G.o);
		if (build_tables(&G.o) < 0) {
			pm__warn("cannot map memory for the globals tables; "
				 "the executable's data/bss will not be "
				 "checkpointed");
			G.broken = 1;
		}
	}
	__atomic_store_n(&G.state, 2, __ATOMIC_RELEASE);
}

static void ensure_started(void)
{
	if (__atomic_load_n(&G.state, __ATOMIC_ACQUIRE) != 2)
		pm__globals_startup();
}

/* ---- the executable's pm_persistent section ----------------------------
 * When libpmalloc.a is linked into the executable, the hidden bounds are
 * the executable's own.  In libpmalloc.so they are the library's (empty),
 * and the executable's section has no symbol we could find at run time,
 * so read its section headers from the file (after checking that the file
 * is the one mapped: same program headers as in memory). */

static int pread_all(int fd, void *buf, size_t n, off_t off)
{
	return pread(fd, buf, n, off) == (ssize_t)n ? 0 : -1;
}

static int exe_open_path(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ElfW(Ehdr) e;
	if (pread_all(fd, &e, sizeof e, 0) || memcmp(e.e_ident, ELFMAG, SELFMAG) ||
	    e.e_phnum != G.o.phnum || e.e_phentsize != sizeof(ElfW(Phdr)))
		goto bad;
	for (int i = 0; i < G.o.phnum; i++) {
		ElfW(Phdr) p;
		if (pread_all(fd, &p, sizeof p, (off_t)(e.e_phoff + i * sizeof p)) ||
		    memcmp(&p, &G.o.phdr[i], sizeof p))
			goto bad;
	}
	return fd;
bad:
	close(fd);
	return -1;
}

/* The path of the file whose program headers are the ones mapped, into
 * buf (absolute when it can be made so): /proc/self/exe, or, when the
 * program was started as `ld.so prog` (/proc/self/exe is then the loader),
 * the name it was started by.  Returns an open descriptor or -1. */
static int exe_file(char *buf, size_t n)
{
	ssize_t r = readlink("/proc/self/exe", buf, n - 1);
	int fd = exe_open_path("/proc/self/exe");
	buf[r > 0 ? r : 0] = '\0';
	if (fd >= 0 || !program_invocation_name || !program_invocation_name[0])
		return fd;
	const char *p = program_invocation_name;
	size_t at = 0;
	if (p[0] != '/' && getcwd(buf, n - 1)) {
		at = strlen(buf);
		if (at && buf[at - 1] != '/' && at + 1 < n)
			buf[at++] = '/';
	}
	while (*p && at + 1 < n)
		buf[at++] = *p++;
	buf[at] = '\0';
	return exe_open_path(buf);
}

static int persistent_from_file(struct range *out)
{
	static const char want[] = "pm_persistent";
	char path[PATH_MAX];
	int fd = exe_file(path, sizeof path), rc = -1;
	if (fd < 0)
		return -1;
	ElfW(Ehdr) e;
	ElfW(Shdr) s, str;
	if (pread_all(fd, &e, sizeof e, 0) || !e.e_shoff ||
	    e.e_shentsize != sizeof s)
		goto out;
	size_t shnum = e.e_shnum, strndx = e.e_shstrndx;
	if (pread_all(fd, &s, sizeof s, (off_t)e.e_shoff))
		goto out;
	if (!shnum)
		shnum = s.sh_size;
	if (strndx == SHN_XINDEX)
		strndx = s.sh_link;
	if (strndx >= shnum ||
	    pread_all(fd, &str, sizeof str,
		      (off_t)(e.e_shoff + strndx * sizeof str)))
		goto out;
	for (size_t i = 1; i < shnum; i++) {
		char name[sizeof want];
		if (pread_all(fd, &s, sizeof s, (off_t)(e.e_shoff + i * sizeof s)))
			goto out;
		if (!(s.sh_flags & SHF_ALLOC) || s.sh_name >= str.sh_size ||
		    pread(fd, name, sizeof name,
			  (off_t)(str.sh_offset + s.sh_name)) != sizeof name ||
		    memcmp(name, want, sizeof want))
			continue;
		out->lo = G.o.bias + s.sh_addr;
		out->hi = out->lo + s.sh_size;
		rc = 0;
		break;
	}
out:
	close(fd);
	return rc;
}

#ifdef PM_GLOBALS_TEST_FILE_LOOKUP
#define USE_LINKER_BOUNDS 0 /* test build: exercise the shared-library path */
#else
#define USE_LINKER_BOUNDS 1
#endif

static void find_persistent(void)
{
	struct range r = {0, 0};
	uintptr_t lo = (uintptr_t)__start_pm_persistent;
	uintptr_t hi = (uintptr_t)__stop_pm_persistent;
	/* the linker's bounds count only if they are inside the executable */
	if (USE_LINKER_BOUNDS && lo && hi > lo && in_dspan(&G.o, lo, hi - lo))
		r = (struct range){lo, hi};
	else if (persistent_from_file(&r) < 0 || !in_dspan(&G.o, r.lo, r.hi - r.lo))
		r = (struct range){0, 0};
	if (r.hi > r.lo) {
		r.lo = align_down(r.lo, 8); /* the section is 16-aligned */
		r.hi = align_up(r.hi, 8);
	}
	G.pers = r; /* two racing lookups store the same value */
	__atomic_store_n(&G.pers_state, 1, __ATOMIC_RELEASE);
}

/* ---- spans --------------------------------------------------------------- */

static int emit(struct pm_gspan *out, int max, int *n, uintptr_t lo,
		uintptr_t hi, uint32_t kind)
{
	if (lo >= hi)
		return 0;
	if (*n >= max)
		return -1;
	out[*n].lo = lo;
	out[*n].hi = hi;
	out[*n].kind = kind;
	(*n)++;
	return 0;
}

static void register_libraries(void);

int pm__globals_spans(struct pm_gspan *out, int max)
{
	struct range r[NREG];
	int n = 0, nr, i, j;

	ensure_started();
	register_libraries();
	/* outside our lock: the lookup may take the loader's lock, and a
	 * library constructor calling pm_register runs under it */
	if (!__atomic_load_n(&G.pers_state, __ATOMIC_ACQUIRE) && !G.broken)
		find_persistent();
	lock();
	nr = nreg;
	memcpy(r, reg, (size_t)nr * sizeof *r);
	unlock();

	/* DATA spans, the persistent section cut out and listed by itself */
	if (!G.broken && !G.is_static) {
		for (i = 0; i < G.o.ndspan; i++) {
			uintptr_t lo = G.o.dspan[i].lo, hi = G.o.dspan[i].hi;
			uintptr_t pl = G.pers.lo, ph = G.pers.hi;
			if (ph > lo && pl < hi) {
				if (emit(out, max, &n, lo, pl, PM_GSPAN_DATA) ||
				    emit(out, max, &n, pl, ph,
					 PM_GSPAN_PERSISTENT) ||
				    emit(out, max, &n, ph, hi, PM_GSPAN_DATA))
					goto full;
			} else if (emit(out, max, &n, lo, hi, PM_GSPAN_DATA)) {
				goto full;
			}
		}
	}
	/* a static executable: only the section the program asked for */
	if (!G.broken && G.is_static &&
	    emit(out, max, &n, G.pers.lo, G.pers.hi, PM_GSPAN_PERSISTENT))
		goto full;
	int nbase = n;

	/* registered ranges: sorted, merged, minus the spans above */
	sort_recs((struct rec *)r, (size_t)nr);
	j = 0;
	for (i = 0; i < nr; i++) {
		/* overlapping only: touching pieces may be two objects' */
		if (j && r[i].lo < r[j - 1].hi) {
			if (r[i].hi > r[j - 1].hi)
				r[j - 1].hi = r[i].hi;
		} else {
			r[j++] = r[i];
		}
	}
	nr = j;
	for (i = 0; i < nr; i++) {
		uintptr_t cur = r[i].lo;
		for (j = 0; j < nbase && cur < r[i].hi; j++) {
			if (out[j].hi <= cur || out[j].lo >= r[i].hi)
				continue;
			if (out[j].lo > cur &&
			    emit(out, max, &n, cur, out[j].lo,
				 PM_GSPAN_REGISTERED))
				goto full;
			cur = out[j].hi;
		}
		if (cur < r[i].hi &&
		    emit(out, max, &n, cur, r[i].hi, PM_GSPAN_REGISTERED))
			goto full;
	}

	/* address order (insertion sort: a few hundred at most) */
	for (i = 1; i < n; i++) {
		struct pm_gspan t = out[i];
		for (j = i; j > 0 && out[j - 1].lo > t.lo; j--)
			out[j] = out[j - 1];
		out[j] = t;
	}
	return n;
full:
	return pm__err(-ENOSPC, "globals: more than %d spans to persist", max);
}

/* ---- keep words ---------------------------------------------------------- */

/* The analysis whose object maps address a, or NULL (memory of no object:
 * an anonymous mapping someone registered). */
static const struct objan *objan_at(uintptr_t a)
{
	if (!G.broken && a >= G.o.lo && a < G.o.hi)
		return &G.o;
	int n = __atomic_load_n(&nlibs, __ATOMIC_ACQUIRE);
	for (int i = 0; i < n; i++)
		if (a >= libs[i].lo && a < libs[i].hi)
			return &libs[i];
	return NULL;
}

/* First index whose range ends above a (keep) / whose address is >= a. */
static size_t keep_index(const struct objan *o, uintptr_t a)
{
	size_t lo = 0, hi = o->nkeep;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (o->keep[mid].hi <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}
static size_t lw_index(const struct objan *o, uintptr_t a)
{
	size_t lo = 0, hi = o->nlw;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (o->lw[mid].addr < a)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int pm__globals_keep_mask(uintptr_t lo, uintptr_t hi, uint8_t *bits)
{
	static const struct objan none; /* no tables */
	uintptr_t sl = (uintptr_t)__start_pm_state;
	uintptr_t sh = (uintptr_t)__stop_pm_state;
	uintptr_t tl = 0, th = 0;
	size_t ki, li, nw = (hi - lo) / 8;
	int kept = 0;

	ensure_started();
	/* a span lies inside one object or outside all (see pm_register) */
	const struct objan *o = objan_at(lo);
	if (!o)
		o = &none;
	if (pm__region) {
		tl = pm__region->tbase;
		th = pm__region->base + pm__region->size;
	}
	memset(bits, 0, (nw + 7) / 8);
	ki = keep_index(o, lo);
	li = lw_index(o, lo);
	for (size_t w = 0; w < nw; w++) {
		uintptr_t a = lo + w * 8;
		uintptr_t v = *(const uintptr_t *)a;
		int keep = 0;
		while (ki < o->nkeep && o->keep[ki].hi <= a)
			ki++;
		while (li < o->nlw && o->lw[li].addr < a)
			li++;
		if (ki < o->nkeep && o->keep[ki].lo <= a)
			keep = 1; /* GOT, copy relocation, ... */
		else if (a + 8 > sl && a < sh)
			keep = 1; /* pmalloc's own state */
		else if (v >= tl && v < th && pm__transient_live(v))
			keep = 1; /* points into a live transient block */
		else if (li < o->nlw && o->lw[li].addr == a && o->lw[li].val == v)
			keep = 1; /* loader-written, left alone */
		if (keep) {
			bits[w / 8] |= (uint8_t)(1u << (w % 8));
			kept++;
		}
	}
	return kept;
}

/* The keep words no file may clear, as this process computes them: rule
 * 1 (words the loader owns: GOT, copy relocations, TLS, .dynamic) and rule
 * 4 (pmalloc's own state).  Rules 2 and 3 depend on the values at the
 * checkpoint, so only the file can say.  Sets bits, never clears them. */
void pm__globals_fixed_mask(uintptr_t lo, uintptr_t hi, uint8_t *bits)
{
	static const struct objan none;
	uintptr_t sl = (uintptr_t)__start_pm_state;
	uintptr_t sh = (uintptr_t)__stop_pm_state;
	size_t nw = (hi - lo) / 8;

	ensure_started();
	const struct objan *o = objan_at(lo);
	if (!o)
		o = &none;
	size_t ki = keep_index(o, lo);
	for (size_t w = 0; w < nw; w++) {
		uintptr_t a = lo + w * 8;
		while (ki < o->nkeep && o->keep[ki].hi <= a)
			ki++;
		if ((ki < o->nkeep && o->keep[ki].lo <= a) ||
		    (a + 8 > sl && a < sh))
			bits[w / 8] |= (uint8_t)(1u << (w % 8));
	}
}

int pm__globals_keep_word(uintptr_t addr)
{
	uint8_t b;
	return pm__globals_keep_mask(addr, addr + 8, &b);
}

/* ---- pm_register, pm_register_object ------------------------------------
 * A registered range is cut into pieces before it enters the table: the
 * part inside a loaded object (the executable included) is intersected
 * with that object's data spans (writable PT_LOAD minus PT_GNU_RELRO: a
 * restore could not write read-only pages, and they hold nothing the
 * program changes), and the object is analysed like the executable so
 * that its keep words are known; the parts outside every object stay as
 * they are.  So no piece straddles two objects. */

#define MAX_HIT 16 /* objects one registration may touch */

struct hit {
	uintptr_t bias, lo, hi;
	const ElfW(Phdr) *phdr;
	int phnum, exe;
	const char *name;
};

struct findctx {
	uintptr_t lo, hi;       /* the range, or 0 with `name` */
	const char *name;       /* pm_register_object: substring of the path */
	struct hit h[MAX_HIT];
	int n, seen, over;
	uintptr_t vdso;
};

static void extent(const struct dl_phdr_info *info, uintptr_t *lo,
		   uintptr_t *hi)
{
	*lo = UINTPTR_MAX;
	*hi = 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *p = &info->dlpi_phdr[i];
		if (p->p_type != PT_LOAD || !p->p_memsz)
			continue;
		uintptr_t a = info->dlpi_addr + p->p_vaddr;
		if (align_down(a, PM_PAGE) < *lo)
			*lo = align_down(a, PM_PAGE);
		if (align_up(a + p->p_memsz, PM_PAGE) > *hi)
			*hi = align_up(a + p->p_memsz, PM_PAGE);
	}
}

static int find_cb(struct dl_phdr_info *info, size_t size, void *vctx)
{
	struct findctx *c = vctx;
	int exe = c->seen++ == 0;
	uintptr_t lo, hi;
	(void)size;
	if (!exe && (!info->dlpi_name[0] || info->dlpi_addr == c->vdso))
		return 0;
	extent(info, &lo, &hi);
	if (lo >= hi)
		return 0;
	if (c->name ? exe || !strstr(info->dlpi_name, c->name)
		    : hi <= c->lo || lo >= c->hi)
		return 0;
	if (c->n >= MAX_HIT) {
		c->over = 1;
		return 1;
	}
	c->h[c->n++] = (struct hit){info->dlpi_addr, lo, hi, info->dlpi_phdr,
				    info->dlpi_phnum, exe, info->dlpi_name};
	return c->name != NULL; /* by name: the first match */
}

/* The analysis of a library (made now if it is new): 0, or -ENOMEM. */
static int lib_analysis(const struct hit *h, const struct objan **out)
{
	int n = __atomic_load_n(&nlibs, __ATOMIC_ACQUIRE), rc = 0;
	for (int i = 0; i < n; i++)
		if (libs[i].bias == h->bias && libs[i].lo == h->lo &&
		    libs[i].hi == h->hi) {
			*out = &libs[i];
			return 0;
		}
	/* outside our lock: dlsym may take the loader's lock and malloc */
	struct objan t;
	memset(&t, 0, sizeof t);
	t.bias = h->bias;
	t.phdr = h->phdr;
	t.phnum = h->phnum;
	t.lib = 1;
	t.path = h->name;
	find_segments(&t);
	if (build_tables(&t) < 0)
		return pm__err(-ENOMEM, "pm_register: no memory to analyse "
					"the relocations of %s",
			       h->name);
	t.phdr = NULL;
	t.path = NULL;
	lock();
	n = nlibs;
	for (int i = 0; i < n; i++)
		if (libs[i].bias == t.bias && libs[i].lo == t.lo &&
		    libs[i].hi == t.hi) {
			*out = &libs[i]; /* another thread was faster */
			goto drop;
		}
	if (n >= MAX_LIBS) {
		rc = -ENOMEM;
		goto drop;
	}
	libs[n] = t;
	*out = &libs[n];
	__atomic_store_n(&nlibs, n + 1, __ATOMIC_RELEASE);
	unlock();
	return 0;
drop:
	unlock();
	pm__os_aux_free(t.map, t.maplen);
	if (rc)
		return pm__err(rc, "pm_register: registered memory of more than "
				   "%d shared objects",
			       MAX_LIBS);
	return 0;
}

static int add_piece(struct range *p, int *np, uintptr_t lo, uintptr_t hi)
{
	lo = align_down(lo, 8);
	hi = align_up(hi, 8);
	if (lo >= hi)
		return 0;
	if (*np >= MAX_PIECES)
		return -1;
	p[(*np)++] = (struct range){lo, hi};
	return 0;
}

/* Register [lo, hi) (8-aligned, outside the heap), cut as described. */
static int register_range(uintptr_t lo, uintptr_t hi, const char *who)
{
	struct findctx c;
	struct range piece[MAX_PIECES];
	int np = 0, rc = 0;

	ensure_started();
	memset(&c, 0, sizeof c);
	c.lo = lo;
	c.hi = hi;
	c.vdso = getauxval(AT_SYSINFO_EHDR);
	dl_iterate_phdr(find_cb, &c);
	if (c.over)
		return pm__err(-EINVAL, "%s: range %#lx-%#lx covers more than "
					"%d loaded objects",
			       who, (unsigned long)lo, (unsigned long)hi,
			       MAX_HIT);
	for (int i = 1; i < c.n; i++) { /* address order */
		struct hit t = c.h[i];
		int j;
		for (j = i; j > 0 && c.h[j - 1].lo > t.lo; j--)
			c.h[j] = c.h[j - 1];
		c.h[j] = t;
	}
	for (int i = 0; i < c.n; i++)
		if (!c.h[i].exe && pm__private_lib(c.h[i].name))
			return pm__err(-EINVAL,
				       "%s: range 0x%lx-0x%lx reaches into %s, "
				       "whose state belongs to each process "
				       "and is never restored",
				       who, (unsigned long)lo, (unsigned long)hi,
				       c.h[i].name);
	uintptr_t cur = lo;
	for (int i = 0; i < c.n; i++) {
		const struct objan *o = &G.o;
		if (!c.h[i].exe && (rc = lib_analysis(&c.h[i], &o)))
			return rc;
		if (c.h[i].lo > cur &&
		    add_piece(piece, &np, cur,
			      c.h[i].lo < hi ? c.h[i].lo : hi))
			goto many;
		/* an executable without tables: nothing of it can be saved */
		for (int k = 0; k < o->ndspan && !(c.h[i].exe && G.broken);
		     k++) {
			uintptr_t a = o->dspan[k].lo > lo ? o->dspan[k].lo : lo;
			uintptr_t b = o->dspan[k].hi < hi ? o->dspan[k].hi : hi;
			if (a < b && add_piece(piece, &np, a, b))
				goto many;
		}
		if (c.h[i].hi > cur)
			cur = c.h[i].hi;
	}
	if (cur < hi && add_piece(piece, &np, cur, hi))
		goto many;

	lock();
	int add = 0;
	for (int i = 0; i < np; i++) {
		int dup = 0;
		for (int j = 0; j < nreg && !dup; j++)
			dup = reg[j].lo == piece[i].lo && reg[j].hi == piece[i].hi;
		if (!dup) /* registering twice is harmless */
			piece[add++] = piece[i];
	}
	if (nreg + add > NREG)
		rc = -ENOMEM;
	else
		for (int i = 0; i < add; i++)
			reg[nreg++] = piece[i];
	unlock();
	if (rc)
		return pm__err(rc, "%s: the table of %d ranges is full", who,
			       NREG);
	return 0;
many:
	return pm__err(-ENOMEM, "%s: range %#lx-%#lx falls into more than %d "
				"pieces",
		       who, (unsigned long)lo, (unsigned long)hi, MAX_PIECES);
}

/* ---- third-party libraries, persisted by default --------------------------
 * A library's own data (sqlite's configuration, libxml2's dictionary, a
 * cache's LRU list) is part of a program's state as much as its heap
 * blocks are: every loaded library but the C/C++ run-time and allocators
 * is registered like pm_register_object() would, at each checkpoint and
 * restore.  PMALLOC_PERSIST_LIBS=0 turns this off. */
/* libc, the loader and pmalloc itself: their state describes this process
 * (its heap pointer, its threads, its stack guard), so no checkpoint may
 * hold it and no registration may name it. */
int pm__private_lib(const char *path)
{
	static const char *const prefixes[] = {
		"libc.so", "ld-linux", "libpmalloc", "libmalloc.so",
	};
	const char *b = strrchr(path, '/');
	b = b ? b + 1 : path;
	for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
		if (!strncmp(b, prefixes[i], strlen(prefixes[i])))
			return 1;
	return 0;
}

int pm__runtime_lib(const char *path)
{
	static const char *const prefixes[] = {
		"libc.so", "ld-linux", "libpmalloc", "libmalloc.so",
		"libstdc++", "libgcc_s", "libm.so", "libmvec", "libpthread",
		"libdl.so", "librt.so", "libutil", "libresolv", "libnss_",
		"libanl", "libBrokenLocale", "libthread_db", "libcrypt.so",
		"libasan", "libubsan", "libtsan", "liblsan", "libjemalloc",
		"libtcmalloc", "libmimalloc", "vgpreload", "libvalgrind",
	};
	const char *b = strrchr(path, '/');
	b = b ? b + 1 : path;
	for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
		if (!strncmp(b, prefixes[i], strlen(prefixes[i])))
			return 1;
	return 0;
}

struct autoctx {
	struct range r[MAX_LIBS];
	int n, seen;
	uintptr_t vdso;
};

static int auto_cb(struct dl_phdr_info *info, size_t size, void *vctx)
{
	struct autoctx *c = vctx;
	uintptr_t lo, hi;
	(void)size;
	if (c->seen++ == 0 || !info->dlpi_name[0] ||
	    info->dlpi_addr == c->vdso || pm__runtime_lib(info->dlpi_name))
		return 0;
	extent(info, &lo, &hi);
	if (lo < hi)
		c->r[c->n++] = (struct range){lo, hi};
	return c->n == MAX_LIBS;
}

static void register_libraries(void)
{
	const char *e = pm__env("PMALLOC_PERSIST_LIBS");
	if (e && e[0] == '0')
		return;
	struct autoctx c;
	memset(&c, 0, sizeof c);
	c.vdso = getauxval(AT_SYSINFO_EHDR);
	dl_iterate_phdr(auto_cb, &c); /* collect; register outside its lock */
	char keep[512];
	memcpy(keep, pm_errmsg(), sizeof keep); /* a full table is no error */
	for (int i = 0; i < c.n; i++)
		register_range(c.r[i].lo, c.r[i].hi, "library data");
	pm__err(0, "%s", keep);
}

static void heap_bounds(uintptr_t *hl, uintptr_t *hh)
{
	if (pm__region) {
		*hl = pm__region->base;
		*hh = *hl + pm__region->size;
	} else {
		*hl = EHEAP_START_ADDRESS;
		*hh = *hl + PM_DEFAULT_SIZE;
	}
}

PM_EXPORT int pm_register(void *addr, size_t len)
{
	uintptr_t a = (uintptr_t)addr, hl, hh;
	if (!addr || !len)
		return pm__err(-EINVAL, "pm_register: %s", addr ? "zero length"
							       : "NULL address");
	if (a + len < a || align_up(a + len, 8) < a)
		return pm__err(-EINVAL, "pm_register: range %p+%zu wraps",
			       addr, len);
	heap_bounds(&hl, &hh);
	if (hh && pm__os_aux_end() > hh)
		hh = pm__os_aux_end(); /* pmalloc's own pages follow the heap */
	if (a < hh && a + len > hl)
		return pm__err(-EINVAL,
			       "pm_register: range %p+%zu overlaps the heap or "
			       "pmalloc's own pages after it",
			       addr, len);
	/* whole words: the span format is word-based */
	return register_range(align_down(a, 8), align_up(a + len, 8),
			      "pm_register");
}

PM_EXPORT int pm_register_object(const char *name)
{
	struct findctx c;
	if (!name || !name[0])
		return pm__err(-EINVAL, "pm_register_object: %s",
			       name ? "empty name" : "NULL name");
	memset(&c, 0, sizeof c);
	c.name = name;
	c.vdso = getauxval(AT_SYSINFO_EHDR);
	dl_iterate_phdr(find_cb, &c);
	if (!c.n)
		return pm__err(-ENOENT, "pm_register_object: no loaded object's "
					"path contains \"%s\"",
			       name);
	const char *base = strrchr(c.h[0].name, '/');
	base = base ? base + 1 : c.h[0].name;
	if (!strncmp(base, "libc.so", 7) || !strncmp(base, "ld-linux", 8))
		return pm__err(-EINVAL, "pm_register_object: %s belongs to "
					"this process (libc and the loader "
					"are never restored)",
			       c.h[0].name);
	return register_range(c.h[0].lo, c.h[0].hi, "pm_register_object");
}

/* ---- loaded objects ------------------------------------------------------ */

static uint32_t build_id(uintptr_t bias, const ElfW(Phdr) *ph, int n,
			 uint8_t *out)
{
	for (int i = 0; i < n; i++) {
		if (ph[i].p_type != PT_NOTE)
			continue;
		uintptr_t p = bias + ph[i].p_vaddr, end = p + ph[i].p_memsz;
		uintptr_t al = ph[i].p_align == 8 ? 8 : 4;
		while (p + sizeof(ElfW(Nhdr)) <= end) {
			const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
			uintptr_t name = p + sizeof *nh;
			uintptr_t desc = name + align_up(nh->n_namesz, al);
			uintptr_t next = desc + align_up(nh->n_descsz, al);
			if (next > end || next <= p)
				break;
			if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 &&
			    !memcmp((const void *)name, "GNU", 4)) {
				uint32_t len = nh->n_descsz < 20 ? nh->n_descsz : 20;
				memcpy(out, (const void *)desc, len);
				return len;
			}
			p = next;
		}
	}
	return 0;
}

struct objctx {
	struct pm_object *out;
	int max, n, seen;
	uintptr_t vdso;
};

static void copy_path(char *dst, const char *src)
{
	size_t i;
	for (i = 0; src[i] && i + 1 < sizeof ((struct pm_object *)0)->path; i++)
		dst[i] = src[i];
	dst[i] = '\0';
}

static int obj_cb(struct dl_phdr_info *info, size_t size, void *vctx)
{
	struct objctx *c = vctx;
	int first = c->seen++ == 0;
	(void)size;
	if (!first && (!info->dlpi_name[0] || info->dlpi_addr == c->vdso))
		return 0; /* the vdso: not a file, the kernel's business */
	if (c->n >= c->max)
		return 1;
	struct pm_object *o = &c->out[c->n++];
	memset(o, 0, sizeof *o);
	o->load = info->dlpi_addr;
	if (first && !info->dlpi_name[0]) {
		int fd = exe_file(o->path, sizeof o->path);
		if (fd >= 0)
			close(fd);
	} else {
		copy_path(o->path, info->dlpi_name);
	}
	struct stat st;
	if (o->path[0] && stat(o->path, &st) == 0) {
		o->size = (uint64_t)st.st_size;
		o->mtime = (uint64_t)st.st_mtime;
	}
	o->build_id_len = build_id(info->dlpi_addr, info->dlpi_phdr,
				   info->dlpi_phnum, o->build_id);
	return 0;
}

int pm__objects(struct pm_object *out, int max)
{
	struct objctx c = {out, max, 0, 0, getauxval(AT_SYSINFO_EHDR)};
	if (max <= 0)
		return 0;
	ensure_started(); /* exe_file compares with our program headers */
	dl_iterate_phdr(obj_cb, &c);
	return c.n;
}
