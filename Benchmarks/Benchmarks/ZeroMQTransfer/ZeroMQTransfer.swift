import Benchmark
import ZeroMQBenchmarkKit

/// Send+receive over inproc and tcp at 64 B and 64 KiB, pooled zero-copy vs copy, each with a
/// new `Message` per send and with one reused `Message` (`…-reused`: `BufferPool.fill`,
/// `reset(size:)`), and the allocation accounting with the malloc regression gate. Per
/// message: each iteration moves 1 000 messages in batches of 100 on one thread.
let benchmarks: @Sendable () -> Void = {
    registerTransferBenchmarks()
}
