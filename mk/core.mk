# mk/core.mk - the core targets: build, run, test, install, clean.
# Variables from the main Makefile: SWIFT, PREFIX, CONFIG (release|debug).

PORT ?= 9900
DESTDIR ?=

# Root-level entry points: links to the built trustctl, which dispatches
# on the basename of argv[0].
ENTRY_POINTS := trustctl echo-client echo-load-test

# The C library is built with plain cc/ar, without SwiftPM, so that C users
# get a normal libcnetshim.a. Strict C11 and no -D_GNU_SOURCE: cnetshim.c
# asks for the GNU interfaces it uses itself.
CNET_VERSION := 0.1.0
CNET_BUILD := .build/cnetshim
CNET_OBJ := $(CNET_BUILD)/cnetshim.o $(CNET_BUILD)/cnet_uring.o $(CNET_BUILD)/cnet_udp.o
CNET_LIB := $(CNET_BUILD)/libcnetshim.a
CNET_CFLAGS := -std=c11 -O2 -fPIC -Wall -Wextra -pedantic -Iinclude

# The installed trustctl carries the Swift runtime and Foundation inside it
# (--static-swift-stdlib), so it runs on a machine without the toolchain.
# Its own scratch path keeps that build from invalidating the normal,
# dynamically linked one that `swift build` and the tests use.
INSTALL_SCRATCH := .build/install
INSTALL_SWIFT_FLAGS = -c $(CONFIG) --static-swift-stdlib --scratch-path $(INSTALL_SCRATCH)

# The install tree; the .pc records the absolute prefix.
INSTALL_PREFIX = $(abspath $(PREFIX))
INSTALL_ROOT = $(DESTDIR)$(INSTALL_PREFIX)

.PHONY: all build run test install clean cnetshim

build:
	@echo "==> swift build -c $(CONFIG)"
	@$(SWIFT) build -c $(CONFIG)
	@bin="$$($(SWIFT) build -c $(CONFIG) --show-bin-path)"; \
	for link in $(ENTRY_POINTS); do ln -sfn "$$bin/trustctl" "$$link"; done; \
	echo "==> ./trustctl ./echo-client ./echo-load-test -> $$bin/trustctl"

run: build
	@echo "==> trustctl echo-server --port $(PORT)"
	@exec ./trustctl echo-server --port $(PORT)

# Every suite runs even when one fails, so the summary names all failures.
# --disable-swift-testing: there are no Swift Testing tests, and its "0 tests"
# line would be the runner's last word otherwise.
#
# The XCTest suite runs once per IO backend (SPEC §18: every behaviour on
# both): TRUST_ECHO_IO=epoll, then io_uring; `make test IO=epoll` (or
# IO=io_uring) runs one. Test names in the summary carry the backend.
TEST_BACKENDS := $(if $(IO),$(IO),epoll io_uring)
TEST_REPORTS := $(foreach io,$(TEST_BACKENDS),$(io):.build/test-results-$(io).xml)
test:
	@echo "==> swift build (debug), and examples/kv-server (its tests run it)"
	@$(SWIFT) build
	@$(SWIFT) build --package-path examples/kv-server >/dev/null 2>&1 || { $(SWIFT) package clean --package-path examples/kv-server; $(SWIFT) build --package-path examples/kv-server; }
	@$(SWIFT) build --build-tests
	@status=0; for io in $(TEST_BACKENDS); do \
		rm -f .build/test-results-$$io.xml; \
		echo "==> swift test --parallel (TRUST_ECHO_IO=$$io)"; \
		TRUST_ECHO_IO=$$io $(SWIFT) test --skip-build --parallel --disable-swift-testing \
			--xunit-output .build/test-results-$$io.xml || status=1; \
	done; echo $$status > .build/swift-test.status
	@echo "==> scripts/install-check.sh"
	@if scripts/install-check.sh; then echo ok > .build/install-check.status; else echo failed > .build/install-check.status; fi
	@echo "==> scripts/practice.sh"
	@if scripts/practice.sh; then echo ok > .build/practice.status; else echo failed > .build/practice.status; fi
	@echo "==> scripts/fleet.sh (3 servers behind HAProxy, a rolling restart under load)"
	@if scripts/fleet.sh; then echo ok > .build/fleet.status; else echo failed > .build/fleet.status; fi
	@scripts/test-summary.py $(subst $(space),$(comma),$(TEST_REPORTS)) $$(cat .build/swift-test.status) \
		install-check=$$(cat .build/install-check.status) practice=$$(cat .build/practice.status) \
		fleet=$$(cat .build/fleet.status)

comma := ,
empty :=
space := $(empty) $(empty)

cnetshim: $(CNET_LIB)

# One object per source file: a program that uses no cnet_uring_* call
# pulls no io_uring code from the archive, so it needs no -luring.
$(CNET_BUILD)/%.o: Sources/CNetShim/%.c include/cnetshim.h
	@mkdir -p $(CNET_BUILD)
	@echo "==> cc $(CNET_CFLAGS) -c $<"
	@$(CC) $(CNET_CFLAGS) -c $< -o $@

$(CNET_LIB): $(CNET_OBJ)
	@rm -f $@
	@ar rcs $@ $(CNET_OBJ)
	@echo "==> $@"

install: $(CNET_LIB)
	@test -n "$(PREFIX)" || { echo "install: PREFIX is empty" >&2; exit 1; }
	@echo "==> swift build $(INSTALL_SWIFT_FLAGS) --product trustctl"
	@$(SWIFT) build $(INSTALL_SWIFT_FLAGS) --product trustctl
	@echo "==> installing into $(INSTALL_ROOT)"
	@install -d "$(INSTALL_ROOT)/bin" "$(INSTALL_ROOT)/lib/pkgconfig" "$(INSTALL_ROOT)/include"
	@bin="$$($(SWIFT) build $(INSTALL_SWIFT_FLAGS) --show-bin-path)"; \
	install -m 755 "$$bin/trustctl" "$(INSTALL_ROOT)/bin/trustctl"
	@ln -sfn trustctl "$(INSTALL_ROOT)/bin/echo-client"
	@ln -sfn trustctl "$(INSTALL_ROOT)/bin/echo-load-test"
	@install -m 644 $(CNET_LIB) "$(INSTALL_ROOT)/lib/libcnetshim.a"
	@install -m 644 include/cnetshim.h "$(INSTALL_ROOT)/include/cnetshim.h"
	@sed -e 's|@PREFIX@|$(INSTALL_PREFIX)|g' -e 's|@VERSION@|$(CNET_VERSION)|g' \
		cnetshim.pc.in > "$(INSTALL_ROOT)/lib/pkgconfig/cnetshim.pc"
	@echo "==> installed bin/{trustctl,echo-client,echo-load-test} lib/libcnetshim.a include/cnetshim.h lib/pkgconfig/cnetshim.pc"

clean:
	@echo "==> swift package clean"
	@$(SWIFT) package clean
	@rm -rf $(CNET_BUILD) $(INSTALL_SCRATCH)
	@for link in $(ENTRY_POINTS); do if [ -L "$$link" ]; then rm -f "$$link"; fi; done
	@echo "==> removed $(CNET_BUILD) and the root entry-point links"

# Three servers behind HAProxy and a rolling restart under load (scripts/fleet.sh,
# docs/operations.md); `make test` runs it too. `make fleet ARGS=--serve` keeps the fleet up.
.PHONY: fleet
fleet: build
	@CONFIG=$(CONFIG) scripts/fleet.sh $(ARGS)
