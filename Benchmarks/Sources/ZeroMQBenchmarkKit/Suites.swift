public import Benchmark
import ZeroMQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Body sizes as they appear in benchmark names: "64B", "4KiB".
///
/// Benchmark names contain no spaces or slashes: `thresholds update` writes
/// `Thresholds/<target>.<name>.p90.json` with spaces turned into "_", but `thresholds check`
/// looks the file up by the unchanged name (benchmark 1.38.1), so a name with a space never
/// finds its static threshold.
func sizeLabel(_ size: Int) -> String {
    size >= 1024 && size % 1024 == 0 ? "\(size / 1024)KiB" : "\(size)B"
}

/// Messages per send/receive batch: `batch` sends through PUSH, then `batch` receives from
/// PULL, all on the benchmark's thread. Large enough to amortise the wake-ups of a
/// one-thread ping-pong, small enough to stay far below the high-water marks.
let batch = 100

/// Every benchmark iteration moves this many messages, and every reported figure (time, CPU,
/// mallocs) is divided by it: the table reads per message, throughput in messages/s.
var scaling: BenchmarkScalingFactor { .kilo }

var transferMetrics: [BenchmarkMetric] { [.throughput, .wallClock, .cpuTotal, .mallocCountTotal, .mallocBytesCount] }

func configuration(
    metrics: [BenchmarkMetric] = transferMetrics,
    tags: [String: String] = [:],
    maxDuration: Duration = .seconds(2),
    thresholds: [BenchmarkMetric: BenchmarkThresholds]? = nil
) -> Benchmark.Configuration {
    .init(
        metrics: metrics,
        tags: tags,
        // Fixed units, so rows of different sizes read alike: nanoseconds, whole bytes.
        timeUnits: .nanoseconds,
        units: [.mallocBytesCount: .count, processCPU: .count],
        warmupIterations: 5,
        scalingFactor: scaling,
        maxDuration: maxDuration,
        maxIterations: 100_000,
        thresholds: thresholds
    )
}

/// The malloc regression gate: the raw figure is mallocs per iteration (1 000 messages), so
/// an absolute tolerance of 10 allows 0.01 stray malloc per message but fails on one more
/// allocation per message. Used by `swift package benchmark thresholds check --metric
/// mallocCountTotal` against Thresholds/*.p90.json (docs/PERFORMANCE.md): only that metric,
/// because with the CPU metrics the package itself reads /proc around every iteration, which
/// adds 16–22 mallocs per iteration.
var mallocGate: [BenchmarkMetric: BenchmarkThresholds] {
    [.mallocCountTotal: .init(absolute: [.p50: 10, .p90: 10])]
}

/// Whether each outgoing message is a new `Message` or one long-lived `Message` refilled in
/// place (the way the ZManager roles send, from their `Outbox`).
public enum MessageReuse: String, CaseIterable, Sendable {
    /// A new `Message` per send: `pooledMessage(count:fill:)` or `Message(size:)`; each makes
    /// a Swift heap `zmq_msg_t` (the rows the first measurements were taken with).
    case fresh = ""
    /// One `Message` refilled per send: `pool.fill(&message, count:)` or
    /// `message.reset(size:)` + write; no Swift allocation.
    case reused = "-reused"
}

/// A pool whose `fill` goes through the pool at every size (its threshold is clamped to
/// `BufferPool.inlineLimit + 1` = 34 bytes), so that the zero-copy reuse rows are zero-copy
/// at 64 B too, as `pooledMessage` is. With the shared pool (threshold 4 KiB) `fill` of 64 B
/// is `reset(size:)`, i.e. the copy row.
let alwaysPooled = BufferPool(zeroCopyThreshold: 0)

