# AgencyBus — the two commands a newcomer needs:
#   make demo   installs what is missing, builds, and runs a real exchange on loopback
#   make test   installs what is missing, builds, and runs the whole test suite
#   make bench  builds in release and runs the benchmarks (~15 min); writes docs/benchmarks.md
SHELL := /bin/bash
SWIFT ?= swift
DEBIAN_PACKAGES := libzmq3-dev libsqlite3-dev libsodium-dev
BIN := .build/debug

.PHONY: all deps build test demo bench bench-quick clean

all: build

# Install the Debian packages the C modules link against, only when one is missing.
deps:
	@missing=""; for p in $(DEBIAN_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

build: deps
	$(SWIFT) build

test: build
	AGENCYBUS_BIN=$(CURDIR)/$(BIN) $(SWIFT) test

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
