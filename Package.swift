// swift-tools-version: 6.2
// trustctl: a TCP echo server and network foundation on a small C socket shim.
// Layers: CNetShim (C syscalls) -> TrustCore (Swift policy) -> trustctl (CLI).

import PackageDescription

let package = Package(
    name: "trustctl",
    products: [
        .executable(name: "trustctl", targets: ["trustctl"]),
        .library(name: "TrustCore", targets: ["TrustCore"]),
        .library(name: "CNetShim", type: .static, targets: ["CNetShim"]),
        .library(name: "CNetTLS", type: .static, targets: ["CNetTLS"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
    ],
    targets: [
        // The public header's one real copy is include/cnetshim.h; the target
        // reaches it through a symbolic link because SwiftPM refuses a
        // publicHeadersPath outside the target folder.
        // The io_uring layer (cnet_uring.c) is built on liburing: Debian's
        // liburing-dev, which .ci/run installs.
        .target(
            name: "CNetShim",
            cSettings: [.define("_GNU_SOURCE")],
            linkerSettings: [.linkedLibrary("uring")]
        ),
        // TLS on OpenSSL 3 (Debian's libssl-dev, which .ci/run installs), in
        // its own target so that CNetShim stays free of OpenSSL.
        .target(
            name: "CNetTLS",
            cSettings: [.define("_GNU_SOURCE")],
            linkerSettings: [.linkedLibrary("ssl"), .linkedLibrary("crypto")]
        ),
        // zlib for the load tester's HdrHistogram V2 (compressed) codec:
        // Debian's zlib1g-dev, which .ci/run installs.
        .target(name: "CZlibShim", linkerSettings: [.linkedLibrary("z")]),
        .target(
            name: "TrustCore",
            dependencies: [
                "CNetShim",
                "CNetTLS",
                "CZlibShim",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ]
        ),
        .executableTarget(
            name: "trustctl",
            dependencies: [
                "TrustCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Per-thread seccomp and credentials, so the io_uring tests can make
        // the kernel refuse io_uring for real on one thread.
        .target(name: "CNetShimTestSupport", path: "Tests/CNetShimTestSupport"),
        .testTarget(name: "CNetShimTests", dependencies: ["CNetShim", "CNetShimTestSupport"]),
        .testTarget(name: "CNetTLSTests", dependencies: ["CNetTLS"]),
        .testTarget(name: "TrustCoreTests", dependencies: ["TrustCore", "CNetShim"]),
        // Black-box tests: they run the built trustctl binary, so they depend
        // on the executable only to make sure it is built first.
        .testTarget(name: "TrustctlTests", dependencies: ["trustctl", "TrustCore", "CNetShim"]),
    ]
)
