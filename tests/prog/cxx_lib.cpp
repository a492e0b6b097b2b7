// cxx_lib.cpp - a C++ shared library whose state is built by its own
// static initialisers (before main()): a std::map and a std::string made
// with `new`.  Used by tests/ckpt_cxx_lib.sh with cxx_libmain.cpp.
#include <map>
#include <string>

static std::map<std::string, long> *registry; // made before main()
static std::string banner("made by the library's constructor, long enough "
			  "not to fit in the small-string buffer");

__attribute__((constructor)) static void lib_init()
{
	registry = new std::map<std::string, long>;
	for (long i = 0; i < 200; i++)
		(*registry)["early-" + std::to_string(i)] = i;
}

extern "C" void lib_add(const char *key, long v) { (*registry)[key] = v; }

extern "C" long lib_get(const char *key)
{
	auto it = registry->find(key);
	return it == registry->end() ? -1 : it->second;
}

extern "C" long lib_size() { return (long)registry->size(); }
extern "C" const char *lib_banner() { return banner.c_str(); }
extern "C" void *lib_registry() { return registry; }
