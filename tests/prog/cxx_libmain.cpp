// cxx_libmain.cpp - state of a C++ library made before main() survives a
// checkpoint and restore (tests/ckpt_cxx_lib.sh); and operator new, which
// pmalloc defines, still throws std::bad_alloc and runs the new_handler.
//   setup F    add 1000 keys to the library's map; checkpoint to F
//   verify F   (restored at start-up) every key, early and added, is
//              there; add more; checkpoint to F.next
//   oom        new of an impossible size: new_handler, then bad_alloc
#include <pmalloc.h>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

extern "C" void lib_add(const char *key, long v);
extern "C" long lib_get(const char *key);
extern "C" long lib_size();
extern "C" const char *lib_banner();
extern "C" void *lib_registry();

static long generation = -1;
static int handler_calls;

static void handler()
{
	handler_calls++;
	std::set_new_handler(nullptr); // next failure throws
}

static int check(long gen)
{
	for (long i = 0; i < 200; i++)
		if (lib_get(("early-" + std::to_string(i)).c_str()) != i)
			return std::printf("early key %ld lost\n", i), 1;
	for (long g = 0; g <= gen; g++)
		for (long i = 0; i < 1000; i++) {
			std::string k = "g" + std::to_string(g) + "-" +
					std::to_string(i);
			if (lib_get(k.c_str()) != g * 1000 + i)
				return std::printf("key %s lost\n", k.c_str()), 1;
		}
	if (lib_size() != 200 + 1000 * (gen + 1))
		return std::printf("size %ld\n", lib_size()), 1;
	if (std::strncmp(lib_banner(), "made by the library", 19))
		return std::printf("banner lost\n"), 1;
	return 0;
}

static void add(long g)
{
	for (long i = 0; i < 1000; i++)
		lib_add(("g" + std::to_string(g) + "-" + std::to_string(i)).c_str(),
			g * 1000 + i);
	generation = g;
}

int main(int argc, char **argv)
{
	if (argc == 2 && !std::strcmp(argv[1], "oom")) {
		std::set_new_handler(handler);
		try {
			char *volatile p = new char[(size_t)1 << 45];
			std::printf("new of 32 TiB returned %p\n", (void *)p);
			return 1;
		} catch (const std::bad_alloc &) {
		}
		if (handler_calls != 1)
			return std::printf("new_handler ran %d times\n",
					   handler_calls), 1;
		char *volatile q = new (std::nothrow) char[(size_t)1 << 45];
		if (q)
			return 1;
		std::printf("oom: new_handler, bad_alloc, nothrow NULL\n");
		return 0;
	}
	if (argc != 3)
		return 2;
	if (!std::strcmp(argv[1], "setup")) {
		if ((uintptr_t)lib_registry() - 0xe0000000u >= 0xe0000000u)
			return std::printf("the library's map %p is not in the "
					   "persistent heap\n",
					   lib_registry()), 1;
		add(0);
		if (check(0) || pm_checkpoint(argv[2]))
			return std::printf("setup: %s\n", pm_errmsg()), 1;
		std::printf("setup: %ld keys\n", lib_size());
		return 0;
	}
	if (!std::strcmp(argv[1], "verify")) {
		if (!pm_restored())
			return std::printf("not restored\n"), 1;
		long g = generation;
		if (check(g))
			return 1;
		add(g + 1);
		std::string next = std::string(argv[2]) + ".next";
		if (check(g + 1) || pm_checkpoint(next.c_str()))
			return std::printf("verify: %s\n", pm_errmsg()), 1;
		std::printf("verify: %ld keys\n", lib_size());
		return 0;
	}
	return 2;
}
