# Parley — GNU make build.  `make` builds parleyd and parleyctl into build/;
# `make bench` builds the load generator build/parley-bench;
# `make bench-compare` runs it against Parley, Prosody and ejabberd side by side
# (ARGS="--quick" for a short run; not part of `make test`);
# `make test` installs missing Debian packages, builds, and runs every test
# (unit, integration, a load-generator smoke run, the integration tests
# again under ASan+UBSan, the abuse tests under LeakSanitizer, and every
# fuzz target for a short while);
# `make fuzz` runs the libFuzzer targets at length (docs/FUZZING.md).

CC ?= gcc
BUILD ?= build
PREFIX ?= /usr/local
SAN ?=
OPT ?= -O2
PKGS := libuv expat openssl sqlite3 lmdb libconfig

CFLAGS_BASE := -std=c17 -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wno-unused-parameter \
               -Wstrict-prototypes -Wmissing-prototypes -fno-strict-aliasing -g -MMD -MP -I.
CFLAGS += $(CFLAGS_BASE) $(OPT) $(SAN)
LDFLAGS += $(SAN)
LDLIBS := -luv -lexpat -lssl -lcrypto -lsqlite3 -llmdb -lconfig -lpthread -lm

# One archive per layer (docs/ARCHITECTURE.md), linked highest first: a
# layer that calls into one above it does not link, and
# scripts/check-layers.sh refuses a header of a layer above.
LAYERS := modules xep core config storage xmpp lib
LAYER_SRC_modules := $(wildcard modules/*.c modules/*/*.c)
LAYER_SRC_xep := $(wildcard xep/*.c)
LAYER_SRC_core := $(wildcard core/*.c core/*/*.c)
LAYER_SRC_config := $(wildcard config/*.c)
LAYER_SRC_storage := $(wildcard storage/*.c storage/*/*.c)
LAYER_SRC_xmpp := $(wildcard xmpp/*.c)
LAYER_SRC_lib := $(wildcard lib/*.c)
PL_LIBS := $(LAYERS:%=$(BUILD)/libpl-%.a)
CORE_SRC := $(foreach l,$(LAYERS),$(LAYER_SRC_$(l)))
CORE_OBJ := $(CORE_SRC:%.c=$(BUILD)/%.o)
UNIT_SRC := $(wildcard tests/unit/*.c)
UNIT_OBJ := $(UNIT_SRC:%.c=$(BUILD)/%.o)
ITEST_SRC := $(wildcard tests/integration/test_*.c)
ITEST_BIN := $(ITEST_SRC:tests/integration/%.c=$(BUILD)/tests/%)
HARNESS_SRC := $(wildcard tests/integration/harness*.c)
HARNESS_OBJ := $(HARNESS_SRC:%.c=$(BUILD)/%.o)
BENCH_SRC := $(wildcard tests/bench/*.c)
BENCH_OBJ := $(BENCH_SRC:%.c=$(BUILD)/%.o)
# The load generator talks to any XMPP server: it links no Parley code.
BENCH_LIBS := -luv -lexpat -lssl -lcrypto -lpthread -lm
# libFuzzer targets (tests/fuzz/fuzz_*.c), linked with the helpers next to
# them (tests/fuzz/*.c that are not targets) into $(BUILD)/fuzz/.
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_TARGETS := $(FUZZ_SRC:tests/fuzz/%.c=%)
FUZZ_HELPER_SRC := $(filter-out $(FUZZ_SRC),$(wildcard tests/fuzz/*.c))
FUZZ_HELPER_OBJ := $(FUZZ_HELPER_SRC:%.c=$(BUILD)/%.o)
# The fuzz build is its own tree: clang, coverage for libFuzzer, ASan+UBSan.
FUZZ_BUILD ?= build-fuzz
FUZZ_CC ?= clang
FUZZ_SAN := -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer \
            -fno-sanitize-recover=undefined
FUZZ_SMOKE_TIME ?= 15
FUZZ_TIME ?= 1800
# Which targets `make fuzz` / `make fuzz-smoke` run (default: all).
FUZZ ?= $(FUZZ_TARGETS)
ASAN_SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
# The hostile-client tests, run again under LeakSanitizer (`make lsan-abuse`).
ABUSE_TESTS := $(notdir $(basename $(wildcard tests/integration/test_abuse.c \
                 tests/integration/test_hostile_*.c tests/integration/test_close_paths.c)))

.PHONY: all test unit integration integration-loops asan-integration lsan-abuse durability bench \
        bench-smoke bench-compare fuzz-build fuzz-smoke fuzz deps install clean run format \
        check-layers check-unit-suites

all: check-layers $(BUILD)/parleyd $(BUILD)/parleyctl

# A layer never includes a header of a layer above it (docs/ARCHITECTURE.md).
check-layers:
	@scripts/check-layers.sh

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

define layer_rule
$(BUILD)/libpl-$(1).a: $$(LAYER_SRC_$(1):%.c=$$(BUILD)/%.o)
	@rm -f $$@
	ar rcs $$@ $$^
endef
$(foreach l,$(LAYERS),$(eval $(call layer_rule,$(l))))

$(BUILD)/parleyd: $(BUILD)/daemon/main.o $(PL_LIBS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/parleyctl: $(BUILD)/admin/parleyctl.o $(PL_LIBS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/parley-bench: $(BENCH_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(BENCH_LIBS)

# The archive benchmark links the storage layer (it measures Parley's own
# repository, not a server over the network).
$(BUILD)/parley-bench-archive: $(BUILD)/tests/bench/mam/bench_archive.o $(PL_LIBS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/unit-tests: $(UNIT_OBJ) $(PL_LIBS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcheck -lsubunit -lrt

# Kept between builds rather than deleted as intermediates.
.SECONDARY: $(HARNESS_OBJ) $(FUZZ_SRC:%.c=$(BUILD)/%.o) $(FUZZ_HELPER_OBJ)
$(BUILD)/tests/%: tests/integration/%.c $(HARNESS_OBJ) $(PL_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(HARNESS_OBJ) $(PL_LIBS) $(LDFLAGS) -lstrophe $(LDLIBS)

$(BUILD)/fuzz/%: $(BUILD)/tests/fuzz/%.o $(FUZZ_HELPER_OBJ) $(PL_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

deps:
	@scripts/deps.sh

# Every tests/unit/test_*.c is in the suite list of tests/unit/suites.h
# and every listed suite has its file: a test file left out would never run.
check-unit-suites:
	@scripts/check-unit-suites.sh

unit: check-unit-suites $(BUILD)/unit-tests
	CK_FORK=yes $(BUILD)/unit-tests

integration: all $(ITEST_BIN)
	scripts/run-integration.sh $(BUILD)
	scripts/run-interop.sh $(BUILD)

# The integration suite again with two event loops, so the clients of one
# test are spread over loops and every cross-loop path is taken.
integration-loops: all $(ITEST_BIN)
	PARLEY_TEST_LOOPS=2 scripts/run-integration.sh $(BUILD)
	PARLEY_TEST_LOOPS=2 scripts/run-interop.sh $(BUILD)

# REL-1 at length: thousands of messages, the server killed (SIGKILL) in every
# round; `make test` runs the same test small.  DURABILITY_MESSAGES and
# DURABILITY_ROUNDS size it.
DURABILITY_MESSAGES ?= 5000
DURABILITY_ROUNDS ?= 12
durability: all $(BUILD)/tests/test_durability
	PARLEY_BUILD=$(BUILD) PARLEY_DURABILITY_MESSAGES=$(DURABILITY_MESSAGES) \
	    PARLEY_DURABILITY_ROUNDS=$(DURABILITY_ROUNDS) $(BUILD)/tests/test_durability

bench: $(BUILD)/parley-bench $(BUILD)/parley-bench-archive

# A few sessions and messages against a real parleyd: proves the load
# generator works end to end (figures come from `make bench` runs, not here).
bench-smoke: all bench
	scripts/bench-smoke.sh $(BUILD)

# Parley, Prosody and ejabberd under the same scenarios, one after the other, with
# a table of medians and ratios (docs/PERFORMANCE.md).  Installs Prosody and
# ejabberd from Debian when missing; runs as root.  ARGS passes options, e.g.
# `make bench-compare ARGS=--quick`.
bench-compare: all bench
	BUILD=$(abspath $(BUILD)) scripts/bench-compare.sh $(ARGS)

# The integration suite again on a build with AddressSanitizer + UBSan;
# LeakSanitizer is on, so a leak fails the binary that made it.
asan-integration:
	ASAN_OPTIONS=detect_leaks=1 \
	    $(MAKE) BUILD=build-asan OPT=-O1 SAN="$(ASAN_SAN)" integration

# The tests of hostile clients (abuse, hostile logins and data, every way a
# connection ends) on the ASan build with LeakSanitizer: what a hostile peer
# leaves behind must be freed, not only stay within bounds.
lsan-abuse:
	$(MAKE) BUILD=build-asan OPT=-O1 SAN="$(ASAN_SAN)" build-asan/parleyd build-asan/parleyctl \
	    $(ABUSE_TESTS:%=build-asan/tests/%)
	ASAN_OPTIONS=detect_leaks=1 PARLEY_TESTS="$(ABUSE_TESTS)" \
	    scripts/run-integration.sh build-asan

# The fuzz targets, built with clang in $(FUZZ_BUILD) (docs/FUZZING.md).
fuzz-build:
	$(MAKE) BUILD=$(FUZZ_BUILD) CC=$(FUZZ_CC) OPT=-O1 SAN="$(FUZZ_SAN)" \
	    $(FUZZ:%=$(FUZZ_BUILD)/fuzz/%)

# Each target for FUZZ_SMOKE_TIME seconds from its seed corpus, after
# replaying tests/fuzz/regress/: any crash, leak or timeout fails.
fuzz-smoke: fuzz-build
	scripts/fuzz.sh smoke $(FUZZ_BUILD) $(FUZZ_SMOKE_TIME) $(FUZZ)

# Each target for FUZZ_TIME seconds, one after the other; new corpus
# entries go to $(FUZZ_BUILD)/corpus/<target>/, findings to
# $(FUZZ_BUILD)/findings/<target>/.
fuzz: fuzz-build
	scripts/fuzz.sh long $(FUZZ_BUILD) $(FUZZ_TIME) $(FUZZ)

test: deps
	$(MAKE) all
	$(MAKE) unit
	$(MAKE) integration
	$(MAKE) integration-loops
	$(MAKE) bench-smoke
	$(MAKE) asan-integration
	$(MAKE) lsan-abuse
	$(MAKE) fuzz-smoke

run: deps all
	scripts/demo.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BUILD)/parleyd $(BUILD)/parleyctl $(DESTDIR)$(PREFIX)/bin/

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-asan $(FUZZ_BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
