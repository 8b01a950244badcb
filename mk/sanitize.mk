# The whole test suite under AddressSanitizer and ThreadSanitizer:
#   make sanitize            both, one after the other
#   make sanitize-address    swift test --sanitize=address, scratch path .build-asan
#   make sanitize-thread     swift test --sanitize=thread,  scratch path .build-tsan
# Each has its own scratch path (gitignored), so neither fights the normal
# .build. The black-box tests run the trustctl binary from the same build
# directory (next to the test bundle), so the product is sanitized too.
#
# Leak checking: the XCTest runner itself runs with detect_leaks=0, because
# XCTest on Linux exits with its test-run objects alive and LeakSanitizer
# reports ~20 "leaks" per test process that are all XCTest's (see
# docs/security.md, "Sanitizers"). The trustctl children get an environment
# built from scratch by the test support (no *SAN_OPTIONS), so the product
# binary runs with LeakSanitizer on (ASan's default): a leak there makes the
# child exit 23 and its test fail.
#
# ThreadSanitizer: .sanitizers/tsan.supp lists the toolchain's own false
# positives, if any (documented there); halt_on_error=0 so a run reports
# every race, exitcode 66 so any report fails the run.

SANITIZE_TEST_FLAGS := --parallel --disable-swift-testing
TSAN_SUPPRESSIONS := $(CURDIR)/.sanitizers/tsan.supp

.PHONY: sanitize sanitize-address sanitize-thread

sanitize: sanitize-address sanitize-thread

sanitize-address:
	@echo "==> swift test --sanitize=address --scratch-path .build-asan"
	@mkdir -p .build-asan
	@ASAN_OPTIONS=detect_leaks=0 $(SWIFT) test --sanitize=address --scratch-path .build-asan $(SANITIZE_TEST_FLAGS) \
		--xunit-output .build-asan/test-results.xml; status=$$?; \
		scripts/test-summary.py .build-asan/test-results.xml $$status | sed 's/^tests:/address sanitizer:/'; \
		exit $$status

sanitize-thread:
	@mkdir -p .build-tsan
	@echo "==> swift test --sanitize=thread --scratch-path .build-tsan"
	@TSAN_OPTIONS="suppressions=$(TSAN_SUPPRESSIONS) halt_on_error=0 exitcode=66" \
		$(SWIFT) test --sanitize=thread --scratch-path .build-tsan $(SANITIZE_TEST_FLAGS) \
		--xunit-output .build-tsan/test-results.xml; status=$$?; \
		scripts/test-summary.py .build-tsan/test-results.xml $$status | sed 's/^tests:/thread sanitizer:/'; \
		exit $$status
