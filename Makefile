# Parley — GNU make build.  `make` builds parleyd and parleyctl into build/;
# `make bench` builds the load generator build/parley-bench;
# `make bench-compare` runs it against Parley, Prosody and ejabberd side by side
# (ARGS="--quick" for a short run; not part of `make test`);
# `make test` installs missing Debian packages, builds, and runs every test
# (unit, integration, a load-generator smoke run, and the integration tests
# again under ASan+UBSan).

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

CORE_SRC := $(filter-out server/main.c,$(wildcard server/*.c)) $(wildcard xep/*.c) \
            $(wildcard storage/*.c storage/*/*.c) $(wildcard modules/*.c modules/*/*.c)
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

.PHONY: all test unit integration integration-loops asan-integration durability bench bench-smoke bench-compare deps install clean run format

all: $(BUILD)/parleyd $(BUILD)/parleyctl

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libparley.a: $(CORE_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/parleyd: $(BUILD)/server/main.o $(BUILD)/libparley.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/parleyctl: $(BUILD)/admin/parleyctl.o $(BUILD)/libparley.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/parley-bench: $(BENCH_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(BENCH_LIBS)

# The archive benchmark links the storage layer (it measures Parley's own
# repository, not a server over the network).
$(BUILD)/parley-bench-archive: $(BUILD)/tests/bench/mam/bench_archive.o $(BUILD)/libparley.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/unit-tests: $(UNIT_OBJ) $(BUILD)/libparley.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcheck -lsubunit -lrt

# Kept between builds rather than deleted as intermediates.
.SECONDARY: $(HARNESS_OBJ)
$(BUILD)/tests/%: tests/integration/%.c $(HARNESS_OBJ) $(BUILD)/libparley.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(HARNESS_OBJ) $(BUILD)/libparley.a $(LDFLAGS) -lstrophe $(LDLIBS)

deps:
	@scripts/deps.sh

unit: $(BUILD)/unit-tests
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

# The integration suite again on a build with AddressSanitizer + UBSan.
asan-integration:
	$(MAKE) BUILD=build-asan OPT=-O1 SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" integration

test: deps
	$(MAKE) all
	$(MAKE) unit
	$(MAKE) integration
	$(MAKE) integration-loops
	$(MAKE) bench-smoke
	$(MAKE) asan-integration

run: deps all
	scripts/demo.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BUILD)/parleyd $(BUILD)/parleyctl $(DESTDIR)$(PREFIX)/bin/

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-asan

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
