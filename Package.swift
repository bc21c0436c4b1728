// swift-tools-version: 6.1
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "planq",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "planq", targets: ["planq"]),
        .library(name: "PlanCore", targets: ["PlanCore"]),
        .library(name: "PlanWorker", targets: ["PlanWorker"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/pointfreeco/swift-clocks", from: "1.1.1"),
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.1"),
    ],
    targets: [
        .target(name: "PlanCore", swiftSettings: strict),
        .systemLibrary(
            name: "CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        .executableTarget(name: "MigrationEmbedder"),
        .plugin(name: "EmbedMigrations", capability: .buildTool(), dependencies: ["MigrationEmbedder"]),
        .target(name: "Migrations", path: "Migrations", plugins: ["EmbedMigrations"]),
        .target(name: "PlanStore", dependencies: ["PlanCore", "CSQLite", "Migrations"], swiftSettings: strict),
        .target(name: "PlanWorker", dependencies: ["PlanCore", "PlanStore"], swiftSettings: strict),
        .executableTarget(
            name: "planq",
            dependencies: [
                "PlanCore", "PlanStore", "PlanWorker",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "PlanCoreTests",
            dependencies: [
                "PlanCore",
                .product(name: "Clocks", package: "swift-clocks"),
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            swiftSettings: strict
        ),
        .testTarget(name: "PlanStoreTests", dependencies: ["PlanStore", "CSQLite"], swiftSettings: strict),
        .testTarget(
            name: "PlanWorkerTests",
            dependencies: ["PlanWorker", "PlanCore"],
            swiftSettings: strict
        ),
        .testTarget(name: "planqTests", dependencies: ["planq", "PlanCore", "PlanStore"], swiftSettings: strict),
    ],
    swiftLanguageModes: [.v6]
)
