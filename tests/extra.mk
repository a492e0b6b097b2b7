# tests/extra.mk - unit tests that compile library sources straight into the
# test program (the internal pm__ functions are hidden in libpmalloc.so).
#
# u_globals: the globals family (src/globals.h) analyses the test program itself, so it is built
# several ways: PIE, non-PIE, RELR-packed relocations, full RELRO (-z now),
# with the pm_persistent section found from the file's section headers
# (the path libpmalloc.so takes) instead of the linker's bounds, and as a
# static PIE (libc inside: only the PERSISTENT span may be saved).
# tests/globals_clang.sh builds the same with clang (and lld) when present.
U_GLOBALS_SRCS := src/elfan.c src/spans.c src/register.c src/objects.c src/util.c src/os.c
U_GLOBALS_DEPS := tests/u_globals.c tests/testlib.h $(U_GLOBALS_SRCS) $(LIB_HDRS)
U_GLOBALS_CC = $(CC) $(BASE_CFLAGS) -Iinclude -o $@ tests/u_globals.c $(U_GLOBALS_SRCS)

$(B)/tests/u_globals: $(U_GLOBALS_DEPS) | $(B)/tests
	$(U_GLOBALS_CC)
$(B)/tests/u_globals_nopie: $(U_GLOBALS_DEPS) | $(B)/tests
	$(U_GLOBALS_CC) -fno-pie -no-pie
$(B)/tests/u_globals_relr: $(U_GLOBALS_DEPS) | $(B)/tests
	$(U_GLOBALS_CC) -Wl,-z,pack-relative-relocs
$(B)/tests/u_globals_now: $(U_GLOBALS_DEPS) | $(B)/tests
	$(U_GLOBALS_CC) -Wl,-z,now -Wl,-z,relro
$(B)/tests/u_globals_file: $(U_GLOBALS_DEPS) | $(B)/tests
	$(U_GLOBALS_CC) -DPM_GLOBALS_TEST_FILE_LOOKUP
$(B)/tests/u_globals_static: $(U_GLOBALS_DEPS) | $(B)/tests
	$(U_GLOBALS_CC) -static-pie

U_GLOBALS_BINS := $(addprefix $(B)/tests/,u_globals u_globals_nopie \
	u_globals_relr u_globals_now u_globals_file u_globals_static)
EXTRA_TESTS += $(U_GLOBALS_BINS)
CHECK_EXTRA += $(U_GLOBALS_BINS)

# lib_*: programs whose state lives inside real third-party libraries
# (tests/lib_state.sh).  Each is built only when pkg-config knows the
# library (Debian: libsqlite3-dev, libglib2.0-dev, libxml2-dev); the script
# skips what is missing.
LIB_STATE_PKG_sqlite := sqlite3
LIB_STATE_PKG_glib := glib-2.0
LIB_STATE_PKG_gobject := gobject-2.0
LIB_STATE_PKG_xml := libxml-2.0
LIB_STATE_HAVE := $(foreach l,sqlite glib gobject xml,$(if $(shell pkg-config \
	--exists $(LIB_STATE_PKG_$(l)) 2>/dev/null && echo y),$(l)))
LIB_STATE_BINS := $(patsubst %,$(B)/tests/lib_%,$(LIB_STATE_HAVE))

$(B)/tests/lib_%: tests/lib_%.c tests/lib_common.h include/pmalloc.h $(B)/libpmalloc.so | $(B)/tests
	$(CC) $(TEST_CFLAGS) $(shell pkg-config --cflags $(LIB_STATE_PKG_$*)) \
		-o $@ $< -L$(B) -lpmalloc -Wl,-rpath,'$$ORIGIN/..' \
		$(shell pkg-config --libs $(LIB_STATE_PKG_$*))
CHECK_EXTRA += $(LIB_STATE_BINS)

# u_fmt: the library's formatter against snprintf
$(B)/tests/u_fmt: tests/u_fmt.c tests/testlib.h src/util.c src/os.c $(LIB_HDRS) | $(B)/tests
	$(CC) $(BASE_CFLAGS) -Iinclude -o $@ tests/u_fmt.c src/util.c
EXTRA_TESTS += $(B)/tests/u_fmt
CHECK_EXTRA += $(B)/tests/u_fmt

