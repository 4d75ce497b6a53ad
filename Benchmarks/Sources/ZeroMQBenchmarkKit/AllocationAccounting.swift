import Benchmark
import ZeroMQ

/// Benchmarks that attribute each allocation of a message to its owner by taking the send
/// path apart (per message, 1 000 per iteration):
///
/// - `Message()` alone: the Swift side's heap `zmq_msg_t` (64 B), one per `Message` made.
/// - `Message(size: 32)`: the same, no more: bodies ≤ 33 B live inside `zmq_msg_t` (VSM).
/// - `Message(size: 64)`: plus libzmq's body block (`zmq_msg_init_size`, header + body).
/// - `pooledMessage` without a socket: the Swift `zmq_msg_t` plus libzmq's 40-byte
///   reference-count block from `zmq_msg_init_data`; the pooled body itself is not allocated.
///   (The pool has no public acquire/release, so this is the nearest "pool only" figure; the
///   pool's own acquire/release allocates nothing: a lock-free stack over a preallocated slab.)
/// - a reused `Message` re-initialised with `reset(size:)`: no Swift allocation at all, so
///   what remains is libzmq's (0 at ≤ 33 B, one block above).
/// - a reused `Message` refilled by `BufferPool.fill(_:count:_:)`: through the pool (at 64 B
///   with ``alwaysPooled``, at 64 KiB with the shared pool) only libzmq's 40-byte
///   reference-count block remains; below the shared pool's threshold (64 B) it is
///   `reset(size:)`, i.e. libzmq's body block.
/// - the reused message over inproc and tcp: what the sockets add per message.
func registerAllocationAccounting() {
    let metrics: [BenchmarkMetric] = [.throughput, .wallClock, .mallocCountTotal, .mallocBytesCount]
    let pool = BufferPool.shared
    let strict = configuration(metrics: metrics, maxDuration: .seconds(1), thresholds: mallocGate)

    Benchmark("alloc-Message()", configuration: strict) { benchmark in
        for _ in benchmark.scaledIterations {
            let message = Message()
            blackHole(message.count)
        }
    }
    for size in [32, 64] {
        Benchmark("alloc-Message(size:\(size))", configuration: strict) { benchmark in
            for _ in benchmark.scaledIterations {
                let message = Message(size: size)
                blackHole(message.count)
            }
        }
    }
    for size in [64, 64 << 10] {
        Benchmark("alloc-pooledMessage-\(sizeLabel(size))-no-socket", configuration: strict) { benchmark in
            for _ in benchmark.scaledIterations {
                let message = pool.pooledMessage(count: size) { body in body.storeBytes(of: 1, as: UInt8.self) }
                blackHole(message.count)
            }
        }
    }
    for size in [32, 64, 64 << 10] {
        Benchmark("alloc-reused-Message-reset(size:\(size))", configuration: strict) { benchmark in
            var message = Message()
            for _ in benchmark.scaledIterations {
                message.reset(size: size)
                blackHole(message.count)
            }
            message.reset()
        }
    }

    for (label, size, fillPool) in [("64B-always-pooled", 64, alwaysPooled), ("64B-shared-pool", 64, pool),
                                     ("64KiB-shared-pool", 64 << 10, pool)] {
        Benchmark("alloc-reused-fill-\(label)", configuration: strict) { benchmark in
            var message = Message()
            for _ in benchmark.scaledIterations {
                fillPool.fill(&message, count: size) { body in body.storeBytes(of: 1, as: UInt8.self) }
                blackHole(message.count)
            }
            message.reset()
        }
    }

    // The reused outgoing message over the sockets: a ≤ 33-byte body is the path that can be
    // allocation-free end to end today.
    for transport in Transport.allCases {
        for size in [32, 64, 64 << 10] {
            let holder = LinkHolder()
            Benchmark("alloc-\(transport)-\(sizeLabel(size))-reused-message", configuration: strict) { benchmark in
                guard let link = holder.link else { throw BenchmarkFailure("no link") }
                let total = benchmark.scaledIterations.count
                var done = 0
                while done < total {
                    let count = min(batch, total - done)
                    for _ in 0..<count {
                        link.refillOutgoing()
                        try link.send(&link.outgoing)
                    }
                    try link.receive(count)
                    done += count
                }
            } setup: {
                try holder.open(transport: transport, size: size, pool: pool)
            } teardown: {
                holder.close()
            }
        }
    }
}
