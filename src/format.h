/*
 * format.h - the checkpoint file, byte by byte (mirrored by docs/FORMAT.md).
 *
 * All integers are little-endian, every structure has a fixed size and
 * explicit padding, so the file is the same whatever compiler wrote it.
 *
 *   0          +---------------------------+
 *              | header (256 bytes)        |  magic, version, heap facts,
 *              |                           |  offsets, counts, crcs
 *   256        +---------------------------+
 *              | metadata: pmf_meta        |  who/when/where
 *              |   + nobjects * pmf_object |  executable first
 *   table_off  +---------------------------+  (8-aligned)
 *              | section table             |  nsections * pmf_section
 *              +---------------------------+
 *              | globals data + keep bitmap|  for each globals section
 *   heap_off   +---------------------------+  (page-aligned)
 *              | heap sections             |  each page-aligned, page-sized,
 *              |                           |  in address order
 *   file_size  +---------------------------+
 *
 * Heap sections are page-aligned both in memory and in the file so that a
 * restore can map them MAP_PRIVATE|MAP_FIXED at their addresses.
 *
 * Invariants a valid file keeps (ckpt_parse.c checks every one):
 *   - the header crc covers bytes [0, 252); meta_crc the metadata; table_crc
 *     the table; each section its data (and its keep bitmap);
 *   - section data lie in [table end, file_size), do not overlap, and heap
 *     sections lie inside [base, top_end) in increasing address order, the
 *     first one starting at base (it holds struct pm_region);
 *   - strings are NUL-terminated inside their fields;
 *   - flags is 0 or PMF_FLAG_MAC; without the flag the mac bytes are zero.
 */
#ifndef PM_FORMAT_H
#define PM_FORMAT_H

#include <stdint.h>

#define PMF_MAGIC "\x89PMCKPT\n" /* 8 bytes; \x89 catches 7-bit transfers */
#define PMF_MAGIC_LEN 8
#define PMF_VERSION 1       /* checkpoints (kind 0) */
#define PMF_VERSION_IMAGE 2 /* process images (kind 1): a reader that
			     * predates images says "unsupported version" */
#define PMF_HEADER_SIZE 256
#define PMF_HEADER_CRC_OFF 252

/* Header flags. */
#define PMF_FLAG_MAC 1u /* mac holds a keyed MAC of the whole file */
/* The MAC (docs/FORMAT.md "Authentication"):
 *   HMAC-SHA-256(key, bytes [0, table_end) with [152, 184) and [252, 256)
 *                read as zeros, then SHA-256 of bytes [table_end, file_size))
 * where table_end = table_off + 64 * nsections.  The header crc is
 * computed last, over the header with the MAC in place. */
#define PMF_MAC_OFF 152
#define PMF_MAC_LEN 32

/* Limits that bound what a reader must hold in memory. */
#define PMF_MAX_OBJECTS 4096
/* Every limit a reader accepts is one a writer can reach and a restore can
 * honour: at most this many heap sections (each becomes a mapping, and the
 * kernel's default limit is 65530) and this many of the others (the
 * writer's table of globals and code spans). */
#define PMF_MAX_HEAP_SECTIONS 16384u
#define PMF_MAX_OTHER_SECTIONS 300u
#define PMF_MAX_SECTIONS (PMF_MAX_HEAP_SECTIONS + PMF_MAX_OTHER_SECTIONS)
/* No code section starts below this (NULL plus an offset must fault). */
#define PMF_MIN_CODE_ADDR 65536u
#define PMF_MIN_PAGE 4096u
#define PMF_MAX_PAGE 65536u

