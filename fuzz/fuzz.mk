# fuzz/fuzz.mk - the checkpoint and process-image parsers under libFuzzer,
# and their replay test.
#   make fuzz [FUZZ_TIME=seconds]   fuzz build/fuzz_parse (clang, libFuzzer,
#                                   ASan+UBSan); new inputs go to
#                                   fuzz/findings/ (ignored by git); move a
#                                   crasher to fuzz/crashes/ to keep it as a
#                                   regression case
#   make fuzz-corpus                regenerate the gen-* seeds in fuzz/corpus/
#   make fuzz-image-corpus          regenerate the image-* seeds (below)
# `make check` runs build/tests/fuzz_replay: generated files swept by
# truncation and byte flips, then every file of fuzz/corpus and
# fuzz/crashes through the fuzz target (under ASan+UBSan when $(CC) has
# them); and, when clang links libFuzzer (Debian: libclang-rt-14-dev),
# tests/fuzz_bounded.sh: build/fuzz_parse for 20 seconds from the corpus.
FUZZ_CC ?= clang
FUZZ_TIME ?= 120
FUZZ_SRCS := fuzz/fuzz_parse.c src/ckpt_parse.c src/crc32c.c src/util.c \
	src/image_parse.c src/image_kstate_check.c
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

# make fuzz-image-corpus: the process images of fuzz/corpus, written by
# fuzz/image_seed.c under `pmalloc run`: image-whole.img (every record
# kind, 19 runs of pages) and image-records.img (the same without its
# PAGES sections: small, so that the replay test checks every byte)
$(B)/fuzz_image_seed: fuzz/image_seed.c include/pmalloc.h $(B)/libpmalloc.so
	$(CC) $(BASE_CFLAGS) -Iinclude -o $@ $< -L$(B) -lpmalloc -Wl,-rpath,'$$ORIGIN'
fuzz-image-corpus: $(B)/fuzz_image_seed $(B)/pmalloc $(B)/tests/fuzz_replay
	d=$$(mktemp -d) && $(B)/pmalloc run -- $(B)/fuzz_image_seed $$d/s.img $$d && \
	cp $$d/s.img fuzz/corpus/image-whole.img && \
	$(B)/tests/fuzz_replay --strip-pages $$d/s.img fuzz/corpus/image-records.img; \
	rc=$$?; rm -rf $$d; exit $$rc
.PHONY: fuzz-image-corpus