/// Registers one send+receive benchmark. Each iteration moves 1 000 messages of `size` bytes:
/// with `threads: .one` in batches of ``batch`` (send a batch through PUSH, then receive it
/// from PULL, on the benchmark's thread); with `.two` a sender thread sends all 1 000 while
/// the benchmark's thread receives them. Sockets, pool and payload are set up once, outside
/// the measurement; every message gets the whole payload written into its body. With
/// `reuse: .reused` (one thread only) the sends refill one long-lived `Message`.
func registerTransfer(
    _ name: String, transport: Transport, size: Int, path: BodyPath, threads: Threads = .one,
    reuse: MessageReuse = .fresh, configuration: Benchmark.Configuration, pool: BufferPool = .shared
) {
    precondition(reuse == .fresh || threads == .one, "the two-thread sender makes a new Message per send")
    let holder = LinkHolder()
    var configuration = configuration
    configuration.metrics += [processCPU] + (path == .zeroCopy ? [poolFallbacks] : [])
    Benchmark(name, configuration: configuration) { benchmark in
        guard let link = holder.link else { throw BenchmarkFailure("no link") }
        let total = benchmark.scaledIterations.count
        // Reading the pool's statistics allocates, so it stays outside the measured region.
        let fallbacks = path == .zeroCopy ? pool.statistics.fallbacks : 0
        // The long-lived outgoing message of the reuse rows: made outside the measured region,
        // so the figures are what refilling it costs.
        var outgoing = Message()
        benchmark.startMeasurement()
        let cpu = processCPUNanoseconds()
        if let sender = holder.sender {
            sender.start(total)
            try link.receive(total)
            try sender.wait()
        } else {
            var done = 0
            while done < total {
                let count = min(batch, total - done)
                switch reuse {
                case .fresh:
                    for _ in 0..<count {
                        var message = link.makeMessage(path)
                        try link.send(&message)
                    }
                case .reused:
                    for _ in 0..<count {
                        link.refill(path, into: &outgoing)
                        try link.send(&outgoing)
                    }
                }
                try link.receive(count)
                done += count
            }
        }
        let cpuUsed = processCPUNanoseconds() - cpu
        benchmark.stopMeasurement()
        benchmark.measurement(processCPU, cpuUsed)
        if path == .zeroCopy { benchmark.measurement(poolFallbacks, pool.statistics.fallbacks - fallbacks) }
    } setup: {
        try holder.open(transport: transport, size: size, pool: pool, threads: threads, path: path)
    } teardown: {
        holder.close()
    }
}

/// CPU time of the whole process (every thread: the benchmark's, a sender's, libzmq's I/O
/// thread) from `CLOCK_PROCESS_CPUTIME_ID`, per message. `.cpuTotal` is reported too, but on
/// Linux it comes from scheduler ticks (10 ms), too coarse for a millisecond iteration.
public var processCPU: BenchmarkMetric {
    .custom("CPU ns (process clock)", polarity: .prefersSmaller, useScalingFactor: true)
}

/// Pool acquisitions that fell back to malloc during the iteration (raw count per 1 000
/// messages, not scaled): must stay 0, or the zero-copy figures include malloc'd bodies.
var poolFallbacks: BenchmarkMetric {
    .custom("pool fallbacks per 1000 msgs", polarity: .prefersSmaller, useScalingFactor: false)
}

public func processCPUNanoseconds() -> Int {
    var now = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now)
    return now.tv_sec * 1_000_000_000 + now.tv_nsec
}

/// ZeroMQTransfer: inproc and tcp, 64 B and 64 KiB, zero-copy vs copy, each with a new
/// `Message` per send and with one reused `Message` (`…-reused`), with the malloc gate on the
/// zero-copy path and on every reused row; then the allocation-accounting benchmarks.
public func registerTransferBenchmarks() {
    for transport in Transport.allCases {
        for size in [64, 64 << 10] {
            for path in BodyPath.allCases {
                for reuse in MessageReuse.allCases {
                    registerTransfer(
                        "\(transport)-\(sizeLabel(size))-\(path.rawValue)\(reuse.rawValue)",
                        transport: transport, size: size, path: path, reuse: reuse,
                        configuration: configuration(thresholds: path == .zeroCopy || reuse == .reused ? mallocGate : nil),
                        pool: path == .zeroCopy && reuse == .reused ? alwaysPooled : .shared)
                }
            }
        }
    }
    registerAllocationAccounting()
}

/// ZeroCopySweep(Jemalloc): zero-copy vs copy by body size over inproc and tcp, to place
/// `BufferPool.zeroCopyThreshold`.
public func registerSizeSweep(allocator: String) {
    let sizes = [64, 256, 1 << 10, 4 << 10, 8 << 10, 16 << 10, 64 << 10]
    for threads in Threads.allCases {
        for transport in Transport.allCases {
            for size in sizes {
                for path in BodyPath.allCases {
                    registerTransfer(
                        "sweep-\(transport)-\(threads.rawValue)-\(sizeLabel(size))-\(path.rawValue)",
                        transport: transport, size: size, path: path, threads: threads,
                        configuration: configuration(
                            metrics: [.throughput, .wallClock, .cpuTotal, .mallocCountTotal],
                            tags: ["allocator": allocator],
                            maxDuration: .seconds(1)))
                }
            }
        }
    }
}

/// AllocatorGlibc / AllocatorJemalloc: the same 64 KiB bodies under each allocator. The
/// allocator's name is a tag, so it shows in every result line.
public func registerAllocatorComparison(allocator: String) {
    for threads in Threads.allCases {
        for transport in Transport.allCases {
            for path in BodyPath.allCases {
                registerTransfer(
                    "64KiB-\(transport)-\(threads.rawValue)-\(path.rawValue)",
                    transport: transport, size: 64 << 10, path: path, threads: threads,
                    configuration: configuration(tags: ["allocator": allocator]))
            }
        }
    }
}