struct pmf_header {
	char magic[8];          /*   0 PMF_MAGIC */
	uint32_t version;       /*   8 PMF_VERSION */
	uint32_t header_size;   /*  12 PMF_HEADER_SIZE */
	uint32_t flags;         /*  16 PMF_FLAG_* */
	uint32_t page_size;     /*  20 page size of the writer */
	uint64_t base;          /*  24 heap region base */
	uint64_t size;          /*  32 heap region size (reserved bytes) */
	uint64_t tbase;         /*  40 start of the transient arena */
	uint64_t top_end;       /*  48 end of the persistent arena's used extent */
	uint64_t file_size;     /*  56 total bytes of the file */
	uint64_t time_ns;       /*  64 CLOCK_REALTIME at the checkpoint, ns */
	uint64_t meta_off;      /*  72 = 256 */
	uint64_t meta_size;     /*  80 sizeof(pmf_meta) + nobjects*sizeof(obj) */
	uint64_t table_off;     /*  88 8-aligned end of metadata */
	uint32_t nsections;     /*  96 entries in the table */
	uint32_t nobjects;      /* 100 loaded objects, >= 1 */
	uint32_t meta_crc;      /* 104 crc32c of the metadata */
	uint32_t table_crc;     /* 108 crc32c of the section table */
	uint64_t heap_bytes;    /* 112 sum of heap section lengths */
	uint64_t globals_bytes; /* 120 sum of globals section lengths */
	uint64_t live_bytes;    /* 128 bytes in live blocks at the checkpoint */
	uint64_t checkpoints;   /* 136 sequence number of this checkpoint */
	uint64_t heap_off;      /* 144 file offset of the first heap section */
	uint8_t mac[32];        /* 152 HMAC-SHA-256 if PMF_FLAG_MAC, else 0 */
	uint32_t kind;          /* 184 PMF_KIND_*; 0 in version 1 */
	uint8_t reserved[64];   /* 188 zero */
	uint32_t header_crc;    /* 252 crc32c of bytes [0, 252) */
};

/* What the file holds (header field kind). */
#define PMF_KIND_CHECKPOINT 0u /* heap + globals (version 1) */
#define PMF_KIND_IMAGE 1u      /* the whole process (version 2) */

struct pmf_meta {
	char creator[32];       /*   0 "pmalloc 1.0.0" */
	char host[64];          /*  32 nodename */
	uint32_t pid;           /*  96 */
	uint32_t uid;           /* 100 */
	uint32_t nthreads;      /* 104 threads at the checkpoint */
	uint32_t reserved;      /* 108 */
	uint64_t reserved2[2];  /* 112 */
};                              /* 128 */

struct pmf_object {
	uint64_t load;          /*   0 load address (l_addr / first PT_LOAD) */
	uint64_t size;          /*   8 file size */
	uint64_t mtime;         /*  16 file mtime, seconds */
	uint32_t build_id_len;  /*  24 0..32 */
	uint32_t flags;         /*  28 reserved, 0 */
	uint8_t build_id[32];   /*  32 GNU build-id, zero padded */
	char path[256];         /*  64 NUL-terminated ("" for the vdso) */
};                              /* 320 */

enum pmf_kind {
	PMF_SEC_HEAP = 1,       /* bytes of the persistent arena */
	PMF_SEC_DATA = 2,       /* executable's .data/.bss (with keep bitmap) */
	PMF_SEC_PERSISTENT = 3, /* PM_PERSISTENT globals (with keep bitmap) */
	PMF_SEC_REGISTERED = 4, /* pm_register()ed range (with keep bitmap) */
	PMF_SEC_CODE = 5,       /* anonymous executable mapping (JIT code):
				 * page-aligned, flags = its protection,
				 * keep bitmap present and all zero */
	/* Process images (kind 1) only.  Records (6, 7, 9-14) are 8-aligned
	 * in [table_end, heap_off) with no keep bitmap; PAGES sections
	 * follow from heap_off, page-aligned, in increasing address order. */
	PMF_SEC_VMAS = 6,       /* struct pmf_vma[]: every mapping at the save */
	PMF_SEC_STRINGS = 7,    /* NUL-terminated strings (names, argv) */
	PMF_SEC_PAGES = 8,      /* bytes of a copied mapping, addr = where */
	PMF_SEC_STACK = 9,      /* bytes [rsp, stack top), addr = rsp */
	PMF_SEC_CPU = 10,       /* struct pm__ctx (image_ctx.h) */
	PMF_SEC_SIGNALS = 11,   /* image_format.h */
	PMF_SEC_PROC = 12,      /* struct pmf_proc */
	PMF_SEC_FDS = 13,       /* image_format.h */
	PMF_SEC_FILEDATA = 14,  /* image_format.h */
};
#define PMF_SEC_MAX_KIND 14u

/* One mapping of /proc/self/maps at the save (PMF_SEC_VMAS, in address
 * order, not overlapping). */
struct pmf_vma {
	uint64_t start, end;    /*   0 page-aligned, start < end */
	uint64_t offset;        /*  16 file offset (file-backed), else 0 */
	uint64_t dev;           /*  24 device of the file (major << 32 | minor) */
	uint64_t inode;         /*  32 inode of the file, 0 if anonymous */
	uint32_t prot;          /*  40 PMF_PROT_* */
	uint32_t vclass;        /*  44 PMF_VMA_* */
	uint32_t name;          /*  48 offset in STRINGS, PMF_NO_NAME if none */
	uint32_t flags;         /*  52 PMF_VMAF_* */
	uint64_t reserved;      /*  56 zero */
};                              /*  64 */
#define PMF_NO_NAME 0xffffffffu
/* Classes: what a resume does with the mapping. */
#define PMF_VMA_NAMED 1u   /* a private file mapping never written: no
			    * bytes; the resuming process must have it */
