# AgencyBus — the two commands a newcomer needs:
#   make demo   installs what is missing, builds, and runs a real exchange on loopback
#   make test   installs what is missing, builds, and runs the whole test suite
SHELL := /bin/bash
SWIFT ?= swift
DEBIAN_PACKAGES := libzmq3-dev libsqlite3-dev libsodium-dev
BIN := .build/debug

.PHONY: all deps build test demo clean

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

clean:
	rm -rf .build
