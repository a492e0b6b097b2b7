/*
 * spans.c - which global memory a checkpoint persists, and which words of
 * it a restore must leave alone (the globals family: globals.h).
 *
 * Owns:
 *   - the analysis of the main executable (elfan.c), made once at start-up
 *     (pm__globals_startup), and its pm_persistent section;
 *   - the span list (pm__globals_spans): data/bss, the pm_persistent
 *     section, registered ranges (register.c);
 *   - the per-word "keep" decision (pm__globals_keep_mask, and the part no
 *     file may override, pm__globals_fixed_mask).
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
 *   - the executable's tables are built once, before the program's own
 *     code runs (no malloc: we may be inside the first malloc call);
 *   - if the tables cannot be built (no memory), DATA spans are withheld
 *     rather than persisted without their keep words (a restored GOT slot
 *     would crash at the next call).
 *   - all of this file's mutable globals are PM_STATE.
 *
 * Nothing here uses stdio, malloc or getenv.
 */
#include "globals.h"
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

/* Bounds of sections, defined by the linker when the section exists in the
 * same link unit; hidden so that they can never bind to another object's
 * (see PITFALLS: clang + lld + --gc-sections). */
extern char __start_pm_persistent[] __attribute__((visibility("hidden"), weak));
extern char __stop_pm_persistent[] __attribute__((visibility("hidden"), weak));
extern char __start_pm_state[] __attribute__((visibility("hidden"), weak));
extern char __stop_pm_state[] __attribute__((visibility("hidden"), weak));

/* The analysis of the executable (written once by startup). */
static struct {
	int state;                   /* 0 not yet, 1 building, 2 done */
	int broken;                  /* tables missing: withhold DATA spans */
	int is_static;               /* no PT_INTERP: libc inside */
	struct objan o;
	int pers_state;              /* 0 not looked up, 1 done */
	struct range pers;           /* the executable's pm_persistent, or 0 */
} G PM_STATE;

void pm__globals_startup(void)
{
	int expect = 0;
	if (!__atomic_compare_exchange_n(&G.state, &expect, 1, 0,
					 __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
		while (__atomic_load_n(&G.state, __ATOMIC_ACQUIRE) != 2)
			__builtin_ia32_pause();
		return;
	}
	if (pm__elf_find_exe(&G.o) < 0) {
		pm__warn("cannot find the executable's program headers; its "
			 "data/bss will not be checkpointed");
		G.broken = 1;
	} else {
		G.is_static = !pm__elf_segments(&G.o);
		if (pm__elf_tables(&G.o) < 0) {
			pm__warn("cannot map memory for the globals tables; "
				 "the executable's data/bss will not be "
				 "checkpointed");
			G.broken = 1;
		}
	}
	__atomic_store_n(&G.state, 2, __ATOMIC_RELEASE);
}

void pm__globals_ensure(void)
{
	if (__atomic_load_n(&G.state, __ATOMIC_ACQUIRE) != 2)
		pm__globals_startup();
}

const struct objan *pm__exe_objan(int *broken)
{
	pm__globals_ensure();
	*broken = G.broken;
	return &G.o;
}

/* ---- the executable's pm_persistent section ----------------------------
 * When libpmalloc.a is linked into the executable, the hidden bounds are
 * the executable's own.  In libpmalloc.so they are the library's (empty),
 * and the executable's section has no symbol we could find at run time,
 * so read its section headers from the file (after checking that the file
 * is the one mapped: same program headers as in memory). */


static int persistent_from_file(struct range *out)
{
	static const char want[] = "pm_persistent";
	char path[PATH_MAX];
	int fd = pm__exe_file(path, sizeof path), rc = -1;
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
	if (USE_LINKER_BOUNDS && lo && hi > lo && pm__elf_in_dspan(&G.o, lo, hi - lo))
		r = (struct range){lo, hi};
	else if (persistent_from_file(&r) < 0 || !pm__elf_in_dspan(&G.o, r.lo, r.hi - r.lo))
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

/* The executable's spans: DATA with the persistent section cut out and
 * listed by itself; for a static executable only the persistent section
 * (libc's own state lives in its data).  -1 when out is full. */
static int exe_spans(struct pm_gspan *out, int max, int *n)
{
	if (G.broken)
		return 0;
	if (G.is_static)
		return emit(out, max, n, G.pers.lo, G.pers.hi,
			    PM_GSPAN_PERSISTENT);
	for (int i = 0; i < G.o.ndspan; i++) {
		uintptr_t lo = G.o.dspan[i].lo, hi = G.o.dspan[i].hi;
		uintptr_t pl = G.pers.lo, ph = G.pers.hi;
		if (ph > lo && pl < hi) {
			if (emit(out, max, n, lo, pl, PM_GSPAN_DATA) ||
			    emit(out, max, n, pl, ph, PM_GSPAN_PERSISTENT) ||
			    emit(out, max, n, ph, hi, PM_GSPAN_DATA))
				return -1;
		} else if (emit(out, max, n, lo, hi, PM_GSPAN_DATA)) {
			return -1;
		}
	}
	return 0;
}

/* The registered ranges r (nr of them, sorted and merged here) minus the
 * first nbase spans of out, appended to out.  -1 when out is full. */
static int registered_spans(struct range *r, int nr, struct pm_gspan *out,
			    int max, int *n, int nbase)
{
	int i, j = 0;
	pm__sort_pairs(r, (size_t)nr);
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
			    emit(out, max, n, cur, out[j].lo,
				 PM_GSPAN_REGISTERED))
				return -1;
			cur = out[j].hi;
		}
		if (cur < r[i].hi &&
		    emit(out, max, n, cur, r[i].hi, PM_GSPAN_REGISTERED))
			return -1;
	}
	return 0;
}

