# fuzz/fuzz.mk - the checkpoint parser under libFuzzer, and its replay test.
#   make fuzz [FUZZ_TIME=seconds]   fuzz build/fuzz_parse (clang, libFuzzer,
#                                   ASan+UBSan); new inputs go to
#                                   fuzz/findings/ (ignored by git); move a
#                                   crasher to fuzz/crashes/ to keep it as a
#                                   regression case
#   make fuzz-corpus                regenerate the seeds in fuzz/corpus/
# `make check` runs build/tests/fuzz_replay: generated files swept by
# truncation and byte flips, then every file of fuzz/corpus and
# fuzz/crashes through the fuzz target (under ASan+UBSan when $(CC) has
# them); and, when clang links libFuzzer (Debian: libclang-rt-14-dev),
# tests/fuzz_bounded.sh: build/fuzz_parse for 20 seconds from the corpus.
FUZZ_CC ?= clang
FUZZ_TIME ?= 120
FUZZ_SRCS := fuzz/fuzz_parse.c src/ckpt_parse.c src/crc32c.c src/util.c
FUZZ_DEPS := $(FUZZ_SRCS) $(LIB_HDRS) fuzz/fuzz.mk
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -g -Wall -Wextra -DPM_CKPT_PARSE_ONLY

# sanitizers for the replay test, if this compiler links them
REPLAY_SAN := $(shell echo 'int main(void){return 0;}' | \
	$(CC) -fsanitize=address,undefined -x c - -o /dev/null 2>/dev/null && \
	echo -fsanitize=address,undefined -fno-sanitize-recover=undefined)

# does $(FUZZ_CC) link libFuzzer with the sanitizers?
HAVE_LIBFUZZER := $(shell echo 'int LLVMFuzzerTestOneInput(const char *d, \
	unsigned long n) { return d && n; }' | $(FUZZ_CC) \
	-fsanitize=fuzzer,address,undefined -x c - -o /dev/null 2>/dev/null && \
	echo y)

$(B)/fuzz_parse: $(FUZZ_DEPS) | $(B)/obj
	$(FUZZ_CC) $(FUZZ_CFLAGS) -O1 -fsanitize=fuzzer,address,undefined \
		-o $@ $(FUZZ_SRCS)

$(B)/tests/fuzz_replay: $(FUZZ_DEPS) | $(B)/tests
	$(CC) $(FUZZ_CFLAGS) -O1 $(REPLAY_SAN) -DPM_FUZZ_REPLAY \
		-DPM_TOP='"$(CURDIR)"' -o $@ $(FUZZ_SRCS)

fuzz: $(B)/fuzz_parse
	mkdir -p fuzz/findings/corpus
	$(B)/fuzz_parse -max_total_time=$(FUZZ_TIME) \
		-artifact_prefix=fuzz/findings/ fuzz/findings/corpus fuzz/corpus

fuzz-corpus: $(B)/tests/fuzz_replay
	mkdir -p fuzz/corpus
	$(B)/tests/fuzz_replay --write-corpus fuzz/corpus

.PHONY: fuzz-corpus
EXTRA_TESTS += $(B)/tests/fuzz_replay
CHECK_EXTRA += $(B)/tests/fuzz_replay $(if $(HAVE_LIBFUZZER),$(B)/fuzz_parse)
