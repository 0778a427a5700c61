# vssbench - all build logic.  GNU make.
#
#   make            build/libvss.a, build/libvss.so, build/vssbench
#   make test       install missing deps, build, run the Check suites and
#                   `vssbench verify` over golden/
#   make golden     regenerate golden/ (PyTorch, byte for byte)
#   make install PREFIX=/usr/local
#
# Each source directory has its own flags (one pattern rule each).  No
# -march=native and no -ffast-math anywhere: the binary runs on any x86-64
# and ref/ stays an exact oracle (-ffp-contract=off: no implicit FMA).

CC       ?= gcc
CXX      ?= g++
PYTHON   ?= /usr/bin/python3
PREFIX   ?= /usr/local
BUILD    ?= build
OPT      ?= -O2
SANITIZE ?=

WARN      = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
CPPFLAGS += -Iinclude -Icore -D_GNU_SOURCE
CFLAGS   += -std=c11 $(OPT) -g -fPIC $(WARN) -MMD -MP
LDLIBS   += -lcjson -lm
ifneq ($(SANITIZE),)
CFLAGS   += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer
LDFLAGS  += -fsanitize=$(SANITIZE)
endif

# ---- per-directory flags ----------------------------------------------
FLAGS_core   = -ffp-contract=off
FLAGS_ref    = -ffp-contract=off
FLAGS_tools  =
FLAGS_tests  = $(shell pkg-config --cflags check 2>/dev/null)
FLAGS_avx2   = -mavx2 -mfma
FLAGS_avx512 = -mavx512f -mavx512dq -mavx512bw -mavx512vl -mavx2 -mfma
# The SIMDe build of the AVX-512 sources: -mavx2 -mfma, never -march=native
# (trips a bug in SIMDe 0.7.4); it runs on any x86-64 with AVX2.
FLAGS_avx512emu = -mavx2 -mfma -DVSS_AVX512_EMU -DSIMDE_ENABLE_NATIVE_ALIASES
FLAGS_xsmm   = -mavx2 -mfma
FLAGS_omp    = -mavx2 -mfma -fopenmp

