# cxbroker - build, test, run.
#
#   make            build everything into build/ (bin/, lib/)
#   make test       install missing Debian packages, build, run every test
#   make test SAN=1 the same under ASan+UBSan, into build/san/
#   make run        install, build, start the broker on config/cxbroker.yaml
#   make bench      benchmarks (FULL=1 for full-size runs)
#   make crash      kill -9 trials (TRIALS=N)
#   make fuzz       run every libFuzzer target for FUZZ_SECONDS each
#   make lint       cppcheck + clang-format check
#   make clean

SAN ?= 0
F := build/fuzz
CC ?= cc
ifeq ($(SAN),1)
B := build/san
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
OPT := -O1
else
B := build
SANFLAGS :=
OPT := -O2
endif

PKGS := libzmq lmdb jansson yaml-0.1 libprotobuf-c
DEPS_OK := $(shell pkg-config --exists $(PKGS) cmocka 2>/dev/null && command -v protoc-c >/dev/null && echo 1)
ifeq ($(DEPS_OK),1)
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS))
PKG_LIBS := $(shell pkg-config --libs $(PKGS))
endif

CFLAGS := -std=c11 -Wall -Wextra -Werror -g $(OPT) -fPIC -D_GNU_SOURCE $(SANFLAGS) \
	-I$(B)/gen -Iadapters/libcx -Ibroker -Itests/lib $(PKG_CFLAGS)
LDFLAGS := $(SANFLAGS)
LIBS := $(PKG_LIBS) -lpthread -lm