int pm__globals_spans(struct pm_gspan *out, int max)
{
	struct range r[NREG];
	int n = 0, nr, i, j;

	pm__globals_ensure();
	pm__register_libraries();
	/* outside our lock: the lookup may take the loader's lock, and a
	 * library constructor calling pm_register runs under it */
	if (!__atomic_load_n(&G.pers_state, __ATOMIC_ACQUIRE) && !G.broken)
		find_persistent();
	nr = pm__reg_copy(r);
	if (exe_spans(out, max, &n))
		goto full;
	int nbase = n;
	if (registered_spans(r, nr, out, max, &n, nbase))
		goto full;

	/* a registered range that is no longer memory (its library
	 * dlclose'd, its pages unmapped) is not persisted: nothing could be
	 * read from it.  One made read-only still is: a restore refuses to
	 * write it back (ckpt_restore.c) rather than lose it unsaid. */
	if (n > nbase) { /* one read of the maps for all of them */
		struct pm_maps maps;
		pm__maps_read(&maps);
		for (i = j = nbase; i < n; i++)
			if (pm__maps_covers(&maps, out[i].lo, out[i].hi, 0))
				out[j++] = out[i];
		n = j;
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
	return pm__lib_objan_at(a);
}

int pm__globals_keep_mask(uintptr_t lo, uintptr_t hi, uint8_t *bits,
			  int (*transient)(uintptr_t v))
{
	static const struct objan none; /* no tables */
	uintptr_t sl = (uintptr_t)__start_pm_state;
	uintptr_t sh = (uintptr_t)__stop_pm_state;
	size_t ki, li, nw = (hi - lo) / 8;
	int kept = 0;

	pm__globals_ensure();
	/* a span lies inside one object or outside all (see pm_register) */
	const struct objan *o = objan_at(lo);
	if (!o)
		o = &none;
	memset(bits, 0, (nw + 7) / 8);
	ki = pm__elf_keep_index(o, lo);
	li = pm__elf_lw_index(o, lo);
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
		else if (transient && transient(v))
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

	pm__globals_ensure();
	const struct objan *o = objan_at(lo);
	if (!o)
		o = &none;
	size_t ki = pm__elf_keep_index(o, lo);
	for (size_t w = 0; w < nw; w++) {
		uintptr_t a = lo + w * 8;
		while (ki < o->nkeep && o->keep[ki].hi <= a)
			ki++;
		if ((ki < o->nkeep && o->keep[ki].lo <= a) ||
		    (a + 8 > sl && a < sh))
			bits[w / 8] |= (uint8_t)(1u << (w % 8));
	}
}

int pm__globals_keep_word(uintptr_t addr, int (*transient)(uintptr_t v))
{
	uint8_t b;
	return pm__globals_keep_mask(addr, addr + 8, &b, transient);
}
