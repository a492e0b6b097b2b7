/*
 * interp_lua FILE - an embedded Lua interpreter whose loaded image (a big
 * table and functions) is restored from FILE when there is one, else built
 * and checkpointed; each run bumps a counter and checkpoints again.
 * All of Lua's state is in its lua_State, on the heap.
 */
#include <stdio.h>
#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>
#include "pmalloc.h"

static lua_State *L;

int main(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	if (pm_restore(argv[1]) != 0) {
		L = luaL_newstate();
		luaL_openlibs(L);
		if (luaL_dostring(L, "T = {} for i = 1, 200000 do "
				     "T[i] = tostring(i) .. 'x' end "
				     "function f(n) local s = 0 for i = 1, n "
				     "do s = s + #T[i] end return s end "
				     "counter = 0"))
			return 1;
	}
	if (luaL_dostring(L, "counter = counter + 1 print(f(200000), counter, "
			     "string.format('%5.2f', math.pi), #T)")) {
		fprintf(stderr, "lua: %s\n", lua_tostring(L, -1));
		return 1;
	}
	fflush(stdout);
	if (pm_checkpoint(argv[1])) {
		fprintf(stderr, "checkpoint: %s\n", pm_errmsg());
		return 1;
	}
	return 0;
}
