# pixjit build.  `make` builds bin/pixjit and build/libpixjit.so and installs
# nothing; `make deps` installs the Debian packages the build and tests need,
# and `make test`, `make demo`, `make check`, `make bench` and `make fuzz`
# run it first.  `make test` runs the C tests and the busted specs; `make
# check` repeats them under AddressSanitizer + UBSan and valgrind; `make
# bench` runs the benchmarks.  `make install PREFIX=... DESTDIR=...` and
# `make uninstall` put the host, libraries, header, pkg-config file and Lua
# modules in place (install-rock is the rockspec's layout).

CC ?= gcc
BUILD ?= build
PKGS := luajit libpng libjpeg libedit libtiff-4 libwebp libwebpdemux libarchive

# -ffp-contract=off: no fused multiply-add, so the warp arithmetic rounds
# exactly as OpenCV's does (REFERENCE.md section 2).
OPT ?= -O2
CFLAGS ?= $(OPT) -g
# -fvisibility=hidden: the library exports only what include/pixjit.h marks
# PJ_API.
ALL_CFLAGS = -std=c11 -D_DEFAULT_SOURCE -fPIC -fopenmp -ffp-contract=off \
	-fno-fast-math -fno-math-errno -fvisibility=hidden -Wall -Wextra -Iinclude $(SAN) $(CFLAGS) \
	$(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS = $(shell pkg-config --libs libpng libjpeg libdeflate libtiff-4 libwebp libwebpdemux libarchive \
	2>/dev/null || \
	echo -lpng16 -ljpeg -ldeflate -ltiff -lwebp -lwebpdemux -larchive) -lm
# libedit is used only through the FFI (the REPL), so it must not be
# dropped by --as-needed.
HOST_LDLIBS = $(shell pkg-config --libs luajit 2>/dev/null || echo -lluajit-5.1) \
	-Wl,--no-as-needed $(shell pkg-config --libs libedit 2>/dev/null || echo -ledit) -Wl,--as-needed -ldl

CORE_SRC := $(wildcard src/*.c)
HOST_SRC := $(wildcard src/host/*.c)
CORE_OBJ := $(CORE_SRC:src/%.c=$(BUILD)/obj/%.o)
HOST_OBJ := $(HOST_SRC:src/host/%.c=$(BUILD)/obj/host/%.o)
TEST_SRC := $(wildcard tests/c/test_*.c)
TEST_BIN := $(TEST_SRC:tests/c/%.c=$(BUILD)/tests/%)
# Fuzz targets also built as replay programs over their regression corpus.
REPLAY_BIN := $(BUILD)/fuzz-replay/decode $(BUILD)/fuzz-replay/crop \
	$(BUILD)/fuzz-replay/colors $(BUILD)/fuzz-replay/quads $(BUILD)/fuzz-replay/pngdiff \
	$(BUILD)/fuzz-replay/exif $(BUILD)/fuzz-replay/kernels
HOST_BIN := $(if $(filter build,$(BUILD)),bin/pixjit,$(BUILD)/pixjit)

.PHONY: all lib deps test check asan valgrind bench demo clean fuzz install uninstall install-rock

# Installation layout (GNU conventions; DESTDIR for staged installs).
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
LUADIR ?= $(PREFIX)/share/lua/5.1
VERSION := $(shell sed -n 's/^\#define PJ_VERSION "\(.*\)"/\1/p' include/pixjit.h)
SOMAJOR := $(firstword $(subst ., ,$(VERSION)))
# The pkg-config names of the libraries libpixjit itself links.
LIB_PKGS := libpng libjpeg libdeflate libtiff-4 libwebp libwebpdemux libarchive
LUA_SRC := $(wildcard lua/pixjit/*.lua lua/pixjit/batch/*.lua)

all: lib $(TEST_BIN) $(REPLAY_BIN)
# What is installed: the host and both libraries (no tests).
lib: $(HOST_BIN) $(BUILD)/libpixjit.so $(BUILD)/libpixjit.a

# Installs the missing Debian packages (through sudo when not root).  The
# targets that need them run it, then build in a fresh make, whose
# pkg-config flags see what was just installed.
deps:
	@scripts/deps.sh test

# `make fuzz FUZZ_SECONDS=N`: every libFuzzer target for N seconds (clang).
FUZZ_SECONDS ?= 60
fuzz:
	@scripts/deps.sh fuzz
	@$(MAKE) --no-print-directory all
	@FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz.sh

# Row loops of the pixel kernels (resize, pack, filters, thresholds, copies,
# conversions) are written for the
# vectoriser.
$(BUILD)/obj/resize.o $(BUILD)/obj/tensor.o $(BUILD)/obj/filter.o $(BUILD)/obj/morph.o \
	$(BUILD)/obj/copy.o $(BUILD)/obj/convert.o \
	$(BUILD)/obj/threshold.o: OPT_EXTRA = -O3

$(BUILD)/obj/%.o: src/%.c include/pixjit.h src/internal.h Makefile
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(OPT_EXTRA) -c $< -o $@

$(BUILD)/obj/host/%.o: src/host/%.c include/pixjit.h Makefile $(wildcard src/host/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

# The host exports the core's symbols so the Lua module finds them in ffi.C.
$(HOST_BIN): $(HOST_OBJ) $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(SAN) -fopenmp -Wl,--export-dynamic -o $@ $^ $(HOST_LDLIBS) $(LDLIBS)

$(BUILD)/libpixjit.so: $(CORE_OBJ)
	$(CC) $(SAN) -fopenmp -shared -Wl,-soname,libpixjit.so.$(SOMAJOR) -o $@ $^ $(LDLIBS)

$(BUILD)/libpixjit.a: $(CORE_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/tests/%: tests/c/%.c tests/c/check.h $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Isrc -o $@ $< $(CORE_OBJ) $(LDLIBS) -lz -lpthread

$(BUILD)/fuzz-replay/%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Isrc -o $@ $< tests/fuzz/replay.c $(CORE_OBJ) $(LDLIBS)

$(BUILD)/fuzz-replay/quads: tests/fuzz/fuzz_quads.c tests/fuzz/replay.c $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -DPIXJIT_LUA_DIR='"$(CURDIR)/lua"' -Wl,--export-dynamic -o $@ $< \
		tests/fuzz/replay.c $(CORE_OBJ) $(HOST_LDLIBS) $(LDLIBS)

test: deps
	@$(MAKE) --no-print-directory all
	@PIXJIT=$(HOST_BIN) BUILD=$(BUILD) tests/run.sh

# AddressSanitizer + UBSan + LeakSanitizer over the whole suite, then
# valgrind memcheck over the C tests.
check: asan valgrind
# A 32 MiB quarantine (default 256) keeps the soak tests' RSS checks
# meaningful under ASan while still catching use after free.
asan: deps
	ASAN_OPTIONS=quarantine_size_mb=32:detect_leaks=1 $(MAKE) BUILD=build/asan OPT=-O1 \
		SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" test
valgrind: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) tests/valgrind.sh

bench:
	@scripts/deps.sh bench
	@$(MAKE) --no-print-directory all
	@scripts/bench.sh

demo: deps
	@$(MAKE) --no-print-directory all
	@scripts/demo.sh

# `make install PREFIX=... DESTDIR=...`: the host, the shared library
# (versioned), the static library, the header, pkg-config's file and the
# Lua modules.  pixjit/libpath.lua records where the library went, so a
# plain luajit finds it from the modules whatever its library search path.
install: $(HOST_BIN) $(BUILD)/libpixjit.so $(BUILD)/libpixjit.a
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) \
		$(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(LUADIR)/pixjit/batch
	install -m 755 $(HOST_BIN) $(DESTDIR)$(BINDIR)/pixjit
	install -m 755 $(BUILD)/libpixjit.so $(DESTDIR)$(LIBDIR)/libpixjit.so.$(VERSION)
	ln -sf libpixjit.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libpixjit.so.$(SOMAJOR)
	ln -sf libpixjit.so.$(SOMAJOR) $(DESTDIR)$(LIBDIR)/libpixjit.so
	install -m 644 $(BUILD)/libpixjit.a $(DESTDIR)$(LIBDIR)/libpixjit.a
	install -m 644 include/pixjit.h $(DESTDIR)$(INCLUDEDIR)/pixjit.h
	scripts/pixjit_pc.sh "$(PREFIX)" "$(LIBDIR)" "$(INCLUDEDIR)" "$(VERSION)" "$(LIB_PKGS)" \
		> $(DESTDIR)$(PKGCONFIGDIR)/pixjit.pc
	install -m 644 $(filter-out lua/pixjit/batch/%,$(LUA_SRC)) $(DESTDIR)$(LUADIR)/pixjit/
	install -m 644 $(filter lua/pixjit/batch/%,$(LUA_SRC)) $(DESTDIR)$(LUADIR)/pixjit/batch/
	printf 'return "%s"\n' "$(LIBDIR)/libpixjit.so.$(SOMAJOR)" > $(DESTDIR)$(LUADIR)/pixjit/libpath.lua

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/pixjit $(DESTDIR)$(LIBDIR)/libpixjit.so.$(VERSION) \
		$(DESTDIR)$(LIBDIR)/libpixjit.so.$(SOMAJOR) $(DESTDIR)$(LIBDIR)/libpixjit.so \
		$(DESTDIR)$(LIBDIR)/libpixjit.a $(DESTDIR)$(INCLUDEDIR)/pixjit.h \
		$(DESTDIR)$(PKGCONFIGDIR)/pixjit.pc
	rm -rf $(DESTDIR)$(LUADIR)/pixjit

# For LuaRocks (pixjit-*.rockspec, build type make): the modules into the
# tree's LUADIR, the library into its LIBDIR (lib/lua/5.1), where
# pixjit.core looks beside the modules, and the host into BINDIR.
install-rock: $(HOST_BIN) $(BUILD)/libpixjit.so
	install -d $(DESTDIR)$(LUADIR)/pixjit/batch $(DESTDIR)$(LIBDIR) $(DESTDIR)$(BINDIR)
	install -m 644 $(filter-out lua/pixjit/batch/%,$(LUA_SRC)) $(DESTDIR)$(LUADIR)/pixjit/
	install -m 644 $(filter lua/pixjit/batch/%,$(LUA_SRC)) $(DESTDIR)$(LUADIR)/pixjit/batch/
	install -m 755 $(BUILD)/libpixjit.so $(DESTDIR)$(LIBDIR)/libpixjit.so
	install -m 755 $(HOST_BIN) $(DESTDIR)$(BINDIR)/pixjit

clean:
	rm -rf build bin/pixjit
