// w_cxx_map - C++ container churn: std::map<std::string, std::string>.
//
// Keys and values are heap strings (longer than the small-string buffer),
// so every insert allocates a tree node plus two strings, and every erase
// frees them: the mixed new/delete pattern of ordinary C++ code.  The map
// holds about KEYS entries; OPS times a random key is inserted or erased.
//
// usage: w_cxx_map [keys=50000] [ops=300000]
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

extern "C" {
#include "bench.h"
}

static std::string make_key(unsigned long k)
{
	char buf[64];
	std::snprintf(buf, sizeof buf, "key-%020lu-padding", k);
	return std::string(buf);
}

int main(int argc, char **argv)
{
	long keys = bench_arg(argc, argv, 1, 50000);
	long ops = bench_arg(argc, argv, 2, 300000);
	struct bench_rng rng;
	unsigned long sum = 0;

	if (keys < 1 || ops < 0)
		return 2;
	bench_rng_seed(&rng, 11);

	double t0 = bench_now();
	{
		std::map<std::string, std::string> m;
		for (long i = 0; i < ops; i++) {
			unsigned long k = bench_rng_range(&rng, 0, 2 * keys - 1);
			std::string key = make_key(k);
			auto it = m.find(key);
			if (it != m.end()) {
				sum += it->second.size();
				m.erase(it);
			} else {
				size_t n = bench_rng_range(&rng, 20, 200);
				m.emplace(std::move(key), std::string(n, 'v'));
			}
		}
		sum += m.size();
	}
	double t1 = bench_now();

	bench_sink(reinterpret_cast<void *>(sum));
	bench_report("cxx_map", t1 - t0, ops, NULL);
	return 0;
}
