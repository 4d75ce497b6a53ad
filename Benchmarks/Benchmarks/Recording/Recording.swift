import Benchmark
import ZManagerHarness

/// What the load generator spends per measured answer besides the sockets: one clock read,
/// the sequence number marked in a bitmap, one (closed loop) or two (open loop) HdrHistogram
/// increments. The instrument's budget is at most 50 ns per sample, so that recording never
/// limits the generator (docs/INSTRUMENT.md has the figures). No allocation per sample once
/// the bitmap has grown: the mallocs metric counts the bitmap's growth in the first
/// iterations only.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .cpuTotal, .mallocCountTotal],
        timeUnits: .nanoseconds,
        scalingFactor: .kilo,
        maxDuration: .seconds(2),
        maxIterations: 10_000
    )
    Benchmark("clock read (clock_gettime CLOCK_MONOTONIC), per sample") { benchmark in
        var sum: UInt64 = 0
        for _ in benchmark.scaledIterations { sum &+= AnswerRecorder.now() }
        blackHole(sum)
    }
    for openLoop in [false, true] {
        Benchmark("record an answer without the clock read (\(openLoop ? "open" : "closed") loop), per sample") { benchmark in
            var recorder = AnswerRecorder(first: 0, openLoop: openLoop)
            var seq: UInt64 = 0
            let sent: UInt64 = 1_000_000
            for _ in benchmark.scaledIterations {
                // A latency that varies like real ones do (1-65 µs), so buckets differ.
                blackHole(recorder.record(seq: seq, intended: sent, sent: sent, received: sent + 1_000 + (seq & 0xFFFF)))
                seq += 1
            }
            blackHole(recorder.recorded)
        }
    }
    for openLoop in [false, true] {
        Benchmark("record an answer (\(openLoop ? "open" : "closed") loop), per sample") { benchmark in
            // One recorder across iterations, as in a run: sequence numbers keep growing.
            var recorder = AnswerRecorder(first: 0, openLoop: openLoop)
            var seq: UInt64 = 0
            let sent = AnswerRecorder.now()
            for _ in benchmark.scaledIterations {
                blackHole(recorder.record(seq: seq, intended: sent, sent: sent))
                seq += 1
            }
            blackHole(recorder.recorded)
        }
    }
}
