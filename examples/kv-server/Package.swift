// swift-tools-version: 6.2
// A framed key-value server on trustctl's service core (see README.md).
import PackageDescription

let package = Package(
    name: "kv-server",
    dependencies: [.package(name: "trustctl", path: "../..")],
    targets: [
        .executableTarget(name: "kv-server", dependencies: [.product(name: "TrustCore", package: "trustctl")])
    ]
)
