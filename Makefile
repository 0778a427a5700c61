# vssbench - all build logic.  GNU make.
#
#   make            build/libvss.a, build/libvss.so, build/vssbench
#   make test       install missing deps, build, run the Check suites and
#                   `vssbench verify` over golden/
#   make golden     regenerate golden/ (PyTorch, byte for byte)
#   make install PREFIX=/usr/local
#
# Each source directory has its own flags (one pattern rule each).  No
# host-tuned arch flags and no fast-math anywhere: the binary runs on any x86-64
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
# The SIMDe build of the AVX-512 sources: -mavx2 -mfma, never a host-tuned arch flag
# (trips a bug in SIMDe 0.7.4); it runs on any x86-64 with AVX2.
FLAGS_avx512emu = -mavx2 -mfma -Wno-psabi -DVSS_AVX512_EMU -DSIMDE_ENABLE_NATIVE_ALIASES
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

# `make` alone builds `all` (the flags rule below would otherwise be the
# first target, and the default).
.DEFAULT_GOAL := all

# Objects depend on the flags they were built with: a changed define (a
# variant's sources appearing, SANITIZE=...) rebuilds everything.
FLAGS_NOW := $(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) $(OPT_OBJ)
ifneq ($(FLAGS_NOW),$(file <$(BUILD)/.flags))
$(shell mkdir -p $(BUILD))
$(file >$(BUILD)/.flags,$(FLAGS_NOW))
endif
$(LIB_OBJ) $(TOOL_OBJ) $(TEST_OBJ): $(BUILD)/.flags

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

# the tests share the benchmark shape table (bench/shapes.c)
$(BUILD)/vss_tests: $(TEST_OBJ) $(BUILD)/obj/bench/shapes.o $(BUILD)/libvss.a
	$(CC) $(LDFLAGS) -o $@ $(TEST_OBJ) $(BUILD)/obj/bench/shapes.o $(BUILD)/libvss.a $(CHECK_LIBS) $(LDLIBS)

deps:
	@bash scripts/deps.sh test

# The README's test command.  The suites run from the repository root (they
# read golden/ and run build/vssbench).
test: deps
	$(MAKE) all $(BUILD)/vss_tests
	$(BUILD)/vss_tests
	VSSBENCH=$(BUILD)/vssbench PYTHON=$(PYTHON) bash tests/test_export.sh
	PYTHON=$(PYTHON) bash tests/test_bench_tools.sh
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
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBS@|$(LDFLAGS) $(LDLIBS)|g' vss.pc.in \
	  > $(DESTDIR)$(PREFIX)/lib/pkgconfig/vss.pc

clean:
	rm -rf $(BUILD)

