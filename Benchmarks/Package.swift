// swift-tools-version: 6.3
//
// Benchmarks for ZManager for Swift, kept in their own package (as swift-nio does) so that
// the ordo-one benchmark dependency and its malloc interposer never enter the main build.
//
//   cd Benchmarks && swift package benchmark            # everything
//   swift package benchmark --target ZeroMQTransfer     # one suite
//
// Suites (executable targets under Benchmarks/<Name>/, found by the BenchmarkPlugin):
//   ZeroMQTransfer     send+receive over inproc and tcp, 64 B and 64 KiB, pooled zero-copy vs
//                      copy, new vs reused Message, plus the allocation-accounting benchmarks
//                      (malloc regression gate)
//   ZeroCopySweep      pooled vs copy by body size, to place BufferPool.zeroCopyThreshold
//   ZeroCopySweepJemalloc  the same sweep, linked with jemalloc (as the zmanager tool is)
//   AllocatorGlibc     64 KiB bodies with glibc malloc
//   AllocatorJemalloc  the same bodies, linked with jemalloc
//   Pipeline           the whole ZManager topology (Subject, worker, Integration Manager) vs a
//                      bare libzmq pipeline with the same hops, same client: per request msg/s,
//                      CPU, mallocs (malloc regression gate on the core's allocations)
//   Recording          the load generator's per-answer recording (clock, sequence bitmap,
//                      HdrHistogram): the instrument's 50 ns budget per sample
// The transfer bodies live once, in the ZeroMQBenchmarkKit library.
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let benchmarkDependencies: [Target.Dependency] = [
    "ZeroMQBenchmarkKit",
    .product(name: "Benchmark", package: "benchmark"),
]

let package = Package(
    name: "ZManagerBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "ZManager", path: ".."),
        // Only the MallocInterposer trait: the default RuntimeInterposer trait pulls in a
        // package that is not available here, and ARC counts are not needed. The repository
        // was renamed from package-benchmark (same tags); the old identity makes the plugin
        // print a deprecation warning on every run.
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.0", traits: ["MallocInterposer"]),
    ],
    targets: [
        // The shared benchmark bodies.
        .target(
            name: "ZeroMQBenchmarkKit",
            dependencies: [
                .product(name: "ZeroMQ", package: "ZManager"),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            swiftSettings: swiftSettings
        ),
        // `mallctl` only, to prove jemalloc is the allocator of the jemalloc variant (the
        // main package's CJemalloc is not a product). Linking it links libjemalloc.
        .systemLibrary(
            name: "CJemallocProbe",
            providers: [.apt(["libjemalloc-dev"])]
        ),
        // jemalloc's options for the jemalloc-linked suites (`malloc_conf`, see config.c).
        .target(name: "JemallocConfig"),
        // The "is jemalloc really the allocator" check those suites run first.
        .target(
            name: "JemallocCheck",
            dependencies: ["CJemallocProbe", "JemallocConfig"],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "ZeroMQTransfer",
            dependencies: benchmarkDependencies,
            path: "Benchmarks/ZeroMQTransfer",
            swiftSettings: swiftSettings,
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "ZeroCopySweep",
            dependencies: benchmarkDependencies,
            path: "Benchmarks/ZeroCopySweep",
            swiftSettings: swiftSettings,
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "AllocatorGlibc",
            dependencies: benchmarkDependencies,
            path: "Benchmarks/AllocatorGlibc",
            swiftSettings: swiftSettings,
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "AllocatorJemalloc",
            dependencies: benchmarkDependencies + ["JemallocCheck"],
            path: "Benchmarks/AllocatorJemalloc",
            swiftSettings: swiftSettings,
            linkerSettings: [.linkedLibrary("jemalloc")],
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "ZeroCopySweepJemalloc",
            dependencies: benchmarkDependencies + ["JemallocCheck"],
            path: "Benchmarks/ZeroCopySweepJemalloc",
            swiftSettings: swiftSettings,
            linkerSettings: [.linkedLibrary("jemalloc")],
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "Recording",
            dependencies: benchmarkDependencies + [.product(name: "ZManagerHarness", package: "ZManager")],
            path: "Benchmarks/Recording",
            swiftSettings: swiftSettings,
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "Rings",
            dependencies: benchmarkDependencies,
            path: "Benchmarks/Rings",
            swiftSettings: swiftSettings,
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "Pipeline",
            dependencies: benchmarkDependencies + [
                .product(name: "ZManager", package: "ZManager"),
                .product(name: "ZeroMQ", package: "ZManager"),
            ],
            path: "Benchmarks/Pipeline",
            swiftSettings: swiftSettings,
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
