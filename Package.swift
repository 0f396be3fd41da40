// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "AgencyBus",
    products: [
        .library(name: "AgencyBus", targets: ["AgencyBus"]),
        .executable(name: "bus-broker", targets: ["BusBroker"]),
        .executable(name: "bus-cli", targets: ["bus-cli"]),
    ],
    targets: [
        .systemLibrary(name: "CZMQ", path: "Sources/CZMQ", pkgConfig: "libzmq",
                       providers: [.apt(["libzmq3-dev"])]),
        .systemLibrary(name: "CSQLite", path: "Sources/CSQLite", pkgConfig: "sqlite3",
                       providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CSodium", path: "Sources/CSodium", pkgConfig: "libsodium",
                       providers: [.apt(["libsodium-dev"])]),
        .target(name: "AgencyBus", dependencies: ["CZMQ", "CSQLite", "CSodium"]),
        .executableTarget(name: "BusBroker", dependencies: ["AgencyBus"]),
        .executableTarget(name: "bus-cli", dependencies: ["AgencyBus"]),
        .testTarget(name: "AgencyBusTests", dependencies: ["AgencyBus"]),
    ]
)