# ---- optional variants: built when their sources (and libraries) exist --
AVX2_SRC   = $(wildcard optimized/avx2/*.c)
AVX512_SRC = $(wildcard optimized/avx512/*.c)
XSMM_SRC   = $(wildcard optimized/xsmm/*.c)
OMP_SRC    = $(wildcard optimized/omp/*.c)
HAVE_XSMM  := $(shell test -f /usr/include/libxsmm.h && echo 1)
HAVE_SIMDE := $(shell test -f /usr/include/simde/x86/avx512.h && echo 1)
OPT_OBJ    =
ifneq ($(AVX2_SRC),)
CPPFLAGS += -DVSS_HAVE_AVX2
OPT_OBJ  += $(AVX2_SRC:%.c=$(BUILD)/obj/%.o)
endif
ifneq ($(AVX512_SRC),)
CPPFLAGS += -DVSS_HAVE_AVX512
OPT_OBJ  += $(AVX512_SRC:%.c=$(BUILD)/obj/%.o)
ifeq ($(HAVE_SIMDE),1)
CPPFLAGS += -DVSS_HAVE_AVX512EMU
OPT_OBJ  += $(AVX512_SRC:optimized/avx512/%.c=$(BUILD)/obj/optimized/avx512emu/%.o)
endif
endif
ifneq ($(and $(XSMM_SRC),$(HAVE_XSMM)),)
CPPFLAGS += -DVSS_HAVE_XSMM
OPT_OBJ  += $(XSMM_SRC:%.c=$(BUILD)/obj/%.o)
# Debian's libxsmm 1.17 is static: -lxsmm before -lxsmmnoblas
LDLIBS   := -lxsmm -lxsmmnoblas -lpthread -ldl $(LDLIBS)
endif
ifneq ($(OMP_SRC),)
CPPFLAGS += -DVSS_HAVE_OMP
OPT_OBJ  += $(OMP_SRC:%.c=$(BUILD)/obj/%.o)
LDFLAGS  += -fopenmp
endif

# ---- sources ------------------------------------------------------------
CORE_SRC  = $(wildcard core/*.c)
REF_SRC   = $(wildcard ref/*.c)
LIB_SRC   = $(CORE_SRC) $(REF_SRC)
LIB_OBJ   = $(LIB_SRC:%.c=$(BUILD)/obj/%.o) $(OPT_OBJ)
TOOL_SRC  = $(wildcard tools/*.c)
TOOL_OBJ  = $(TOOL_SRC:%.c=$(BUILD)/obj/%.o)
TEST_SRC  = $(wildcard tests/*.c)
TEST_OBJ  = $(TEST_SRC:%.c=$(BUILD)/obj/%.o)

CHECK_LIBS = $(shell pkg-config --libs check 2>/dev/null || echo -lcheck)

.PHONY: all lib test check-suites verify golden install clean deps
all: lib $(BUILD)/vssbench

lib: $(BUILD)/libvss.a $(BUILD)/libvss.so

$(BUILD)/obj/core/%.o: core/%.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(FLAGS_core) -c $< -o $@
$(BUILD)/obj/ref/%.o: ref/%.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(FLAGS_ref) -c $< -o $@
$(BUILD)/obj/optimized/avx2/%.o: optimized/avx2/%.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(FLAGS_avx2) -c $< -o $@
$(BUILD)/obj/optimized/avx512/%.o: optimized/avx512/%.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(FLAGS_avx512) -c $< -o $@
$(BUILD)/obj/optimized/avx512emu/%.o: optimized/avx512/%.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(FLAGS_avx512emu) -c $< -o $@
$(BUILD)/obj/optimized/xsmm/%.o: optimized/xsmm/%.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(FLAGS_xsmm) -c $< -o $@
$(BUILD)/obj/optimized/omp/%.o: optimized/omp/%.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(FLAGS_omp) -c $< -o $@
$(BUILD)/obj/tools/%.o: tools/%.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(FLAGS_tools) -c $< -o $@
$(BUILD)/obj/tests/%.o: tests/%.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(FLAGS_tests) -c $< -o $@

$(BUILD)/libvss.a: $(LIB_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^
$(BUILD)/libvss.so: $(LIB_OBJ)
	$(CC) -shared $(LDFLAGS) -Wl,-soname,libvss.so.0 -o $@ $^ $(LDLIBS)

$(BUILD)/vssbench: $(TOOL_OBJ) $(BUILD)/libvss.a
	$(CC) $(LDFLAGS) -o $@ $(TOOL_OBJ) $(BUILD)/libvss.a $(LDLIBS)

$(BUILD)/vss_tests: $(TEST_OBJ) $(BUILD)/libvss.a
	$(CC) $(LDFLAGS) -o $@ $(TEST_OBJ) $(BUILD)/libvss.a $(CHECK_LIBS) $(LDLIBS)

deps:
	@bash scripts/deps.sh test

# The README's test command.  The suites run from the repository root (they
# read golden/ and run build/vssbench).
test: deps
	$(MAKE) all $(BUILD)/vss_tests
	$(BUILD)/vss_tests
	$(BUILD)/vssbench verify --variant all golden

verify: all
	$(BUILD)/vssbench verify --variant all golden

golden:
	@bash scripts/deps.sh golden
	$(PYTHON) scripts/gen_golden.py --out golden

install: all
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include/vss \
	  $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 644 $(BUILD)/libvss.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(BUILD)/libvss.so $(DESTDIR)$(PREFIX)/lib/libvss.so.0
	ln -sf libvss.so.0 $(DESTDIR)$(PREFIX)/lib/libvss.so
	install -m 644 include/vss/*.h include/vss/*.inc $(DESTDIR)$(PREFIX)/include/vss/
	install -m 755 $(BUILD)/vssbench $(DESTDIR)$(PREFIX)/bin/
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBS@|$(LDLIBS)|g' vss.pc.in \
	  > $(DESTDIR)$(PREFIX)/lib/pkgconfig/vss.pc

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
