# Fuzzing the framing code with libFuzzer: `make fuzz` (SECONDS=60 by default).
# The target is compiled with swiftc directly, not SwiftPM: the Framing sources are
# pure Swift with no imports, so they build alone together with Fuzz/FramingFuzz.swift.
# lld is used because the default gold linker warns about ASan's local symbols.
# SWIFT_BACKTRACE=enable=no: Swift's own crash backtracer hangs under ASan; libFuzzer
# prints the stack and writes the crashing input itself.
# Runs on a scratch copy of the committed seed corpus; crashes land in fuzz-artifacts/.

SWIFTC ?= swiftc
SECONDS ?= 60
FUZZ_BUILD := .build-fuzz
FUZZ_BIN := $(FUZZ_BUILD)/framing-fuzz
FUZZ_SOURCES := $(wildcard Sources/TrustCore/Framing/*.swift) Fuzz/FramingFuzz.swift

.PHONY: fuzz fuzz-build fuzz-clean

fuzz-build: $(FUZZ_BIN)

$(FUZZ_BIN): $(FUZZ_SOURCES)
	@mkdir -p $(FUZZ_BUILD)
	$(SWIFTC) -sanitize=fuzzer,address -parse-as-library -O -use-ld=lld \
		$(FUZZ_SOURCES) -o $@

fuzz: $(FUZZ_BIN)
	@rm -rf $(FUZZ_BUILD)/corpus && mkdir -p $(FUZZ_BUILD)/corpus fuzz-artifacts
	@cp Fuzz/corpus/* $(FUZZ_BUILD)/corpus/
	SWIFT_BACKTRACE=enable=no $(FUZZ_BIN) -max_total_time=$(SECONDS) -print_final_stats=1 \
		-artifact_prefix=fuzz-artifacts/ $(FUZZ_BUILD)/corpus

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
