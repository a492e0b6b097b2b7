/*
 * luaclose.so - an LD_PRELOAD shim for tests/image_latex_exit.sh: it
 * stands in for Lua's lua_close (LuaTeX calls it from do_final_end) and
 * writes one line "luaclose: called" to fd 2 before passing the call on.
 * Preloaded in the saving compile and in the resumed one alike (the
 * image names the loaded objects; a resume with one more is refused).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <unistd.h>

void lua_close(void *L);

void lua_close(void *L)
{
	static const char line[] = "luaclose: called\n";
	void (*real)(void *) = (void (*)(void *))dlsym(RTLD_NEXT, "lua_close");
	ssize_t n = write(2, line, sizeof line - 1);
	(void)n;
	if (real)
		real(L);
}
