// swift-tools-version: 6.2
// Benchmark peers for trustctl's echo server. A separate package on purpose:
// swift-nio is a benchmark peer only and never a dependency of the product.
//
// Products built from here:
// - NIOEchoServer1: our small NIO echo server with a --threads flag, so NIO
//   can be measured with one event loop (the fair peer of one trustctl worker).
// - NIOEchoServer: swift-nio's own example as shipped. It is an executable
//   target of the swift-nio dependency, built with
//   `swift build --package-path Benchmarks -c release --target NIOEchoServer`
//   (SwiftPM builds any target of the graph by name; the binary lands in
//   .build/release/NIOEchoServer).

import PackageDescription

let package = Package(
    name: "trustctl-benchmarks",
    products: [
        .executable(name: "NIOEchoServer1", targets: ["NIOEchoServer1"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3")
    ],
    targets: [
        .executableTarget(
            name: "NIOEchoServer1",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        )
    ]
)
