import Benchmark
import ZeroMQBenchmarkKit

/// 64 KiB bodies on glibc malloc (the same bodies as AllocatorJemalloc).
let benchmarks: @Sendable () -> Void = {
    let allocator = AllocatorProbe.name
    precondition(allocator == "glibc malloc", "AllocatorGlibc must run on glibc malloc, found \(allocator)")
    registerAllocatorComparison(allocator: allocator)
}
