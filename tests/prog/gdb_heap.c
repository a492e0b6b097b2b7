/* gdb_heap.c - a heap for tests/gdb.sh to look at: live, freed and free
 * blocks and two roots; stops in gdb_stop_here(). */
#include <pmalloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *live_block;   /* malloc(100): chunk 112, in use */
char *cached_block; /* malloc(40), freed: in the thread cache */
char *free_block;   /* malloc(60000), freed, a neighbour kept: in a bin
		    * (below 64 KiB: its chunk is the exact size, see
		    * heap.c grid_size) */
char *guard_block;
static char not_heap[16];
char *not_heap_addr = not_heap;

__attribute__((noinline)) void gdb_stop_here(void)
{
	__asm__ volatile("" ::: "memory");
}

int main(void)
{
	live_block = malloc(100);
	cached_block = malloc(40);
	free_block = malloc(60000);
	guard_block = malloc(64);
	if (!live_block || !cached_block || !free_block || !guard_block)
		return 1;
	strcpy(live_block, "live");
	free(cached_block);
	free(free_block);
	if (pm_root_set("config", live_block) || pm_root_set("guard", guard_block))
		return 2;
	printf("live %p cached %p free %p\n", (void *)live_block,
	       (void *)cached_block, (void *)free_block);
	fflush(stdout);
	gdb_stop_here();
	return 0;
}
