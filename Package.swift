// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "AgencyBus",
    products: [
        .library(name: "AgencyBus", targets: ["AgencyBus"]),
        .executable(name: "bus-broker", targets: ["BusBroker"]),
        .executable(name: "bus-cli", targets: ["bus-cli"]),
        .executable(name: "bus-bench", targets: ["bus-bench"]),
    ],
    targets: [
        .systemLibrary(name: "CZMQ", path: "Sources/CZMQ", pkgConfig: "libzmq",
                       providers: [.apt(["libzmq3-dev"])]),
        .systemLibrary(name: "CSQLite", path: "Sources/CSQLite", pkgConfig: "sqlite3",
                       providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CSodium", path: "Sources/CSodium", pkgConfig: "libsodium",
                       providers: [.apt(["libsodium-dev"])]),
        .systemLibrary(name: "CCrypto", path: "Sources/CCrypto", pkgConfig: "libcrypto",
                       providers: [.apt(["libssl-dev"])]),
        .target(name: "AgencyBus", dependencies: ["CZMQ", "CSQLite", "CSodium", "CCrypto"]),
        .executableTarget(name: "BusBroker", dependencies: ["AgencyBus"]),
        .executableTarget(name: "bus-cli", dependencies: ["AgencyBus"]),
        // `make bench`: real broker processes and real node code on loopback (not part of `make test`).
        .executableTarget(name: "bus-bench", dependencies: ["AgencyBus", "CZMQ", "CSQLite", "CSodium", "CCrypto"],
                         swiftSettings: [.swiftLanguageMode(.v5)]),
        // FuzzCrashes/ holds raw inputs the tests read by path (not resources to bundle).
        .testTarget(name: "AgencyBusTests", dependencies: ["AgencyBus"], exclude: ["FuzzCrashes"]),
    ]
)
