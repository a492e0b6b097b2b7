/*
 * route_ctor_lib.c - a library whose constructor mallocs ROUTE_CTOR_N
 * times (default 300): with it, malloc's slow path has run more than 256
 * times before the executable's constructors (gdb's libraries do about
 * 850), and the direct route must still be set up from main() on
 * (tests/route_direct.sh).
 */
#include <stdlib.h>

__attribute__((constructor)) static void many_mallocs(void)
{
	const char *s = getenv("ROUTE_CTOR_N");
	int n = s ? atoi(s) : 300;
	for (int i = 0; i < n; i++) {
		char *volatile p = malloc(24 + i % 100); /* kept: not elided */
		if (p)
			p[0] = 1;
		free(p);
	}
}
