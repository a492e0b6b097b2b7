# examples/examples.mk - example programs (included by the top Makefile).
#   make examples   build/examples/wordindex, ...
#   make demo       run examples/demo.sh: the word index built, then restored
# The examples use plain malloc and link with -lpmalloc; the rpath finds the
# library in build/ wherever the tree is.
EXAMPLE_SRCS := $(wildcard examples/*.c)
EXAMPLE_BINS := $(patsubst examples/%.c,$(B)/examples/%,$(EXAMPLE_SRCS))

$(B)/examples:
	mkdir -p $@
$(B)/examples/%: examples/%.c include/pmalloc.h $(B)/libpmalloc.so | $(B)/examples
	$(CC) $(BASE_CFLAGS) -Iinclude -o $@ $< -L$(B) -lpmalloc -Wl,-rpath,'$$ORIGIN/..'

.PHONY: examples demo demo-latex
examples: $(EXAMPLE_BINS)
demo: all examples
	@PMALLOC_DEMO_BUILT=1 sh examples/demo.sh

# tests/example.sh runs the example in `make check`
CHECK_EXTRA += $(EXAMPLE_BINS)

# make demo-latex: the LuaLaTeX showcase (examples/latex/run.sh): a real
# preamble imaged at \begin{document}, the edited body resumed from it.
demo-latex: all
	@sh examples/latex/run.sh $(B)
