/* reg_unmapped_lib.c - a dlopen'ed library with a pm_persistent global,
 * registered by the documented macro (tests/attack_unmapped.sh). */
#include <pmalloc.h>

PM_REGISTER_LIBRARY_PERSISTENT();
static int lib_state PM_PERSISTENT = 5;
int lib_bump(void);
int lib_bump(void) { return ++lib_state; }
