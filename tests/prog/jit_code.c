/*
 * jit_code.c - code made at run time (what a JIT does) survives a restore.
 * Used by tests/ckpt_code.sh, each mode in a fresh process under
 * `pmalloc run`:
 *
 *   setup F          two anonymous mappings of generated x86-64 code, one
 *                    left read-write-execute, one made read-execute; the
 *                    function pointers in globals and in a heap block
 *                    (a named root); checkpoint to F; prints the address
 *   verify F         pm_restore(F) first; the functions return what they
 *                    did, the protections are as recorded, new code can
 *                    be written into the writable one; checkpoint F.next
 *   conflict F ADDR  something else mapped at ADDR first: pm_restore(F)
 *                    must refuse (PM_ELAYOUT, naming the code section)
 *                    and the process goes on with its own state
 */
#include <pmalloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

typedef int (*fn_t)(void);

static unsigned char *rwx, *rx; /* the two mappings */
static fn_t f_rwx, f_rx;        /* functions in them */
static long generation;

struct jit_state {
	fn_t fns[8];
	int want[8];
	int n;
};

/* "mov eax, imm32; ret" at p */
static fn_t emit(unsigned char *p, int value)
{
	p[0] = 0xb8;
	memcpy(p + 1, &value, 4);
	p[5] = 0xc3;
	__builtin___clear_cache((char *)p, (char *)p + 6);
	return (fn_t)(uintptr_t)p;
}

static void die(const char *what)
{
	fprintf(stderr, "jit_code: %s\n", what);
	exit(1);
}

/* the protection of the mapping holding p, from /proc/self/maps */
static void perms_of(const void *p, char out[5])
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	strcpy(out, "none");
	while (f && fgets(line, sizeof line, f)) {
		unsigned long lo, hi;
		char perms[5];
		if (sscanf(line, "%lx-%lx %4s", &lo, &hi, perms) == 3 &&
		    (uintptr_t)p >= lo && (uintptr_t)p < hi) {
			memcpy(out, perms, 5);
			break;
		}
	}
	if (f)
		fclose(f);
}

static void check(void)
{
	char p[5];
	if (!rwx || !rx || f_rwx() != 0x1234 || f_rx() != 0x5678)
		die("functions in globals");
	struct jit_state *st = pm_root_get("jit");
	if (!st || st->n < 2)
		die("root");
	for (int i = 0; i < st->n; i++)
		if (st->fns[i]() != st->want[i])
			die("functions in the heap");
	/* the protection comes back as it was: a JIT writes into its rwx
	 * pages (and this one, after each restore, as a W^X JIT would too) */
	perms_of(rwx, p);
	if (strcmp(p, "rwxp"))
		die("writable code mapping's protection");
	perms_of(rx, p);
	if (strcmp(p, "r-xp"))
		die("read-execute mapping's protection");
}

static void checkpoint(const char *f)
{
	int rc = pm_checkpoint(f);
	if (rc) {
		fprintf(stderr, "jit_code: pm_checkpoint: %d %s\n", rc,
			pm_errmsg());
		exit(1);
	}
}

int main(int argc, char **argv)
{
	char next[4096];
	if (argc == 3 && !strcmp(argv[1], "setup")) {
		rwx = mmap(NULL, 8192, PROT_READ | PROT_WRITE | PROT_EXEC,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		rx = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (rwx == MAP_FAILED || rx == MAP_FAILED)
			die("mmap");
		f_rwx = emit(rwx, 0x1234);
		f_rx = emit(rx, 0x5678);
		if (mprotect(rx, 4096, PROT_READ | PROT_EXEC))
			die("mprotect");
		struct jit_state *st = calloc(1, sizeof *st);
		st->fns[0] = emit(rwx + 4096, 77);
		st->want[0] = 77;
		st->fns[1] = f_rx;
		st->want[1] = 0x5678;
		st->n = 2;
		pm_root_set("jit", st);
		check();
		checkpoint(argv[2]);
		printf("%p\n", (void *)rwx);
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "verify")) {
		int rc = pm_restore(argv[2]);
		if (rc) {
			fprintf(stderr, "jit_code: pm_restore: %d %s\n", rc,
				pm_errmsg());
			return 1;
		}
		check();
		struct jit_state *st = pm_root_get("jit");
		if (st->n < 8) { /* as a W^X JIT adds code */
			int v = 1000 + (int)generation;
			if (mprotect(rwx, 8192, PROT_READ | PROT_WRITE))
				die("mprotect rw");
			st->fns[st->n] = emit(rwx + 64 + 16 * (size_t)st->n, v);
			st->want[st->n++] = v;
			if (mprotect(rwx, 8192,
				     PROT_READ | PROT_WRITE | PROT_EXEC))
				die("mprotect rwx");
		}
		generation++;
		check();
		snprintf(next, sizeof next, "%s.next", argv[2]);
		checkpoint(next);
		printf("verify: %d functions, generation %ld\n", st->n,
		       generation);
		return 0;
	}
	if (argc == 4 && !strcmp(argv[1], "conflict")) {
		void *at = (void *)(uintptr_t)strtoull(argv[3], NULL, 16);
		void *p = mmap(at, 4096, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS |
				       MAP_FIXED_NOREPLACE,
			       -1, 0);
		if (p != at)
			die("cannot map the conflicting page");
		strcpy(p, "mine");
		int rc = pm_restore(argv[2]);
		if (rc != PM_ELAYOUT || !strstr(pm_errmsg(), "code"))
			die("restore over a taken range was not refused");
		if (rwx || pm_root_get("jit") || strcmp(p, "mine"))
			die("the refused restore changed something");
		char *s = strdup("still working");
		if (!s || strcmp(s, "still working"))
			die("malloc after the refusal");
		free(s);
		printf("refused: %s\n", pm_errmsg());
		return 0;
	}
	fprintf(stderr, "usage: jit_code setup F | verify F | conflict F ADDR\n");
	return 2;
}
