# bench/bench.mk - the benchmark suite (included by the top Makefile).
#   make bench                      build, run, write docs/PERFORMANCE.md + perf.png
#   make bench BENCH_ROUNDS=3       fewer rounds (default 5)
#   make bench BENCH_ONLY=larson4,aligned BENCH_ALLOCATORS=glibc,pmalloc
#   make bench-bins                 only build the workload programs
# Raw results go to bench/results/ (not tracked).
BENCH_CFLAGS   := -std=c11 -D_GNU_SOURCE -g -O2 -fno-builtin -pthread $(WARN)
BENCH_CXXFLAGS := -std=c++17 -g -O2 -fno-builtin -pthread $(WARN)
BENCH_C_SRCS   := $(wildcard bench/w_*.c bench/cg_*.c)
BENCH_CXX_SRCS := $(wildcard bench/w_*.cpp)
BENCH_BINS := $(patsubst bench/%.c,$(B)/bench/%,$(BENCH_C_SRCS)) \
	$(patsubst bench/%.cpp,$(B)/bench/%,$(BENCH_CXX_SRCS))
BENCH_PYTHON ?= python3
BENCH_ROUNDS ?= 5

$(B)/bench:
	mkdir -p $@
# Checkpoint programs (bench/ckpt_*.c) use the pm_ API, so they link with
# the library and are built only once it exists.
BENCH_CKPT_BINS := $(patsubst bench/%.c,$(B)/bench/%,$(wildcard bench/ckpt_*.c))
$(B)/bench/ckpt_%: bench/ckpt_%.c bench/bench.h bench/ckpt_common.h include/pmalloc.h $(B)/libpmalloc.so | $(B)/bench
	$(CC) $(BENCH_CFLAGS) -Iinclude -o $@ $< -L$(B) -lpmalloc -Wl,-rpath,'$$ORIGIN/..'
$(B)/bench/%: bench/%.c bench/bench.h | $(B)/bench
	$(CC) $(BENCH_CFLAGS) -o $@ $<
$(B)/bench/%: bench/%.cpp bench/bench.h | $(B)/bench
	$(CXX) $(BENCH_CXXFLAGS) -o $@ $<

.PHONY: bench-bins bench-ckpt-bins
bench-bins: $(BENCH_BINS)
bench-ckpt-bins: $(BENCH_CKPT_BINS)

# The library is built first, but a failed build does not stop the suite:
# the runner then says pmalloc is missing and benchmarks the others.
bench: $(BENCH_BINS)
	@$(MAKE) --no-print-directory all bench-ckpt-bins || \
		echo "bench: building libpmalloc failed; benchmarking the other allocators"
	$(BENCH_PYTHON) bench/run.py --build $(B) --rounds $(BENCH_ROUNDS) \
		--only "$(BENCH_ONLY)" --allocators "$(BENCH_ALLOCATORS)" \
		--out docs/PERFORMANCE.md --chart docs/perf.png
