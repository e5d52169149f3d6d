# skiff build. `make` builds build/skiff; `make check` runs every test;
# `make demo` boots a real Linux guest. See README.md.
CC       ?= gcc
VERSION  := 0.1.0
BUILD    ?= build
CFLAGS   ?= -O2 -g
# Flags skiff always needs; CFLAGS (optimisation, debug) and EXTRA_CFLAGS
# (sanitizers) can be set on the command line without losing these.
ALL_CFLAGS = $(CFLAGS) $(EXTRA_CFLAGS) -std=gnu11 -Wall -Wextra -Wno-unused-parameter -Werror=implicit-function-declaration \
            -D_GNU_SOURCE -DSKIFF_VERSION='"$(VERSION)"' -Isrc -MMD -MP $(PKG_CFLAGS)
# Libraries from Debian (scripts/install-deps): liburing (virtio-blk's io_uring
# engine), libslirp (user-mode networking; needs glib), jansson (the
# Firecracker-compatible API's JSON) and http-parser (its HTTP/1.1 parsing;
# Debian ships no pkg-config file for it, hence -lhttp_parser by name).
PKG_CFLAGS := $(shell pkg-config --cflags slirp liburing jansson 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs slirp liburing jansson 2>/dev/null) -lhttp_parser
LDLIBS   += $(PKG_LIBS) -lpthread

LIB_SRC  := $(sort $(wildcard src/core/*.c src/boot/*.c src/dev/*.c src/arch/*.c src/pci/*.c src/virtio/*.c src/api/*.c src/host/*.c))
CLI_SRC  := $(sort $(wildcard src/cli/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/%.o)

UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all clean check deps demo guests sanitize bench unit fuzz fuzz-build guest
all: $(BUILD)/skiff $(BUILD)/libskiff.a

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/libskiff.a: $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/skiff: $(CLI_OBJ) $(BUILD)/libskiff.a
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Unit and in-process integration tests (cmocka), linked against the library.
$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libskiff.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -Itests -o $@ $< $(BUILD)/libskiff.a $(LDLIBS) -lcmocka

unit: $(UNIT_BIN)

# Freestanding test guests (tests/guest), built with their own flags.
guests:
	$(MAKE) -C tests/guest BUILD=$(abspath $(BUILD))/guests

# ASan + UBSan build of everything, in its own build directory.
sanitize:
	$(MAKE) BUILD=build/san CFLAGS="-O1 -g" \
		EXTRA_CFLAGS="-Werror -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
		LDFLAGS="-fsanitize=address,undefined" all unit

deps:
	./scripts/install-deps

# CI builds warning-free under gcc (main build) and clang (sanitizer build).
# libFuzzer targets for guest-facing parsers (clang only), one per tests/fuzz/*.c.
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/%)
# The library is compiled once for all targets (instrumented, no libFuzzer main).
FUZZ_CFLAGS = -std=gnu11 -D_GNU_SOURCE -DSKIFF_VERSION='"$(VERSION)"' -g -O1 -Isrc -Wall -Wextra \
	-Wno-unused-parameter $(PKG_CFLAGS)
FUZZ_OBJ := $(LIB_SRC:%.c=build/fuzz/obj/%.o)
build/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -MMD -MP -fsanitize=fuzzer-no-link,address,undefined -c $< -o $@
build/fuzz/libskiff-fuzz.a: $(FUZZ_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^
build/fuzz/%: tests/fuzz/%.c build/fuzz/libskiff-fuzz.a
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $< build/fuzz/libskiff-fuzz.a \
		$(PKG_LIBS) -lpthread
fuzz-build: $(FUZZ_BIN)
# `make fuzz`: build, then run every target for FUZZ_SECONDS (default 300) each;
# `make check` runs each for SKIFF_FUZZ_SECONDS (default 20). Crashes land in
# build/fuzz/artifacts/.
FUZZ_SECONDS ?= 300
fuzz: fuzz-build
	@mkdir -p build/fuzz/artifacts build/fuzz-logs
	@for f in $(FUZZ_BIN); do \
		echo "fuzz: $$f for $(FUZZ_SECONDS) s"; \
		if ! $$f -max_total_time=$(FUZZ_SECONDS) -artifact_prefix=build/fuzz/artifacts/ \
			>build/fuzz-logs/$${f##*/}.log 2>&1; then \
			tail -n 30 build/fuzz-logs/$${f##*/}.log; echo "fuzz: $$f FAILED"; exit 1; fi; \
		grep -E '^Done' build/fuzz-logs/$${f##*/}.log | tail -n 1; \
	done

check: deps
	$(MAKE) all unit guests EXTRA_CFLAGS=-Werror
	$(MAKE) sanitize CC=clang
	$(MAKE) fuzz-build
	./tests/run-tests

# skiff's own guest kernel and images (issue 3): builds or reuses them and
# prints kernel=PATH, initrd=PATH, rootfs=PATH.
guest:
	@./guest/make-guest

demo: deps
	$(MAKE) all
	./scripts/demo

bench: all guests
	./bench/run-all

clean:
	rm -rf $(BUILD)

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(FUZZ_OBJ:.o=.d) $(UNIT_BIN:=.d)
