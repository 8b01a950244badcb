# Fuzzing the pure parsers with libFuzzer: `make fuzz` runs every target, SECONDS each
# (60 by default); `make fuzz-framing` or `make fuzz-proxy` runs one.
# Targets are compiled with swiftc directly, not SwiftPM: the Framing sources and the Proxy
# sources (but the one file that imports Glibc) are pure Swift with no imports, so each set
# builds alone together with its Fuzz/*Fuzz.swift.
# lld is used because the default gold linker warns about ASan's local symbols.
# SWIFT_BACKTRACE=enable=no: Swift's own crash backtracer hangs under ASan; libFuzzer
# prints the stack and writes the crashing input itself.
# Each runs on a scratch copy of its committed seed corpus; crashes land in fuzz-artifacts/.

SWIFTC ?= swiftc
SECONDS ?= 60
FUZZ_BUILD := .build-fuzz
FUZZ_BIN := $(FUZZ_BUILD)/framing-fuzz
FUZZ_SOURCES := $(wildcard Sources/TrustCore/Framing/*.swift) Fuzz/FramingFuzz.swift Fuzz/FuzzSupport.swift
PROXY_FUZZ_BIN := $(FUZZ_BUILD)/proxy-fuzz
PROXY_FUZZ_SOURCES := $(filter-out %+SocketAddress.swift,$(wildcard Sources/TrustCore/Proxy/*.swift)) \
	Fuzz/ProxyHeaderFuzz.swift Fuzz/FuzzSupport.swift
FUZZ_FLAGS := -sanitize=fuzzer,address -parse-as-library -O -use-ld=lld

.PHONY: fuzz fuzz-build fuzz-framing fuzz-proxy fuzz-clean

fuzz-build: $(FUZZ_BIN) $(PROXY_FUZZ_BIN)

$(FUZZ_BIN): $(FUZZ_SOURCES)
	@mkdir -p $(FUZZ_BUILD)
	$(SWIFTC) $(FUZZ_FLAGS) $(FUZZ_SOURCES) -o $@

$(PROXY_FUZZ_BIN): $(PROXY_FUZZ_SOURCES)
	@mkdir -p $(FUZZ_BUILD)
	$(SWIFTC) $(FUZZ_FLAGS) $(PROXY_FUZZ_SOURCES) -o $@

fuzz: fuzz-framing fuzz-proxy

# $(1): binary, $(2): committed corpus folder, $(3): scratch corpus name.
define run-fuzzer
	@rm -rf $(FUZZ_BUILD)/$(3) && mkdir -p $(FUZZ_BUILD)/$(3) fuzz-artifacts
	@cp $(2)/* $(FUZZ_BUILD)/$(3)/
	SWIFT_BACKTRACE=enable=no $(1) -max_total_time=$(SECONDS) -print_final_stats=1 \
		-artifact_prefix=fuzz-artifacts/ $(FUZZ_BUILD)/$(3)
endef

fuzz-framing: $(FUZZ_BIN)
	$(call run-fuzzer,$(FUZZ_BIN),Fuzz/corpus,corpus)

fuzz-proxy: $(PROXY_FUZZ_BIN)
	$(call run-fuzzer,$(PROXY_FUZZ_BIN),Fuzz/corpus-proxy,corpus-proxy)

fuzz-clean:
	rm -rf $(FUZZ_BUILD) fuzz-artifacts

# The strict config.json reader (Sources/TrustCore/Config/StrictJSON.swift):
# `make fuzz-config`, same conventions, its own seed corpus.
CONFIG_FUZZ_BIN := $(FUZZ_BUILD)/config-json-fuzz

.PHONY: fuzz-config

$(CONFIG_FUZZ_BIN): Sources/TrustCore/Config/StrictJSON.swift Fuzz/ConfigJSONFuzz.swift
	@mkdir -p $(FUZZ_BUILD)
	$(SWIFTC) -sanitize=fuzzer,address -parse-as-library -O -use-ld=lld $^ -o $@

fuzz-config: $(CONFIG_FUZZ_BIN)
	@rm -rf $(FUZZ_BUILD)/corpus-config && mkdir -p $(FUZZ_BUILD)/corpus-config fuzz-artifacts
	@cp Fuzz/corpus-config/* $(FUZZ_BUILD)/corpus-config/
	SWIFT_BACKTRACE=enable=no $(CONFIG_FUZZ_BIN) -max_total_time=$(SECONDS) -print_final_stats=1 \
		-artifact_prefix=fuzz-artifacts/ $(FUZZ_BUILD)/corpus-config
