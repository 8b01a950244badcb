# Benchmarks: trustctl's echo server beside SwiftNIO's and a C epoll reference.
# Method and how to read the results: docs/benchmarking.md.
#
#   make bench                    3 runs x 5 s windows, every server (about 15 min)
#   make bench RUNS=1 WINDOW=2    shorter
#   make bench-quick              1 run x 1 s, small connection counts, no NIO
#                                 by default; fails only if a server does not
#                                 start or an echo does not verify (for CI)
#   make bench BENCH_SERVERS=c,nio1
#
# Benchmarks/ is its own SwiftPM package (swift-nio is never a dependency of
# the product). swift-nio's NIOEchoServer is an executable *target* of
# swift-nio, not a product, and SwiftPM builds no target of a dependency by
# name; so it is built from swift-nio's checkout (the version Benchmarks/
# resolved) as a root package, into its own scratch path.

BENCH_DIR := Benchmarks
BENCH_C_OUT := $(BENCH_DIR)/.build-c
BENCH_CC ?= cc
BENCH_CFLAGS ?= -O2 -Wall -Wextra
RUNS ?= 3
WINDOW ?= 5
WARMUP ?= 1
BENCH_SERVERS ?= trustctl,trustctl-epoll,nio1,nio,c,c-uring
BENCH_QUICK_SERVERS ?= c,c-uring,trustctl,trustctl-epoll
BENCH_ARGS ?=
# Servers whose binary must exist (else the run fails instead of skipping
# them with a warning). CI should set BENCH_REQUIRE=trustctl once the server
# is merged.
BENCH_REQUIRE ?=
PYTHON3 ?= python3

.PHONY: bench bench-quick bench-tools bench-nio bench-trustctl bench-udp

$(BENCH_C_OUT)/echo_server: $(BENCH_DIR)/c/echo_server.c
	@mkdir -p $(BENCH_C_OUT)
	$(BENCH_CC) $(BENCH_CFLAGS) -o $@ $<

$(BENCH_C_OUT)/echo_client: $(BENCH_DIR)/c/echo_client.c
	@mkdir -p $(BENCH_C_OUT)
	$(BENCH_CC) $(BENCH_CFLAGS) -o $@ $< -lm

# The io_uring reference: Debian's liburing-dev (installed by .ci/run).
$(BENCH_C_OUT)/uring_echo_server: $(BENCH_DIR)/c/uring_echo_server.c
	@mkdir -p $(BENCH_C_OUT)
	$(BENCH_CC) $(BENCH_CFLAGS) -o $@ $< -luring

# The UDP reference (recvmmsg/sendmmsg), for make bench-udp.
$(BENCH_C_OUT)/udp_echo_server: $(BENCH_DIR)/c/udp_echo_server.c
	@mkdir -p $(BENCH_C_OUT)
	$(BENCH_CC) $(BENCH_CFLAGS) -o $@ $<

bench-tools: $(BENCH_C_OUT)/echo_server $(BENCH_C_OUT)/echo_client $(BENCH_C_OUT)/uring_echo_server \
	$(BENCH_C_OUT)/udp_echo_server

bench-trustctl:
	$(SWIFT) build -c release --product trustctl

bench-nio:
	$(SWIFT) build --package-path $(BENCH_DIR) -c release --product NIOEchoServer1
	$(SWIFT) build --package-path $(BENCH_DIR)/.build/checkouts/swift-nio \
		--scratch-path $(BENCH_DIR)/.build-nio -c release --product NIOEchoServer

# trustctl may not build yet on a branch without its server: the harness
# then skips it with a warning, so a failed build is reported, not fatal.
bench: bench-tools
	-$(MAKE) --no-print-directory bench-trustctl
	$(if $(findstring nio,$(BENCH_SERVERS)),$(MAKE) --no-print-directory bench-nio)
	$(PYTHON3) $(BENCH_DIR)/run_bench.py --runs $(RUNS) --window $(WINDOW) --warmup $(WARMUP) \
		--servers $(BENCH_SERVERS) $(if $(BENCH_REQUIRE),--require $(BENCH_REQUIRE)) $(BENCH_ARGS)
	$(PYTHON3) $(BENCH_DIR)/udp_bench.py --runs $(RUNS) --window $(WINDOW) --warmup $(WARMUP)

# The UDP echo alone (docs/udp.md): trustctl (io_uring, epoll), the C
# recvmmsg reference and socat, 64 B, 1 and 100 client sockets.
bench-udp: $(BENCH_C_OUT)/udp_echo_server
	-$(MAKE) --no-print-directory bench-trustctl
	$(PYTHON3) $(BENCH_DIR)/udp_bench.py --runs $(RUNS) --window $(WINDOW) --warmup $(WARMUP)

bench-quick: bench-tools
	-$(MAKE) --no-print-directory bench-trustctl
	$(if $(findstring nio,$(BENCH_QUICK_SERVERS)),$(MAKE) --no-print-directory bench-nio)
	$(PYTHON3) $(BENCH_DIR)/run_bench.py --quick --runs 1 --window 1 --warmup 0.5 \
		--servers $(BENCH_QUICK_SERVERS) $(if $(BENCH_REQUIRE),--require $(BENCH_REQUIRE)) \
		--out-md $(BENCH_C_OUT)/benchmarks-quick.md --out-json $(BENCH_C_OUT)/bench-results-quick.json \
		--chart $(BENCH_C_OUT)/bench-cost-curve-quick.png $(BENCH_ARGS)
