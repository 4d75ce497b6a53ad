import Benchmark
import ZeroMQ

/// One hop through an in-process `MessageRing` (the threads deployment's handoff between the
/// Subject, its workers and the IM), at 64 B and 64 KiB with pooled bodies, on one thread: each
/// iteration moves 1 000 messages in batches of 100 (written, then read back), as ZeroMQTransfer's
/// `inproc-*-zero-copy-reused` does through an inproc PUSH/PULL pair, so the two compare per hop.
/// No thread switches, no wake-ups: what the ring itself costs. Zero allocations per message.
let benchmarks: @Sendable () -> Void = {
    for size in [64, 64 << 10] {
        let label = size == 64 ? "64B" : "64KiB"
        Benchmark("ring-\(label)-zero-copy-reused",
                  configuration: .init(metrics: [.throughput, .wallClock, .cpuTotal, .mallocCountTotal],
                                       scalingFactor: .kilo, maxDuration: .seconds(2))) { benchmark in
            let pool = BufferPool(zeroCopyThreshold: 0)
            let ring = MessageRing(limit: 128)
            var outgoing = Message()
            var received = Message()
            // The payload every message carries, copied into each body, as ZeroMQTransfer does.
            let payload = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 64)
            defer { payload.deallocate() }
            for index in payload.indices { payload[index] = UInt8(truncatingIfNeeded: index &* 31 &+ 7) }
            let source = UnsafeRawBufferPointer(payload)
            benchmark.startMeasurement()
            defer { benchmark.stopMeasurement() }
            for _ in 0..<max(1, benchmark.scaledIterations.count / 100) {
                for _ in 0..<100 {
                    pool.fill(&outgoing, count: size) { $0.copyMemory(from: source) }
                    guard ring.write(&outgoing) == .written else { fatalError("ring full") }
                }
                for _ in 0..<100 {
                    guard ring.read(into: &received) == .frame(more: false) else { fatalError("ring empty") }
                    blackHole(received.count)
                }
            }
        }
    }
}
