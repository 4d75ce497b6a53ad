import Benchmark
import JemallocCheck
import ZeroMQBenchmarkKit

/// The ZeroCopySweep bodies on jemalloc, the allocator the `zmanager` executable links: the
/// copy path's cost depends on the allocator, so the threshold is checked under both.
let benchmarks: @Sendable () -> Void = {
    registerSizeSweep(allocator: Jemalloc.verifiedName())
}