# Checkpoint writer tests (tests/ckpt_iofault.sh and the other ckpt_*.sh of
# the write side): an LD_PRELOAD shim that fails one libc call of a
# checkpoint, and a program that checkpoints a 1.5 MiB heap.
$(B)/tests/iofault.so: tests/prog/iofault.c | $(B)/tests
	$(CC) $(BASE_CFLAGS) -shared -fPIC -o $@ $< -ldl
$(B)/tests/ckpt_fault: tests/prog/ckpt_fault.c include/pmalloc.h $(B)/libpmalloc.so | $(B)/tests
	$(CC) $(TEST_CFLAGS) -o $@ $< -L$(B) -lpmalloc -Wl,-rpath,'$$ORIGIN/..'
CHECK_EXTRA += $(B)/tests/iofault.so $(B)/tests/ckpt_fault

# The reader's mapped checksum pass (tests/ckpt_mapread.sh): a shim in
# place of madvise(MADV_POPULATE_READ), and a program with one big block.
$(B)/tests/mapfault.so: tests/prog/mapfault.c | $(B)/tests
	$(CC) $(BASE_CFLAGS) -shared -fPIC -o $@ $<
$(B)/tests/mapread: tests/prog/mapread.c include/pmalloc.h $(B)/libpmalloc.so | $(B)/tests
	$(CC) $(TEST_CFLAGS) -o $@ $< -L$(B) -lpmalloc -Wl,-rpath,'$$ORIGIN/..'
CHECK_EXTRA += $(B)/tests/mapfault.so $(B)/tests/mapread

# How a resumed LuaLaTeX compile ends (tests/image_latex_exit.sh): a shim
# that reports calls of Lua's lua_close.
$(B)/tests/luaclose.so: tests/prog/luaclose.c | $(B)/tests
	$(CC) $(BASE_CFLAGS) -shared -fPIC -o $@ $< -ldl
CHECK_EXTRA += $(B)/tests/luaclose.so

# u_sha256: SHA-256 and HMAC-SHA-256 against the FIPS 180 and RFC 4231
# vectors, portable and SHA-extension paths.
$(B)/tests/u_sha256: tests/u_sha256.c tests/testlib.h src/sha256.c src/sha256.h | $(B)/tests
	$(CC) $(BASE_CFLAGS) -Iinclude -o $@ tests/u_sha256.c src/sha256.c
EXTRA_TESTS += $(B)/tests/u_sha256
CHECK_EXTRA += $(B)/tests/u_sha256

# Process images (docs/IMAGE.md).  u_image_ctx: pm__ctx_save/resume in one
# process (registers, xmm/ymm, MXCSR, FS base, signal mask) and the checks
# that refuse a context.  image_stack (tests/image_ctx.sh): a second run
# puts the first run's stack back from a file on a private stack and
# resumes.  Both without stack protector: the canary in this run's TLS
# differs from the saving run's, and only the whole image brings the TLS
# block back.
IMAGE_SRCS := src/image_ctx.c src/image_restore.c
IMAGE_HDRS := src/image_ctx.h src/image_restore.h
$(B)/tests/u_image_ctx: tests/u_image_ctx.c tests/testlib.h $(IMAGE_SRCS) $(IMAGE_HDRS) | $(B)/tests
	$(CC) $(BASE_CFLAGS) -fno-stack-protector -Isrc -o $@ tests/u_image_ctx.c $(IMAGE_SRCS)
$(B)/tests/image_stack: tests/prog/image_stack.c $(IMAGE_SRCS) $(IMAGE_HDRS) | $(B)/tests
	$(CC) $(BASE_CFLAGS) -fno-stack-protector -Isrc -o $@ tests/prog/image_stack.c $(IMAGE_SRCS)
EXTRA_TESTS += $(B)/tests/u_image_ctx
CHECK_EXTRA += $(B)/tests/u_image_ctx $(B)/tests/image_stack

# ---- the debug build: PM_DEBUG=2 --------------------------------------------
# The whole library with asserts on and a full heap walk at every quiesce
# (src/internal.h "Assert levels") as build/dbg/libpmalloc.so, and the
# allocator's tests linked against it as build/dbg/dbg_t_* (rpath $ORIGIN,
# so they load the debug library; t_ckpt_state checkpoints, i.e.
# quiesces, many times).
DBG_OBJS := $(patsubst src/%.c,$(B)/dbg/obj/%.o,$(LIB_SRCS))
DBG_TESTS := t_api t_heap_random t_threads t_exhaust t_misuse t_regress \
	t_fork t_ckpt_state
DBG_BINS := $(patsubst %,$(B)/dbg/dbg_%,$(DBG_TESTS))
$(B)/dbg/obj:
	mkdir -p $@
