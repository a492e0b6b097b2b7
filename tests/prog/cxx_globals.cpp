// cxx_globals - C++ globals built before main() (static initialisers),
// changed in main, checkpointed; a fresh process restores them.  Also a
// C global buffer calloc'd in a constructor, and an integer global whose
// value happens to look like an address in the transient arena.
//   cxx_globals make FILE | cxx_globals check FILE
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>
#include "pmalloc.h"

static std::map<std::string, int> M = {{"one", 1}, {"two", 2}};
static std::vector<int> V = {1, 2, 3};
static std::string S = "a string made before main(), longer than 15 bytes";
static char *ctor_buf;
static unsigned long long looks_like_ptr = 7600000000ULL; // 0x1c4f4a500

__attribute__((constructor)) static void make_buf()
{
	ctor_buf = static_cast<char *>(calloc(1, 64));
}

static long sum()
{
	long s = 0;
	for (auto &kv : M)
		s += kv.second;
	return s;
}

int main(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	if (!strcmp(argv[1], "make")) {
		for (int i = 0; i < 1000; i++)
			M["k" + std::to_string(i)] = i;
		V[0] = 99;
		V.push_back(4);
		S += " and changed in main";
		strcpy(ctor_buf, "written in main");
		looks_like_ptr += 1;
		if (pm_checkpoint(argv[2])) {
			fprintf(stderr, "checkpoint: %s\n", pm_errmsg());
			return 1;
		}
		printf("%zu %ld %d %zu %s %s %llu\n", M.size(), sum(), V[0],
		       V.size(), S.c_str(), ctor_buf, looks_like_ptr);
		return 0;
	}
	int rc = pm_restore(argv[2]);
	if (rc) {
		fprintf(stderr, "restore: %s\n", pm_errmsg());
		return 1;
	}
	size_t n = 0;
	for (auto it = M.begin(); it != M.end(); ++it)
		n++;
	if (n != M.size() || M.count("k500") != 1) {
		fprintf(stderr, "map broken: size %zu, iterated %zu\n", M.size(), n);
		return 1;
	}
	M["after"] = 7; // the restored tree keeps working
	M.erase("k1");
	printf("%zu %ld %d %zu %s %s %llu\n", M.size() - 0, sum() - 7 + 1,
	       V[0], V.size(), S.c_str(), ctor_buf, looks_like_ptr);
	return 0;
}
