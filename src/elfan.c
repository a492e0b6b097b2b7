/*
 * elfan.c - the analysis of one loaded ELF object (globals.h): which of its
 * memory is data (writable PT_LOAD segments minus PT_GNU_RELRO), and from
 * its dynamic relocations (RELA, JMPREL, RELR) which words the loader owns
 * (keep ranges: GOT slots, copy relocations, TLS words, .dynamic) and
 * which it wrote with what value (loader words).  How the keep decision
 * uses them is described in spans.c.
 *
 * Invariants:
 *   - keep ranges are sorted, merged and disjoint; loader words sorted by
 *     address and unique; both only cover the object's data spans;
 *   - for RELA R_X86_64_RELATIVE the start-up value is computed (load bias
 *     + addend), so it is exact even if our initialisation runs after some
 *     constructor already changed the word; RELR, R_X86_64_64 and
 *     IRELATIVE values of the executable are snapshotted from memory, which
 *     is exact because glibc relocates every object before the first call
 *     into the real malloc;
 *   - a library is analysed when its memory is first registered, after
 *     the program may have run: RELATIVE is bias + addend, RELR the file's
 *     word + bias, R_X86_64_64 the symbol looked up as the loader does
 *     (lib_abs_value) plus the addend; only IRELATIVE and symbols dlsym
 *     cannot find are read from memory.
 *
 * Nothing here uses stdio, malloc or getenv; tables live in one private
 * anonymous mapping per object (pm__os_aux).
 */
#include "globals.h"
#include <elf.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>

/* ---- finding the executable -------------------------------------------- */

/* The load bias from the auxiliary vector, which the kernel (or ld.so when
 * run as `ld.so prog`) fills for the program; usable before libc is up. */
int pm__elf_find_exe(struct objan *o)
{
	const ElfW(Phdr) *ph = (const ElfW(Phdr) *)getauxval(AT_PHDR);
	int n = (int)getauxval(AT_PHNUM);
	if (!ph || n <= 0)
		return -1;
	o->phdr = ph;
	o->phnum = n;
	for (int i = 0; i < n; i++)
		if (ph[i].p_type == PT_PHDR) {
			o->bias = (uintptr_t)ph - ph[i].p_vaddr;
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
			o->bias = eh - ph[i].p_vaddr;
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
int pm__elf_segments(struct objan *o)
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

int pm__elf_in_dspan(const struct objan *o, uintptr_t a, uintptr_t n)
{
	for (int i = 0; i < o->ndspan; i++)
		if (a < o->dspan[i].hi && a + n > o->dspan[i].lo)
			return 1;
	return 0;
}

/* ---- sorting without libc (qsort may allocate) ---------------------------
 * Heapsort of two-word records ordered by their first word. */

static void sift(struct range *a, size_t i, size_t n)
{
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= n)
			return;
		if (c + 1 < n && a[c + 1].lo > a[c].lo)
			c++;
		if (a[i].lo >= a[c].lo)
			return;
		struct range t = a[i];
		a[i] = a[c];
		a[c] = t;
		i = c;
	}
}

void pm__sort_pairs(struct range *a, size_t n)
{
	size_t i;
	for (i = 1; i < n && a[i - 1].lo <= a[i].lo; i++)
		;
	if (i >= n)
		return; /* already sorted: the common case for RELATIVE */
	for (i = n / 2; i-- > 0;)
		sift(a, i, n);
	for (i = n; i-- > 1;) {
		struct range t = a[0];
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
		void *m = pm__os_map_file_any((size_t)st.st_size, PROT_READ, fd);
		if (m) {
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
			if (out && pm__elf_in_dspan(o, a, 8))
				out[cnt++] = relr_word(o, f, a);
			else if (!out)
				cnt++;
			base = a + 8;
			continue;
		}
		uintptr_t a = base;
		for (e >>= 1; e; e >>= 1, a += 8)
			if (e & 1) {
				if (out && pm__elf_in_dspan(o, a, 8))
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
	if (lo < hi && pm__elf_in_dspan(b->o, lo, hi - lo))
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
	int data = pm__elf_in_dspan(o, a, 8) && !(a & 7);
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

/* The executable's tables when they are small (most programs: a few dozen
 * relocations), built at start-up: here rather than on a page of their
 * own that start-up would fault in.  libpmalloc.so puts this object's
 * state after all the rest of pm_state, at a page boundary (startup.ld):
 * on the page where the file's bytes end, which the loader writes anyway
 * when it clears the start of .bss. */
#define EXE_TABLES 2048
static struct {
	int used;
	struct range t[EXE_TABLES / sizeof(struct range)];
} exe_tables PM_STATE;

/* Build an object's tables in one private anonymous mapping (or the
 * executable's in exe_tables), sized for the worst case (every relocation
 * lands in a DATA span).  0, or -1 when no memory could be mapped (the
 * object's spans must then not be saved). */
int pm__elf_tables(struct objan *o)
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
	void *m;
	if (!o->lib && (nk + nl) * 16 <= sizeof exe_tables.t &&
	    !__atomic_exchange_n(&exe_tables.used, 1, __ATOMIC_ACQ_REL))
		m = exe_tables.t, bytes = 0; /* never freed: no mapping */
	else if (!(m = pm__os_aux(bytes)))
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
	pm__os_unmap((void *)f.p, f.len);

	pm__sort_pairs(b.keep, b.nkeep);
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
	pm__sort_pairs((struct range *)b.lw, b.nlw);
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

/* ---- lookups -------------------------------------------------------------- */

/* First index whose range ends above a (keep) / whose address is >= a. */
size_t pm__elf_keep_index(const struct objan *o, uintptr_t a)
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
size_t pm__elf_lw_index(const struct objan *o, uintptr_t a)
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