PROTOS := $(wildcard proto/*.proto)
GEN_C := $(patsubst proto/%.proto,$(B)/gen/%.pb-c.c,$(PROTOS))
GEN_H := $(GEN_C:.c=.h)

LIBCX_SRC := $(wildcard adapters/libcx/*.c)
BROKER_SRC := $(filter-out broker/main.c,$(wildcard broker/*.c))
TOOLS := cxpub cxsub cxctl
TESTLIB_SRC := $(wildcard tests/lib/*.c)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
IT_SRC := $(wildcard tests/integration/it_*.c)
BENCH_SRC := $(wildcard tests/bench/*.c)
CRASH_SRC := $(wildcard tests/crash/*.c)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)

obj = $(patsubst %.c,$(B)/obj/%.o,$(1))
LIBCX_OBJ := $(call obj,$(LIBCX_SRC)) $(patsubst %.c,%.o,$(subst /gen/,/obj/gen/,$(GEN_C)))
BROKER_OBJ := $(call obj,$(BROKER_SRC))
TESTLIB_OBJ := $(call obj,$(TESTLIB_SRC))

BINS := $(B)/bin/cxbroker $(addprefix $(B)/bin/,$(TOOLS))
UNIT_BINS := $(patsubst tests/unit/%.c,$(B)/tests/%,$(UNIT_SRC))
IT_BINS := $(patsubst tests/integration/%.c,$(B)/tests/%,$(IT_SRC))
BENCH_BINS := $(patsubst tests/bench/%.c,$(B)/tests/%,$(BENCH_SRC))
CRASH_BINS := $(patsubst tests/crash/%.c,$(B)/tests/%,$(CRASH_SRC))
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(F)/%,$(FUZZ_SRC))

.PHONY: all deps test run demo bench crash soak fuzz fuzz-build lint clean
.DEFAULT_GOAL := all
.SECONDARY:
.DELETE_ON_ERROR:

all: $(BINS) $(B)/lib/libcx.a $(B)/lib/libcx.so $(B)/lib/pkgconfig/libcx.pc \
	$(UNIT_BINS) $(IT_BINS) $(BENCH_BINS) $(CRASH_BINS)

deps:
	@sh deploy/install-deps.sh

# Re-run make after installing dependencies so pkg-config flags are picked up.
test: deps
	@$(MAKE) --no-print-directory all SAN=$(SAN)
	@$(MAKE) --no-print-directory fuzz-build
	@sh tests/run.sh $(B)

run: deps
	@$(MAKE) --no-print-directory $(B)/bin/cxbroker $(addprefix $(B)/bin/,$(TOOLS))
	mkdir -p var
	$(B)/bin/cxbroker -c config/cxbroker.yaml

demo: deps
	@$(MAKE) --no-print-directory all
	@sh tests/demo.sh $(B)

bench: deps
	@$(MAKE) --no-print-directory all
	@sh tests/bench/run.sh $(B) $(if $(FULL),full,short)

TRIALS ?= 10
crash: deps
	@$(MAKE) --no-print-directory all
	@$(B)/tests/crash_trials --bin $(B)/bin --trials $(TRIALS)

MINUTES ?= 10
soak: deps
	@$(MAKE) --no-print-directory all
	@$(B)/tests/soak --bin $(B)/bin --minutes $(MINUTES)

FUZZ_SECONDS ?= 60
fuzz: deps fuzz-build
	@for f in $(FUZZ_BINS); do echo "fuzz: $$f"; mkdir -p $(F)/corpus/$$(basename $$f); \
	  $$f -max_total_time=$(FUZZ_SECONDS) $(F)/corpus/$$(basename $$f) tests/fuzz/corpus/$$(basename $$f) 2>&1 | tail -n 2; done

# ---- generated protobuf-c code (never committed) ----
$(B)/gen/%.pb-c.c $(B)/gen/%.pb-c.h: proto/%.proto $(PROTOS)
	@mkdir -p $(B)/gen
	protoc-c --proto_path=proto --c_out=$(B)/gen $<

# ---- objects ----
$(B)/obj/gen/%.o: $(B)/gen/%.c $(GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(B)/obj/%.o: %.c $(GEN_H) $(wildcard adapters/libcx/*.h broker/*.h tests/lib/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

# ---- libcx ----
$(B)/lib/libcx.a: $(LIBCX_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(B)/lib/libcx.so: $(LIBCX_OBJ)
	@mkdir -p $(dir $@)
	$(CC) -shared $(LDFLAGS) -o $@ $^ $(LIBS)

$(B)/lib/pkgconfig/libcx.pc: adapters/libcx/libcx.pc.in
	@mkdir -p $(dir $@)
	sed 's|@PREFIX@|$(abspath $(B))|; s|@INCLUDE@|$(abspath adapters/libcx)|; s|@GEN@|$(abspath $(B)/gen)|' $< > $@

$(B)/lib/libcxbroker.a: $(BROKER_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# ---- programs ----
$(B)/bin/cxbroker: $(call obj,broker/main.c) $(B)/lib/libcxbroker.a $(B)/lib/libcx.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(B)/bin/%: $(B)/obj/adapters/%.o $(B)/lib/libcx.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

# ---- tests ----
$(B)/tests/test_%: $(B)/obj/tests/unit/test_%.o $(TESTLIB_OBJ) $(B)/lib/libcxbroker.a $(B)/lib/libcx.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS) -lcmocka

$(B)/tests/it_%: $(B)/obj/tests/integration/it_%.o $(TESTLIB_OBJ) $(B)/lib/libcxbroker.a $(B)/lib/libcx.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(B)/tests/%: $(B)/obj/tests/bench/%.o $(TESTLIB_OBJ) $(B)/lib/libcxbroker.a $(B)/lib/libcx.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(B)/tests/%: $(B)/obj/tests/crash/%.o $(TESTLIB_OBJ) $(B)/lib/libcxbroker.a $(B)/lib/libcx.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

# ---- fuzz targets (clang libFuzzer + ASan + UBSan), own build tree ----
FUZZ_CFLAGS := -std=c11 -g -O1 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined \
	-I$(F)/gen -Iadapters/libcx -Ibroker $(PKG_CFLAGS)
fuzz-build: $(FUZZ_BINS)

$(F)/gen/%.pb-c.c $(F)/gen/%.pb-c.h: proto/%.proto $(PROTOS)
	@mkdir -p $(F)/gen
	protoc-c --proto_path=proto --c_out=$(F)/gen $<

$(F)/%: tests/fuzz/%.c $(LIBCX_SRC) $(BROKER_SRC) $(patsubst proto/%.proto,$(F)/gen/%.pb-c.c,$(PROTOS))
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -o $@ $(filter %.c,$^) $(LIBS)

lint:
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	  --suppress=missingIncludeSystem -Iadapters/libcx -Ibroker adapters broker
	clang-format --dry-run --Werror $(LIBCX_SRC) $(BROKER_SRC) broker/main.c

clean:
	rm -rf build