#define PMF_VMA_COPIED 2u  /* its present pages are PAGES sections; the
			    * rest read as zero (anonymous) */
#define PMF_VMA_STACK 3u   /* [stack]: bytes in STACK */
#define PMF_VMA_KERNEL 4u  /* [vdso], [vvar], [vsyscall]: checked */
/* Flags. */
#define PMF_VMAF_FILE 1u   /* backed by a file (private) */
#define PMF_VMAF_HEAP 2u   /* [heap] (the brk area) */
#define PMF_VMAF_SHARED 4u /* a shared mapping: in a file only named and
			    * read-only (a resume maps the file shared) */

/* Facts of the process a resume must agree with (PMF_SEC_PROC). */
struct pmf_proc {
	uint64_t stack_top;     /*   0 end of [stack] */
	uint64_t brk_start;     /*   8 start of the brk area (0: unknown) */
	uint64_t brk_end;       /*  16 the break at the save */
	uint64_t vdso;          /*  24 address of [vdso] (0: none) */
	uint64_t vdso_len;      /*  32 its bytes */
	uint8_t vdso_sha[32];   /*  40 SHA-256 of them */
	uint64_t at_phdr;       /*  72 auxv values */
	uint64_t at_base;       /*  80 */
	uint64_t at_entry;      /*  88 */
	uint64_t hwcap;         /*  96 */
	uint64_t hwcap2;        /* 104 */
	uint64_t fsbase;        /* 112 thread pointer */
	uint64_t rlim_stack;    /* 120 RLIMIT_STACK soft limit */
	uint32_t cpuid[8];      /* 128 CPUID leaf 1 (eax..edx), 7.0 (eax..edx) */
	uint32_t tid_off;       /* 160 offset of the cached tid from fsbase,
				 *     0 if not found */
	uint32_t argc;          /* 164 */
	uint32_t argv;          /* 168 offset in STRINGS of argv[0]; argc
				 *     consecutive NUL-terminated strings */
	uint32_t argv_len;      /* 172 bytes of them */
	uint32_t exe;           /* 176 offset in STRINGS: /proc/self/exe */
	uint32_t personality;   /* 180 */
	uint64_t saved_errno;   /* 184 */
	uint64_t reserved[6];   /* 192 zero */
};                              /* 240 */

/* Section flags of a code section (the mapping's protection). */
#define PMF_PROT_READ 1u
#define PMF_PROT_WRITE 2u
#define PMF_PROT_EXEC 4u

struct pmf_section {
	uint32_t kind;          /*   0 enum pmf_kind */
	uint32_t flags;         /*   4 code: PMF_PROT_*; others 0 */
	uint64_t addr;          /*   8 address in the writing process */
	uint64_t len;           /*  16 bytes */
	uint64_t data_off;      /*  24 file offset of the bytes */
	uint64_t keep_off;      /*  32 globals: file offset of the keep bitmap
				  *     (one bit per 8-byte word, LSB first;
				  *     1 = restore keeps the live value), 0 heap */
	uint32_t data_crc;      /*  40 crc32c of the data */
	uint32_t keep_crc;      /*  44 crc32c of the keep bitmap (0 for heap) */
	uint64_t reserved[2];   /*  48 zero */
};                              /*  64 */

/* Keep bitmap bytes of a globals section of len bytes, padded to 8. */
static inline uint64_t pmf_keep_bytes(uint64_t len)
{
	return ((len / 8 + 63) / 64) * 8;
}

_Static_assert(sizeof(struct pmf_header) == PMF_HEADER_SIZE, "header");
_Static_assert(__builtin_offsetof(struct pmf_header, mac) == PMF_MAC_OFF,
	       "mac");
_Static_assert(sizeof(struct pmf_meta) == 128, "meta");
_Static_assert(sizeof(struct pmf_object) == 320, "object");
_Static_assert(sizeof(struct pmf_section) == 64, "section");
_Static_assert(sizeof(struct pmf_vma) == 64, "vma");
_Static_assert(sizeof(struct pmf_proc) == 240, "proc");
_Static_assert(__builtin_offsetof(struct pmf_header, kind) == 184, "kind");
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	       "the format is little-endian; add byte swapping first");

#endif /* PM_FORMAT_H */
