import Synchronization

/// How long flows took from the Subject's intake to their result, per flow: a histogram with
/// fixed buckets from 50 µs to 60 s, for `/metrics` (`zmanager_flow_duration_seconds`).
///
/// Recorded by the Integration Manager when a result passes, from the start ``FlowDeadlines``
/// already keeps for the flow's deadline, so it exists only while flows have one
/// (`limits.flow_timeout`): without deadlines nothing tracks when a flow started, and adding that
/// would cost every flow a lock and a clock read on two threads. One uncontended lock per result
/// here; the exporter takes the same lock once per scrape.
public final class FlowLatencies: Sendable {
    /// Upper bounds of the buckets, in seconds (Prometheus' `le`); one more, `+Inf`, is implied.
    public static let bounds: [Double] = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                          0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]

    /// One flow's histogram: counts per bucket (not cumulative), their sum and count.
    public struct Histogram: Sendable, Equatable {
        public var buckets = [Int](repeating: 0, count: FlowLatencies.bounds.count + 1)
        public var sum: Double = 0
        public var count = 0

        /// Counts of observations at most each bound, then the total (`+Inf`), as Prometheus
        /// renders `_bucket` lines.
        public var cumulative: [Int] {
            var running = 0
            return buckets.map { running += $0; return running }
        }
    }

    private let histograms = Mutex<[String: Histogram]>([:])
    /// Flow names kept at most; results of further flows are counted under `flow="other"` (a
    /// flow table is bounded, but reloads could add names without end).
    public static let flowLimit = 1_000

    public init() {}

    func record(flow: String, seconds: Double) {
        var index = Self.bounds.count
        for (i, bound) in Self.bounds.enumerated() where seconds <= bound {
            index = i
            break
        }
        histograms.withLock { histograms in
            let name = histograms[flow] != nil || histograms.count < Self.flowLimit ? flow : "other"
            histograms[name, default: Histogram()].buckets[index] += 1
            histograms[name, default: Histogram()].sum += seconds
            histograms[name, default: Histogram()].count += 1
        }
    }

    /// Every flow's histogram so far, by flow name.
    public var snapshot: [String: Histogram] { histograms.withLock { $0 } }
}
