/*
 * globals.h - shared by the files that decide which global memory a
 * checkpoint persists (the "globals" family):
 *
 *   elfan.c     analysis of one loaded ELF object: its data spans
 *               (writable PT_LOAD minus RELRO) and its relocation tables
 *               (which words the loader wrote, and with what)
 *   spans.c     the executable's analysis (built once at start-up), its
 *               pm_persistent section, the span list and the keep words
 *   register.c  pm_register(), pm_register_object(), third-party
 *               libraries registered by default, their analyses
 *   objects.c   identity of the loaded objects (path, size, mtime,
 *               build-id) and the executable's file
 *
 * Calls go one way: register.c and spans.c use elfan.c; spans.c asks
 * register.c for the registered ranges and the libraries' analyses;
 * register.c asks spans.c for the executable's analysis.  None of them
 * calls the allocator: the one heap question (does a word point into a
 * live transient block?) is answered by a function the caller passes.
 */
#ifndef PM_GLOBALS_H
#define PM_GLOBALS_H

#include "internal.h"
#include <link.h>
#include <unistd.h>

#define MAX_DSPAN 16 /* data spans of one object (writable minus RELRO) */

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

/* 0 when n bytes at off were read, else -1 (ELF headers: short is bad). */
static inline int pread_all(int fd, void *buf, size_t n, off_t off)
{
	return pread(fd, buf, n, off) == (ssize_t)n ? 0 : -1;
}

static inline uintptr_t align_up(uintptr_t v, uintptr_t a)
{
	return (v + a - 1) & ~(a - 1);
}
static inline uintptr_t align_down(uintptr_t v, uintptr_t a)
{
	return v & ~(a - 1);
}

/* ---- elfan.c ------------------------------------------------------------- */
/* The executable's load bias and program headers from the auxiliary
 * vector (usable before libc is up): 0, or -1. */
int pm__elf_find_exe(struct objan *o);
/* Data spans and extent of o (bias, phdr, phnum set); 1 if it has a
 * PT_INTERP (a dynamically linked executable). */
int pm__elf_segments(struct objan *o);
/* Does [a, a+n) meet one of o's data spans? */
int pm__elf_in_dspan(const struct objan *o, uintptr_t a, uintptr_t n);
/* Build o's keep ranges and loader words in one private mapping: 0, or
 * -1 when no memory could be mapped (o's spans must then not be saved). */
int pm__elf_tables(struct objan *o);
/* Sort n records of two words by their first (heapsort: qsort may
 * allocate). */
void pm__sort_pairs(struct range *a, size_t n);
/* First keep range of o ending above a / first loader word at or above a. */
size_t pm__elf_keep_index(const struct objan *o, uintptr_t a);
size_t pm__elf_lw_index(const struct objan *o, uintptr_t a);

/* ---- spans.c ------------------------------------------------------------- */
/* Make sure the executable's analysis exists (pm__globals_startup). */
void pm__globals_ensure(void);
/* The executable's analysis; *broken is set when its program headers or
 * tables could not be had (nothing of it may then be saved). */
const struct objan *pm__exe_objan(int *broken);

/* ---- register.c ---------------------------------------------------------- */
#define NREG 256 /* pm_register table */
/* Copy the registered ranges (at most NREG) to out; returns the count. */
int pm__reg_copy(struct range *out);
/* Register every third-party library's data (unless PMALLOC_PERSIST_LIBS
 * is 0). */
void pm__register_libraries(void);
/* The analysis of the registered library that maps a, or NULL. */
const struct objan *pm__lib_objan_at(uintptr_t a);

/* ---- objects.c ----------------------------------------------------------- */
/* Open the file whose program headers are the executable's, its path in
 * buf: a descriptor, or -1. */
int pm__exe_file(char *buf, size_t n);

#endif /* PM_GLOBALS_H */
