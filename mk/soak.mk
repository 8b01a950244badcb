# The adversarial scale and soak suite (scripts/soak.py, python3 standard
# library, loopback only, bounded in count and time):
#   make soak          every scenario at full scale + a 2-minute mixed soak
#                      (SOAK_SECONDS=1800 for 30 minutes); writes docs/soak-results.md
#   make soak-quick    reduced counts and a 20 s soak (~2 min): for CI; writes
#                      .build/soak-quick-results.md, leaving the committed figures alone
# Both build the release binary first and exit non-zero if any scenario fails.

SOAK_BIN = $$($(SWIFT) build -c release --show-bin-path)/trustctl

.PHONY: soak soak-quick

soak:
	@echo "==> swift build -c release"
	@$(SWIFT) build -c release
	@echo "==> scripts/soak.py (SOAK_SECONDS=$${SOAK_SECONDS:-120})"
	@python3 scripts/soak.py --trustctl "$(SOAK_BIN)" --results docs/soak-results.md

soak-quick:
	@echo "==> swift build -c release"
	@$(SWIFT) build -c release
	@echo "==> scripts/soak.py --quick (SOAK_SECONDS=$${SOAK_SECONDS:-20})"
	@python3 scripts/soak.py --trustctl "$(SOAK_BIN)" --quick --results .build/soak-quick-results.md