# the .d files come from -MMD alone: no rule remakes them (else make's
# built-in `%: %.o` tried peak_avx2.d from peak_avx2.d.o through peak_%.o,
# without ISA flags, whenever bench/peak_fma.c was newer)
%.d: ;
-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# ==== bench ===============================================================
# The benchmark harness (bench/, scripts/bench.sh, scripts/report.py,
# scripts/regress.py); see bench/README.md.
#
#   make bench [BENCH_SET=default|full] [BENCH_FILTER=regex]
#        install deps, build, verify golden, run the rows, write
#        reports/<date>-<sha>/{bench.json,report.md,report.html,*.svg}
#   make regress BASELINE=bench/baselines/<m>.json [CURRENT=...] [THRESHOLD=10] [STAT=median|min]
#        non-zero when a row is slower than the baseline by more than
#        THRESHOLD % or an accuracy figure got worse (CURRENT: newest report)
#   make bench-baseline NAME=<machine> [RUNS='<bench.json> ...']
#        bench/baselines/<machine>.json from the newest report, or from several
#        runs of the same code, each row from its fastest (describe the machine
#        in bench/baselines/<machine>.md)
#   make test-bench-tools    the tests of report.py and regress.py
# peak_fma.c is built once per vector ISA, peak_avx2.o and peak_avx512.o;
# peak.c runs each probe only where the CPU has its ISA
BENCH_SRC   = $(filter-out bench/peak_fma.c,$(wildcard bench/*.c))
BENCH_OBJ   = $(BENCH_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/bench/gbench.o \
              $(BUILD)/obj/bench/peak_avx2.o $(BUILD)/obj/bench/peak_avx512.o
BENCH_LIBS  = $(shell pkg-config --libs benchmark openblas 2>/dev/null || echo -lbenchmark -lopenblas) -lpthread
CXXFLAGS   += -std=c++17 $(OPT) -g -Wall -Wextra -MMD -MP
BENCH_CFLAGS_DESC = $(CC) -std=c11 $(OPT); ref, core: $(FLAGS_ref); avx2, xsmm: $(FLAGS_avx2); avx512: $(FLAGS_avx512); avx512emu: $(FLAGS_avx512emu); omp: $(FLAGS_omp); naive scan: -fno-tree-vectorize, no ISA flags
THRESHOLD  ?= 10
STAT       ?= median
BENCH_SET  ?= default

$(BUILD)/obj/bench/%.o: bench/%.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(FLAGS_bench) $(shell pkg-config --cflags openblas 2>/dev/null) \
	  -DVSS_BENCH_CFLAGS='"$(BENCH_CFLAGS_DESC)"' -c $< -o $@
$(BUILD)/obj/bench/%.o: bench/%.cc
	@mkdir -p $(@D)
	$(CXX) $(CPPFLAGS) $(CXXFLAGS) -c $< -o $@
$(BUILD)/obj/bench/peak_%.o: bench/peak_fma.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(FLAGS_$*) -c $< -o $@
# the probe of peak.c knows the AVX-512 one is there; the naive scan stays scalar
$(BUILD)/obj/bench/peak.o: FLAGS_bench = -DVSS_BENCH_AVX512_PROBE
$(BUILD)/obj/bench/naive_scan.o: FLAGS_bench = -fno-tree-vectorize

$(BUILD)/vss_bench: $(BENCH_OBJ) $(BUILD)/libvss.a
	$(CXX) $(LDFLAGS) -o $@ $(BENCH_OBJ) $(BUILD)/libvss.a $(BENCH_LIBS) $(LDLIBS)

.PHONY: bench regress bench-baseline test-bench-tools
bench:
	@bash scripts/deps.sh bench
	$(MAKE) --no-print-directory all $(BUILD)/vss_bench
	@BUILD=$(BUILD) PYTHON=$(PYTHON) BENCH_SET=$(BENCH_SET) BENCH_FILTER='$(BENCH_FILTER)' \
	  bash scripts/bench.sh

regress:
	@test -n "$(BASELINE)" || { echo "usage: make regress BASELINE=<bench.json> [CURRENT=<bench.json>] [THRESHOLD=10]" >&2; exit 2; }
	$(PYTHON) scripts/regress.py --threshold $(THRESHOLD) --stat $(STAT) $(BASELINE) $(CURRENT)

bench-baseline:
	@test -n "$(NAME)" || { echo "usage: make bench-baseline NAME=<machine> [RUNS='<bench.json> ...']" >&2; exit 2; }
	$(PYTHON) scripts/report.py slim --out bench/baselines/$(NAME).json \
	  $(if $(RUNS),$(RUNS),$$(ls -t reports/*/bench.json | head -n 1))

test-bench-tools:
	@bash tests/test_bench_tools.sh

