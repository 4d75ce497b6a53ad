// swift-tools-version: 6.1
//
// ZManager for Swift: DigitalPy's ZManager message-routing architecture on libzmq,
// plus the load-testing harness that measures it.
//
// Layers (each module depends only on the ones above it):
//   CZeroMQ      system library: libzmq's C API (module map + one-line shim)
//   ZeroMQ       Swift wrapper: context, sockets, messages, polling, typed errors, buffer pool
//   CZManagerShims   header-only C helpers the core's hot path inlines (the header scan)
//   ZManager     the core: action keys, flows, mapping, wire codec, Subject / Worker / IM
//   CBareTopology    the bare topology's stages in C (the calibration), used by the harness
//                    and by zmanager-bare-c, the standalone C reference program
//   ZManagerHarness  the load-testing harness: scenarios, load generator, calibration, reports
//   ZManagerMetrics  operations: Prometheus metrics and health over HTTP for serve and workers
//   ZManagerServe    the serve, worker and keygen commands, for zmanager and for executables of
//                    your own handlers (ZManagerComponent; examples/component is a template)
//   zmanager     the command-line tool (linked with jemalloc)
import PackageDescription

let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "ZManager",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "ZeroMQ", targets: ["ZeroMQ"]),
        .library(name: "ZManager", targets: ["ZManager"]),
        .library(name: "ZManagerHarness", targets: ["ZManagerHarness"]),
        .library(name: "ZManagerMetrics", targets: ["ZManagerMetrics"]),
        .library(name: "ZManagerServe", targets: ["ZManagerServe"]),
        .executable(name: "zmanager", targets: ["zmanager"]),
        .executable(name: "zmanager-bare-c", targets: ["zmanager-bare-c"]),
        .executable(name: "zmanager-component-example", targets: ["zmanager-component-example"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.0.0"),
        // Pinned to 0.2.x: every latency figure in results/ is this implementation's bucketing and
        // percentile arithmetic (docs/RESULTS.md, "What the figures depend on").
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", .upToNextMinor(from: "0.2.0")),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.1.0"),
        .package(url: "https://github.com/swhitty/FlyingFox.git", from: "0.27.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.6.0"),
    ],
    targets: [
        // No pkgConfig: Debian's libzmq.pc pulls in krb5's -isystem flags, which SwiftPM
        // refuses with a warning on every build; zmq.h and libzmq.so are on the default paths.
        .systemLibrary(
            name: "CZeroMQ",
            providers: [.apt(["libzmq3-dev"])]
        ),
        .systemLibrary(
            name: "CJemalloc",
            providers: [.apt(["libjemalloc-dev"])]
        ),
        // The bare ZManager topology in C: the calibration stages the harness runs and the
        // standalone reference program (zmanager-bare-c) runs, the same code for both.
        .target(
            name: "CBareTopology",
            linkerSettings: [.linkedLibrary("zmq"), .linkedLibrary("pthread")]
        ),
        .executableTarget(
            name: "zmanager-bare-c",
            dependencies: ["CBareTopology"]
        ),
        .target(
            name: "ZeroMQ",
            dependencies: ["CZeroMQ"],
            swiftSettings: strict
        ),
        .target(name: "Pickle", swiftSettings: strict),
        .target(name: "CZManagerShims"),
        .target(
            name: "ZManager",
            dependencies: [
                "ZeroMQ",
                "Pickle",
                "CZManagerShims",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "ZManagerHarness",
            dependencies: [
                "ZManager",
                "ZeroMQ",
                "CBareTopology",
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "ZManagerMetrics",
            dependencies: [
                "ZManager",
                "ZeroMQ",
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "FlyingFox", package: "FlyingFox"),
                .product(name: "FlyingSocks", package: "FlyingFox"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "ZManagerServe",
            dependencies: [
                "ZManager",
                "ZManagerMetrics",
                "ZeroMQ",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "zmanager",
            dependencies: [
                "ZManager",
                "ZManagerServe",
                "ZManagerHarness",
                "ZeroMQ",
                "CJemalloc",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        // The template of a component of your own (examples/component/README.md): a target of
        // this package so that every build and test builds it.
        .executableTarget(
            name: "zmanager-component-example",
            dependencies: ["ZManager", "ZManagerServe"],
            path: "examples/component/Sources",
            swiftSettings: strict
        ),
        .testTarget(
            name: "ZeroMQTests",
            dependencies: ["ZeroMQ"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "PickleTests",
            dependencies: ["Pickle"],
            exclude: ["Fixtures"],  // the CPython script that generated CPythonFixtures.swift
            swiftSettings: strict
        ),
        .testTarget(
            name: "ZManagerHarnessTests",
            dependencies: ["ZManagerHarness", "ZManager", "ZeroMQ"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ZManagerTests",
            dependencies: ["ZManager", "ZManagerMetrics", "ZeroMQ", "Pickle", "zmanager", "zmanager-component-example"],
            swiftSettings: strict
        ),
    ]
)
