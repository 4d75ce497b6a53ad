import Benchmark
import ZeroMQBenchmarkKit

/// Zero-copy vs copy from 64 B to 64 KiB over inproc and tcp, one and two threads, on glibc
/// malloc: where pooling starts to pay, i.e. where `BufferPool.zeroCopyThreshold` belongs.
/// ZeroCopySweepJemalloc runs the same bodies on jemalloc.
let benchmarks: @Sendable () -> Void = {
    let allocator = AllocatorProbe.name
    precondition(allocator == "glibc malloc", "ZeroCopySweep must run on glibc malloc, found \(allocator)")
    registerSizeSweep(allocator: allocator)
}
