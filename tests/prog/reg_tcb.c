/* reg_tcb.c - tests/attack_reg_tcb.sh: pm_register() of the main thread's
 * TCB (libc's: its stack-protector canary at %fs:0x28, pointer guard at
 * %fs:0x30).
 *
 *   reg_tcb setup F    register the TCB's first 64 bytes; checkpoint to F
 *   reg_tcb check F    register them; atexit(bye); pm_restore(F); the two
 *                      guards must be this process's; exit (runs bye)
 * Prints "pm_register: RC" first.  Exit 0 when the register was refused,
 * or when the restore left the guards alone and the exit handler ran.
 */
#define _GNU_SOURCE
#include <pmalloc.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void bye(void) { printf("exit handler ran\n"); }

int main(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	uintptr_t *tcb = (uintptr_t *)__builtin_thread_pointer();
	int rc = pm_register(tcb, 8 * 8);
	printf("pm_register(TCB %p): %d %s\n", (void *)tcb, rc,
	       rc ? pm_errmsg() : "");
	if (rc)
		return 0; /* refused: libc's memory */
	if (!strcmp(argv[1], "setup"))
		return pm_checkpoint(argv[2]) ? 1 : 0;
	uintptr_t canary = tcb[5], guard = tcb[6];
	atexit(bye);
	rc = pm_restore(argv[2]);
	printf("restore: %d %s\n", rc, rc ? pm_errmsg() : "");
	if (tcb[5] != canary || tcb[6] != guard) {
		printf("FAIL: the restore replaced libc's guards: canary "
		       "%#lx -> %#lx, pointer guard %#lx -> %#lx\n",
		       (unsigned long)canary, (unsigned long)tcb[5],
		       (unsigned long)guard, (unsigned long)tcb[6]);
		fflush(stdout);
		tcb[5] = canary, tcb[6] = guard; /* so that exit survives */
		_Exit(1);
	}
	return 0;
}
