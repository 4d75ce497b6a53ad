// swift-tools-version: 6.3
//
// libFuzzer targets for the roles' input, kept in their own package (as Benchmarks/ is) so the
// fuzzer's instrumentation and entry point never enter the main build. Build and run them with
// `scripts/fuzz ROLE SECONDS` from the repository root; Fuzz/README.md says what they check.
//
//   FuzzWorker   every input is what a worker reads from the Subject
//   FuzzSubject  every input is what the Subject reads at its front
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "ZManagerFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "ZManager", path: ".."),
    ],
    targets: [
        // The role under test on its own thread, fed and drained over inproc sockets.
        .target(
            name: "FuzzSupport",
            dependencies: [
                .product(name: "ZManager", package: "ZManager"),
                .product(name: "ZeroMQ", package: "ZManager"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(name: "FuzzWorker", dependencies: ["FuzzSupport"], swiftSettings: swiftSettings),
        .executableTarget(name: "FuzzSubject", dependencies: ["FuzzSupport"], swiftSettings: swiftSettings),
    ]
)
