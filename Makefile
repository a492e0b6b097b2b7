# pmalloc - build, test, install.
#   make            libpmalloc.so / libpmalloc.a / the pmalloc CLI in build/
#   make check      every test (one process each); ends "N passed, M failed"
#   make bench      the benchmark suite; writes docs/PERFORMANCE.md
#   make fuzz       run the checkpoint-parser fuzzer for a while
#   make install PREFIX=/usr/local DESTDIR=
#   make deb        Debian packages (libpmalloc1, libpmalloc-dev, pmalloc) in ..
CC      ?= cc
ifeq ($(origin CC),default)
CC      := gcc
endif
CXX     ?= g++
B       := build
PREFIX  ?= /usr/local
LIBDIR  ?= $(PREFIX)/lib
SOVER   := 1
VERSION := 1.0.0
# gdb auto-loads <dir>/<the library's path>-gdb.py from its data directory
# (/usr/share/gdb/auto-load for Debian's gdb)
GDB_AUTOLOAD ?= $(PREFIX)/share/gdb/auto-load
MAN3    := $(wildcard docs/man3/*.3)

WARN    := -Wall -Wextra
# the library and the CLI: every cross-file name in a header, no shadowing;
# WERROR=1 (CI) makes any warning an error
LIB_WARN := -Wmissing-prototypes -Wshadow $(if $(WERROR),-Werror)
# -gdwarf-4: valgrind 3.19 (Debian 12) cannot read clang 14's DWARF 5
# (and stops); gdb reads either
BASE_CFLAGS := -std=c11 -D_GNU_SOURCE -g -gdwarf-4 -O2 $(WARN)
LIB_CFLAGS  := $(BASE_CFLAGS) $(LIB_WARN) -fPIC -fvisibility=hidden -ftls-model=initial-exec \
	-fno-semantic-interposition -fno-builtin-malloc -fno-builtin-free \
	-fno-builtin-calloc -fno-builtin-realloc -fno-stack-protector $(EXTRA_CFLAGS)
# Intel's JCC erratum (its microcode fix since Skylake): a jump that
# crosses or ends on a 32-byte boundary runs from the legacy decoders.
# malloc's and free's fast paths moved onto such boundaries as the code
# around them changed: w_bulk 0.120 s -> 0.149 s with fewer instructions
# (docs/PERFORMANCE.md).  The assembler pads the jumps off them.
ifneq ($(filter x86_64%,$(shell $(CC) -dumpmachine)),)
ifneq ($(findstring clang,$(shell $(CC) --version)),)
LIB_CFLAGS += -mbranches-within-32B-boundaries
else
LIB_CFLAGS += -Wa,-mbranches-within-32B-boundaries
endif
endif
# each function its own section, which src/startup.ld orders; not in
# image_kstate_apply.o, whose code must call its own functions without
# relocations (tests/image_kstate_pure.sh)
FUNC_SECTIONS = -ffunction-sections
$(B)/obj/image_kstate_apply.o: FUNC_SECTIONS =
# Valgrind's client requests (src/vg.h): compiled in when the compiler
# finds <valgrind/memcheck.h> (Debian: the valgrind package; a build-time
# dependency only, the library needs nothing but libc at run time);
# without the header, or with `make PM_VALGRIND=0`, they compile to nothing
ifdef PM_VALGRIND
LIB_CFLAGS += -DPM_VALGRIND=$(PM_VALGRIND)
endif
LIB_SRCS := $(wildcard src/*.c)
LIB_OBJS := $(patsubst src/%.c,$(B)/obj/%.o,$(LIB_SRCS))
LIB_HDRS := $(wildcard src/*.h) include/pmalloc.h

.PHONY: all check clean install deb bench fuzz san valgrind-check
all: $(B)/libpmalloc.so $(B)/libpmalloc.a $(B)/pmalloc $(B)/libmalloc.so

$(B)/obj/%.o: src/%.c $(LIB_HDRS) | $(B)/obj
	$(CC) $(LIB_CFLAGS) $(FUNC_SECTIONS) -c $< -o $@

$(B)/obj $(B)/tests $(B)/san:
	mkdir -p $@

# src/startup.ld: start-up's code and data grouped on few pages
$(B)/libpmalloc.so.$(VERSION): $(LIB_OBJS) src/exports.map src/startup.ld
	$(CC) -shared -Wl,-soname,libpmalloc.so.$(SOVER) -Wl,-z,now -Wl,-z,relro \
		-Wl,--no-undefined -Wl,--version-script=src/exports.map \
		-Wl,-T,src/startup.ld -o $@ $(LIB_OBJS)
$(B)/libpmalloc.so.$(SOVER): $(B)/libpmalloc.so.$(VERSION)
	ln -sf libpmalloc.so.$(VERSION) $@
$(B)/libpmalloc.so: $(B)/libpmalloc.so.$(SOVER)
	ln -sf libpmalloc.so.$(SOVER) $@
$(B)/libmalloc.so: $(B)/libpmalloc.so.$(VERSION)
	ln -sf libpmalloc.so.$(VERSION) $@
$(B)/libpmalloc.a: $(LIB_OBJS)
	rm -f $@; ar rcs $@ $(LIB_OBJS)

# The CLI reads checkpoint files only: the parser, the file verification
# and the MAC, with what they need (no allocator, no interposition: it runs
# on the C library's malloc, and PMALLOC_RESTORE cannot restore it).
CLI_OBJS := $(patsubst %,$(B)/obj/%.o,ckpt_parse ckpt_verify ckpt_stage check_region \
	ckpt_mac sha256 crc32c util os image_parse image_kstate_check) $(B)/obj/cli_check.o
# the heap checker's image walks only (not the live heap: no allocator)
$(B)/obj/cli_check.o: src/check.c $(LIB_HDRS) | $(B)/obj
	$(CC) $(LIB_CFLAGS) -DPM_CKPT_PARSE_ONLY -c $< -o $@
$(B)/pmalloc: tools/pmalloc.c tools/cli_image.c tools/cli.h $(CLI_OBJS) $(LIB_HDRS)
	$(CC) $(BASE_CFLAGS) $(LIB_WARN) -pthread -o $@ tools/pmalloc.c tools/cli_image.c $(CLI_OBJS)

# ---- tests ------------------------------------------------------------------
# tests/t_*.c   C tests linked with -lpmalloc (they interpose malloc too)
# tests/*.sh    script tests; they get PMALLOC_BUILD (the build dir) and PMALLOC_TOP
#               and start with `. tests/lib.sh` (the shared helpers)
# tests/run.sh runs them all and groups the report (unit, API, checkpoint,
# real programs, build and install: its group_of table)
TEST_CFLAGS := $(BASE_CFLAGS) -fno-builtin -pthread -Iinclude
TEST_SRCS := $(wildcard tests/t_*.c)
TEST_BINS := $(patsubst tests/%.c,$(B)/tests/%,$(TEST_SRCS))
TEST_SCRIPTS := $(filter-out tests/run.sh tests/lib.sh,$(wildcard tests/*.sh))

$(B)/tests/%: tests/%.c tests/testlib.h tests/ring.h $(B)/libpmalloc.so | $(B)/tests
	$(CC) $(TEST_CFLAGS) -o $@ $< -L$(B) -lpmalloc -Wl,-rpath,'$$ORIGIN/..'

# The core under ASan+UBSan through the prefixed API (no interposition: ASan
# brings its own malloc; ASan also refuses 0xe0000000, so another base).
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=undefined
SAN_SRCS := $(filter-out src/interpose.c,$(LIB_SRCS))
SAN_TESTS := $(wildcard tests/san_*.c)
$(B)/san/%: tests/%.c $(SAN_SRCS) $(LIB_HDRS) tests/testlib.h | $(B)/san
	$(CC) $(BASE_CFLAGS) -O1 $(SAN_FLAGS) -pthread -Iinclude -DPM_NO_INTERPOSE \
		-DEHEAP_START_ADDRESS=0x200000000000UL -o $@ $< $(SAN_SRCS)
SAN_BINS := $(patsubst tests/%.c,$(B)/san/%,$(SAN_TESTS))

-include tests/extra.mk
-include fuzz/fuzz.mk
-include bench/bench.mk
-include examples/examples.mk

check: all $(TEST_BINS) $(SAN_BINS) $(CHECK_EXTRA)
	@PMALLOC_BUILD=$(abspath $(B)) PMALLOC_TOP=$(CURDIR) CC="$(CC)" \
		sh tests/run.sh $(TEST_BINS) $(SAN_BINS) $(EXTRA_TESTS) $(TEST_SCRIPTS)

install: all
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PREFIX)/include \
		$(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(LIBDIR)/pkgconfig \
		$(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man3 \
		$(DESTDIR)$(GDB_AUTOLOAD)$(LIBDIR)
	install -m 755 $(B)/libpmalloc.so.$(VERSION) $(DESTDIR)$(LIBDIR)/
	ln -sf libpmalloc.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libpmalloc.so.$(SOVER)
	ln -sf libpmalloc.so.$(SOVER) $(DESTDIR)$(LIBDIR)/libpmalloc.so
	install -m 644 $(B)/libpmalloc.a $(DESTDIR)$(LIBDIR)/
	install -m 644 include/pmalloc.h $(DESTDIR)$(PREFIX)/include/
	install -m 755 $(B)/pmalloc $(DESTDIR)$(PREFIX)/bin/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
		-e 's|@VERSION@|$(VERSION)|' pmalloc.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/pmalloc.pc
	install -m 644 docs/pmalloc.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 644 $(MAN3) $(DESTDIR)$(PREFIX)/share/man/man3/
	install -m 644 tools/gdb/pmalloc-gdb.py \
		$(DESTDIR)$(GDB_AUTOLOAD)$(LIBDIR)/libpmalloc.so.$(VERSION)-gdb.py

# Debian packages from debian/ (binary only, unsigned), written to ..;
# dpkg-buildpackage starts with `make clean` (debian/rules)
deb:
	dpkg-buildpackage -us -uc -b

clean:
	rm -rf $(B)