$(B)/dbg/obj/%.o: src/%.c $(LIB_HDRS) | $(B)/dbg/obj
	$(CC) $(LIB_CFLAGS) -DPM_DEBUG=2 -c $< -o $@
$(B)/dbg/libpmalloc.so.$(SOVER): $(DBG_OBJS) src/exports.map
	$(CC) -shared -Wl,-soname,libpmalloc.so.$(SOVER) -Wl,-z,now -Wl,-z,relro \
		-Wl,--no-undefined -Wl,--version-script=src/exports.map -o $@ $(DBG_OBJS)
$(B)/dbg/libpmalloc.so: $(B)/dbg/libpmalloc.so.$(SOVER)
	ln -sf libpmalloc.so.$(SOVER) $@
$(B)/dbg/dbg_%: tests/%.c tests/testlib.h tests/ring.h $(B)/dbg/libpmalloc.so
	$(CC) $(TEST_CFLAGS) -o $@ $< -L$(B)/dbg -lpmalloc -Wl,-rpath,'$$ORIGIN'
.PHONY: debug
debug: $(DBG_BINS)
EXTRA_TESTS += $(DBG_BINS)
CHECK_EXTRA += $(DBG_BINS)

# ---- unit tests of the allocator's layers ------------------------------------
# u_arena: one arena (src/heap*.c) over memory the test reserves, checked
# with the image walker (src/check.c, parse-only) after every step; built
# with PM_DEBUG=2 so that the arena's own asserts run too.
# u_tcache: the thread caches through their internal interface (pop, push,
# refill, overflow, drain, stop), the core built without interposition.
# u_layout: docs/FORMAT.md's table of the region header against offsetof.
U_ARENA_SRCS := src/heap.c src/heap_bins.c src/heap_free.c src/heap_walk.c \
	src/check.c src/check_region.c src/util.c src/os.c
$(B)/tests/u_arena: tests/u_arena.c tests/testlib.h $(U_ARENA_SRCS) $(LIB_HDRS) | $(B)/tests
	$(CC) $(BASE_CFLAGS) -DPM_DEBUG=2 -DPM_CKPT_PARSE_ONLY -Iinclude -Isrc \
		-o $@ tests/u_arena.c $(U_ARENA_SRCS)
U_TCACHE_SRCS := $(filter-out src/interpose.c,$(LIB_SRCS))
$(B)/tests/u_tcache: tests/u_tcache.c tests/testlib.h $(U_TCACHE_SRCS) $(LIB_HDRS) | $(B)/tests
	$(CC) $(BASE_CFLAGS) -DPM_DEBUG=2 -DPM_NO_INTERPOSE -pthread -Iinclude -Isrc \
		-DEHEAP_START_ADDRESS=0x300000000000UL -o $@ tests/u_tcache.c $(U_TCACHE_SRCS)
EXTRA_TESTS += $(B)/tests/u_arena $(B)/tests/u_tcache
CHECK_EXTRA += $(B)/tests/u_arena $(B)/tests/u_tcache

# u_image_kstate: the kernel state of process images (src/image_kstate*.c):
# capture, then prepare and apply in a forked child; every refusal.  Also
# built with ASan+UBSan (the records are untrusted input).
U_KSTATE_SRCS := src/image_kstate.c src/image_kstate_inherit.c src/image_kstate_check.c \
	src/image_kstate_prep.c src/image_kstate_apply.c \
	src/sha256.c src/util.c src/os.c
U_KSTATE_DEPS := tests/u_image_kstate.c tests/testlib.h $(U_KSTATE_SRCS) $(LIB_HDRS)
$(B)/tests/u_image_kstate: $(U_KSTATE_DEPS) | $(B)/tests
	$(CC) $(BASE_CFLAGS) -fno-stack-protector -Iinclude -Isrc -o $@ \
		tests/u_image_kstate.c $(U_KSTATE_SRCS)
$(B)/tests/u_image_kstate_san: $(U_KSTATE_DEPS) | $(B)/tests
	$(CC) $(BASE_CFLAGS) -O1 $(SAN_FLAGS) -Iinclude -Isrc -o $@ \
		tests/u_image_kstate.c $(U_KSTATE_SRCS)
EXTRA_TESTS += $(B)/tests/u_image_kstate $(B)/tests/u_image_kstate_san
CHECK_EXTRA += $(B)/tests/u_image_kstate $(B)/tests/u_image_kstate_san
