/* uaf_ring.c - tests/attack_uaf_ring.sh: a use-after-free write into a
 * freed large chunk's size-ring links (mem+16 fd_size, mem+24 bk_size;
 * src/chunk.h) with its fd and bk left intact.  The next malloc that takes
 * the chunk unlinks it from the ring (large_remove, src/heap_bins.c) and
 * writes bk_size to fd_size's bk_size field: here, `target`.
 * Exit 0 if target is untouched (the corruption was caught: then the
 * process aborts before that), 1 if malloc wrote it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static uintptr_t target = 0x1111; /* what the forged links aim at */
static uintptr_t scratch[8];      /* a writable place for the other half */

int main(void)
{
	char *a = malloc(40000);  /* past the thread caches: a large bin */
	char *guard = malloc(64); /* a does not merge with top */
	volatile uintptr_t freed = (uintptr_t)a; /* (hidden from -Wuse-after-free) */
	free(a);                  /* the only chunk of its bin: a leader */
	uintptr_t *m = (uintptr_t *)freed; /* use after free: */
	m[2] = (uintptr_t)&target - 40;        /* fd_size->bk_size is target */
	m[3] = (uintptr_t)&scratch[4] - 32;    /* bk_size->fd_size: scratch */
	char *b = malloc(40000);
	printf("malloc gave %p (freed %p); target %#lx\n", (void *)b,
	       (void *)freed, (unsigned long)target);
	free(guard);
	return target == 0x1111 ? 0 : 1;
}
