import Benchmark
import JemallocCheck
import ZeroMQBenchmarkKit

/// 64 KiB bodies on jemalloc (the same bodies as AllocatorGlibc). The target links
/// libjemalloc, which then serves every malloc in the process, libzmq's included; the check
/// makes sure of it before anything is measured. jemalloc runs with one arena
/// (JemallocConfig's `malloc_conf`): see config.c for why.
let benchmarks: @Sendable () -> Void = {
    registerAllocatorComparison(allocator: Jemalloc.verifiedName())
}
