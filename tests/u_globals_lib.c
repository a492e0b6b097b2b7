/*
 * u_globals_lib.c - the executable of tests/globals_lib.sh: src/globals.c
 * is compiled in and pm_register exported, so the library's constructor
 * (PM_REGISTER_LIBRARY_PERSISTENT) registers its section with us; the
 * section must come back as a REGISTERED span, the executable's own as a
 * PERSISTENT one, and neither twice.
 */
#include "../src/internal.h"
#include "testlib.h"

__attribute__((weak)) struct pm_region *pm__region;
long *lib_counter_addr(void);
static int exe_pv PM_PERSISTENT = 5;

int main(void)
{
	struct pm_gspan s[PM_GSPAN_MAX];
	pm__globals_startup();
	int n = pm__globals_spans(s, PM_GSPAN_MAX);
	uintptr_t lib = (uintptr_t)lib_counter_addr();
	int reg = 0, pers = 0, magic = 0;
	CHECK(*lib_counter_addr() == 11 && exe_pv == 5);
	for (int i = 0; i < n; i++) {
		fprintf(stderr, "span %#lx-%#lx kind %u\n",
			(unsigned long)s[i].lo, (unsigned long)s[i].hi,
			s[i].kind);
		if (s[i].kind == PM_GSPAN_REGISTERED && lib >= s[i].lo &&
		    lib < s[i].hi) {
			reg++;
			for (uintptr_t a = s[i].lo; a < s[i].hi; a += 8)
				magic += *(uint64_t *)a == 0x1badcafe5eed0001ULL;
		}
		if (s[i].kind == PM_GSPAN_PERSISTENT &&
		    (uintptr_t)&exe_pv >= s[i].lo && (uintptr_t)&exe_pv < s[i].hi)
			pers++;
	}
	CHECK_EQ(reg, 1);
	CHECK_EQ(magic, 1);
	CHECK_EQ(pers, 1);
	return test_end();
}
