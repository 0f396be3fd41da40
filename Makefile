# AgencyBus — the two commands a newcomer needs:
#   make demo   installs what is missing, builds, and runs a real exchange on loopback
#   make test   installs what is missing, builds, and runs the whole test suite
#   make bench  builds in release and runs the benchmarks (~15 min); writes docs/benchmarks.md
SHELL := /bin/bash
SWIFT ?= swift
# The C libraries the package links against (libssl-dev: libcrypto for SHA-256).
DEBIAN_PACKAGES := libzmq3-dev libsqlite3-dev libsodium-dev libssl-dev
# The tools the tests drive: iproute2 and iptables for the emulated WAN (fault scenario 3),
# tmux for the `watch` terminal test, systemd for `systemd-analyze verify` of deploy/.
TEST_PACKAGES := iproute2 iptables tmux systemd
BIN := .build/debug

.PHONY: all deps test-deps install-packages build test test-faults fuzz verify-deploy demo bench bench-quick clean

all: build

# Install the Debian packages the C modules link against, only when one is missing.
deps:
	@$(MAKE) --no-print-directory install-packages PACKAGES="$(DEBIAN_PACKAGES)"

# ...and the tools the tests drive.
test-deps:
	@$(MAKE) --no-print-directory install-packages PACKAGES="$(TEST_PACKAGES)"

install-packages:
	@missing=""; for p in $(PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

build: deps
	$(SWIFT) build

test: build test-deps
	AGENCYBUS_BIN=$(CURDIR)/$(BIN) $(SWIFT) test

# The fault-injection suite at full scale (5,000 letters and 20 kills for the kill scenarios,
# 2,000 letters over the WAN with a 30 s cut, a 10,000-letter backlog). `make test` runs them shortened.
# AGENCYBUS_FAULT_SEED=<seed> replays a run's kill points.
test-faults: build test-deps
	AGENCYBUS_FAULTS=full AGENCYBUS_BIN=$(CURDIR)/$(BIN) $(SWIFT) test --filter FaultTests

# libFuzzer on the wire decoder and the envelope parser; FUZZ_SECONDS per target (see Fuzz/README.md).
fuzz: deps
	Fuzz/fuzz.sh

# systemd-analyze verify on the units in deploy/ (also part of `make test`).
verify-deploy: build test-deps
	AGENCYBUS_BIN=$(CURDIR)/$(BIN) sh deploy/verify-units.sh

demo: build
	AGENCYBUS_BIN=$(CURDIR)/$(BIN) scripts/demo.sh

# Benchmarks (not part of `make test`): real broker processes and real node code on loopback.
# `make bench` is full scale and rewrites docs/benchmarks.md; `make bench-quick` is a smoke run
# of a minute or two that writes its report to .build/benchmarks-quick.md.
bench: deps
	$(SWIFT) build -c release --product bus-broker
	$(SWIFT) build -c release --product bus-cli
	$(SWIFT) build -c release --product bus-bench
	BENCH_SWIFT_VERSION="$$($(SWIFT) --version 2>&1 | head -n 1)" .build/release/bus-bench --out docs/benchmarks.md --command "make bench"

bench-quick: deps
	$(SWIFT) build -c release --product bus-broker
	$(SWIFT) build -c release --product bus-bench
	BENCH_SWIFT_VERSION="$$($(SWIFT) --version 2>&1 | head -n 1)" .build/release/bus-bench --quick --out .build/benchmarks-quick.md --command "make bench-quick"

clean:
	rm -rf .build
