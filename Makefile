# pvisor — build, run, test.  `make run` boots the default guest; `make test`
# runs every test.  See README.md.

CC      ?= gcc
CLANG   ?= clang
BUILD   ?= build
PKGS    := liburing libseccomp liblz4 zlib liblzma libzstd jansson
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wno-unused-parameter
CFLAGS_COMMON := -std=gnu11 -D_GNU_SOURCE -Iinclude -Isrc $(WARN) -g \
           -fno-strict-aliasing $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
CFLAGS  ?= -O2
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
LIBS    := $(PKG_LIBS) -lpthread -lm
# The release binary links these libraries statically where their archives
# are installed (`make STATIC_LIBS=no` links them shared): each shared
# library costs every start its mapping, relocations and page faults, ~1.5
# ms of the ~7 to main on a nested host (docs/benchmarks.md, "Cold
# start").  The price: a distribution's fix to one of them needs a rebuild.
STATIC_LIBS ?= yes
PKG_ARCHIVES := $(foreach l,$(PKG_LIBS:-l%=%),$(shell $(CC) -print-file-name=lib$(l).a))
ifeq ($(STATIC_LIBS):$(words $(wildcard $(PKG_ARCHIVES))),yes:$(words $(PKG_LIBS)))
PVISOR_LIBS := -Wl,-Bstatic $(PKG_LIBS) -Wl,-Bdynamic -lpthread -lm
else
PVISOR_LIBS := $(LIBS)
endif
# libslirp is dlopen'd on the first --net user (hostio/slirp.c); only its
# header is needed to build.

SRCS      := $(shell find src -name '*.c' | sort)
ASMS      := $(shell find src -name '*.S' | sort)
MAIN_SRC  := src/core/main.c
LIB_SRCS  := $(filter-out $(MAIN_SRC),$(SRCS))

# The seccomp filters, compiled by libseccomp once at build time
# (core/seccomp_programs.h): tools/gen_seccomp.c writes them as a header.
GEN_DIR   := $(BUILD)/gen
GEN_HDR   := $(GEN_DIR)/seccomp_programs_gen.h
GEN_TOOL  := $(GEN_DIR)/gen_seccomp
GEN_TOOL_SRCS := tools/gen_seccomp.c src/core/sandbox_seccomp.c src/core/sandbox_policy.c \
             src/backend/proc/proc_seccomp.c src/core/bpf_prog.c
CFLAGS_COMMON += -I$(GEN_DIR)

# Release build (build/) and a sanitizer build for tests (build/asan/).
OBJ_DIR   := $(BUILD)/obj
ASAN_DIR  := $(BUILD)/asan
LIB_OBJS  := $(LIB_SRCS:%.c=$(OBJ_DIR)/%.o) $(ASMS:%.S=$(OBJ_DIR)/%.o)
ASAN_OBJS := $(LIB_SRCS:%.c=$(ASAN_DIR)/%.o) $(ASMS:%.S=$(ASAN_DIR)/%.o)
SAN_FLAGS := -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined \
             -DPVISOR_TEST_HOOKS

PVISOR      := $(BUILD)/pvisor
PVISOR_ASAN := $(BUILD)/pvisor-asan

UNIT_SRCS  := $(wildcard tests/unit/test_*.c)
UNIT_BINS  := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_SRCS  := $(wildcard fuzz/fuzz_*.c)
FUZZ_BINS  := $(FUZZ_SRCS:fuzz/%.c=$(BUILD)/fuzz/%)

.PHONY: all pvisor guest tests fuzz run run-pvsh test check clean bench
all: pvisor guest

pvisor: $(PVISOR)

$(PVISOR): $(OBJ_DIR)/$(MAIN_SRC:.c=.o) $(BUILD)/libpvisor.a
	$(CC) -o $@ $^ $(PVISOR_LIBS)

$(PVISOR_ASAN): $(ASAN_DIR)/$(MAIN_SRC:.c=.o) $(BUILD)/libpvisor-asan.a
	$(CC) $(SAN_FLAGS) -o $@ $^ $(LIBS)

$(BUILD)/libpvisor.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libpvisor-asan.a: $(ASAN_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(OBJ_DIR)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) $(CFLAGS) -MMD -MP -c -o $@ $<

$(OBJ_DIR)/%.o: %.S
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) -MMD -MP -c -o $@ $<

$(ASAN_DIR)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) $(SAN_FLAGS) -MMD -MP -c -o $@ $<

$(ASAN_DIR)/%.o: %.S
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) -MMD -MP -c -o $@ $<

$(GEN_TOOL): $(GEN_TOOL_SRCS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) -O1 -MMD -MP -o $@ $(GEN_TOOL_SRCS) $(LIBS)

$(GEN_HDR): $(GEN_TOOL)
	$(GEN_TOOL) > $@.tmp && mv $@.tmp $@

$(OBJ_DIR)/src/core/seccomp_programs.o $(ASAN_DIR)/src/core/seccomp_programs.o: $(GEN_HDR)

# Guest kit: freestanding, its own Makefile.
guest:
	$(MAKE) -C guest

# Unit tests (cmocka) link the sanitizer build of the library; a plain build
# of each (build/tests-plain/) runs under valgrind.  -MMD: a test is rebuilt
# when a header it includes (tests/unit/mirror_world.h, ...) changes.
PLAIN_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests-plain/%)
tests: $(UNIT_BINS) $(PLAIN_BINS) $(PVISOR_ASAN)
$(BUILD)/tests-plain/%: tests/unit/%.c $(BUILD)/libpvisor.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) -O1 -MMD -MP -o $@ $< $(BUILD)/libpvisor.a -lcmocka $(LIBS)
$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libpvisor-asan.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) $(SAN_FLAGS) -MMD -MP -o $@ $< $(BUILD)/libpvisor-asan.a -lcmocka $(LIBS)

# Fuzz harnesses: libFuzzer, built with clang against the sources.
FUZZ_FLAGS := -std=gnu11 -D_GNU_SOURCE -Iinclude -Isrc -I$(GEN_DIR) -g -O1 \
              -fsanitize=fuzzer,address,undefined -DPVISOR_FUZZ
fuzz: $(FUZZ_BINS)
# A harness lists its sources on a "// fuzz-sources:" line ("ALL": the library).
fuzz_sources = $(patsubst ALL,$(LIB_SRCS) $(ASMS),$(shell sed -n 's,^// fuzz-sources: ,,p' $(1)))
$(BUILD)/fuzz/%: fuzz/%.c $(LIB_SRCS) $(GEN_HDR)
	@mkdir -p $(dir $@)
	$(CLANG) $(FUZZ_FLAGS) -Itests/unit $(shell pkg-config --cflags $(PKGS) 2>/dev/null) -o $@ $< \
		$(call fuzz_sources,$<) $(LIBS)

# Benchmarks: hcbench on every backend beside the machine's floors
# (docs/benchmarks.md).  BENCH_REPS, BENCH_BACKENDS pass through.
bench: pvisor guest
	$(MAKE) -C bench
	./bench/run.sh -n

run: pvisor guest
	./tools/run-default.sh

run-pvsh: pvisor guest
	$(PVISOR) run guest/build/pvsh

test: all tests fuzz
	./tests/run.sh

check: test

clean:
	rm -rf $(BUILD)
	$(MAKE) -C guest clean

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