# ==== fuzz ================================================================
# libFuzzer over the safetensors parser, dtype conversion and writing, block
# loading and config inference, input validation and small forwards
# (tests/fuzz/fuzz_load.c).  clang, ASan + UBSan (no recovery), objects under
# build/fuzz/: core, ref and the avx2, avx512 and omp variants when their
# sources exist (omp with clang's libomp); xsmm (libxsmm) is left out.
#
#   make fuzz [FUZZ_SECONDS=60] [FUZZ_ARGS=...]
#        seeds from tests/fuzz/corpus (read only); new inputs go to
#        build/fuzz/corpus; any finding (crash, sanitizer report, leak,
#        broken invariant, timeout, OOM) fails, its input in build/fuzz/
#   make fuzz-corpus    runs every input of tests/fuzz/corpus once (fast)
# A crasher becomes tests/fuzz/corpus/regress_<name>.safetensors and a
# named test in tests/test_hardening.c.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_ARGS    ?=
FUZZ_DIR      = build/fuzz
FUZZ_SAN      = -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_VARS     = $(if $(AVX2_SRC),avx2) $(if $(AVX512_SRC),avx512) $(if $(OMP_SRC),omp)
FUZZ_DEFS     = $(if $(AVX2_SRC),-DVSS_HAVE_AVX2) $(if $(AVX512_SRC),-DVSS_HAVE_AVX512) \
                $(if $(OMP_SRC),-DVSS_HAVE_OMP)
FUZZ_CFLAGS   = -std=c11 -O1 -g -fno-omit-frame-pointer -Wall -Wextra -MMD -MP \
                -Iinclude -Icore -D_GNU_SOURCE $(FUZZ_DEFS) $(FUZZ_SAN) \
                -fsanitize=fuzzer-no-link
FUZZ_SRC      = $(LIB_SRC) $(foreach v,$(FUZZ_VARS),$(wildcard optimized/$(v)/*.c))
FUZZ_OBJ      = $(FUZZ_SRC:%.c=$(FUZZ_DIR)/obj/%.o)
FUZZ_ENV      = ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:allocator_may_return_null=1 \
                UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
FUZZ_RUN_ARGS = -max_len=16384 -timeout=10 -rss_limit_mb=2048 \
                -dict=tests/fuzz/safetensors.dict -print_final_stats=1

# rebuilt when the flags change (a variant's sources appearing), as above;
# only when a fuzz goal is asked for
ifneq ($(filter fuzz fuzz-corpus $(FUZZ_DIR)/%,$(MAKECMDGOALS)),)
FUZZ_FLAGS_NOW := $(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_OBJ)
ifneq ($(FUZZ_FLAGS_NOW),$(file <$(FUZZ_DIR)/.flags))
$(shell mkdir -p $(FUZZ_DIR))
$(file >$(FUZZ_DIR)/.flags,$(FUZZ_FLAGS_NOW))
endif
endif

# the directory's own flags: FLAGS_core, FLAGS_ref, FLAGS_avx2, FLAGS_omp, ...
$(FUZZ_DIR)/obj/%.o: %.c $(FUZZ_DIR)/.flags
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FLAGS_$(notdir $(patsubst %/,%,$(dir $<)))) -c $< -o $@

$(FUZZ_DIR)/fuzz_load: $(FUZZ_DIR)/obj/tests/fuzz/fuzz_load.o $(FUZZ_OBJ)
	$(FUZZ_CC) -fsanitize=fuzzer $(FUZZ_SAN) $(if $(OMP_SRC),-fopenmp) -o $@ $^ -lcjson -lm

.PHONY: fuzz fuzz-corpus
fuzz: $(FUZZ_DIR)/fuzz_load
	@mkdir -p $(FUZZ_DIR)/corpus
	$(FUZZ_ENV) $(FUZZ_DIR)/fuzz_load $(FUZZ_RUN_ARGS) -max_total_time=$(FUZZ_SECONDS) \
	  -artifact_prefix=$(FUZZ_DIR)/ $(FUZZ_ARGS) $(FUZZ_DIR)/corpus tests/fuzz/corpus

fuzz-corpus: $(FUZZ_DIR)/fuzz_load
	$(FUZZ_ENV) $(FUZZ_DIR)/fuzz_load $(FUZZ_RUN_ARGS) -artifact_prefix=$(FUZZ_DIR)/ tests/fuzz/corpus/*

-include $(shell find $(FUZZ_DIR)/obj -name '*.d' 2>/dev/null)
