import Synchronization

/// How long flows took from the Subject's intake to their result, per flow: a histogram with
/// fixed buckets from 50 µs to 60 s, for `/metrics` (`zmanager_flow_duration_seconds`).
///
/// Recorded by the Integration Manager when a result passes, from the start ``FlowDeadlines``
/// already keeps for the flow's deadline, so it exists only while flows have one
/// (`limits.flow_timeout`): without deadlines nothing tracks when a flow started. One
/// uncontended lock per result here; the exporter takes the same lock once per scrape.
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
        mutating func add(bucket: Int, seconds: Double) {
            buckets[bucket] += 1
            sum += seconds
            count += 1
        }

        /// Two histograms in one (a flow named `other` and the overflow's `other`).
        func merged(_ other: Histogram) -> Histogram {
            var merged = self
            for index in buckets.indices { merged.buckets[index] += other.buckets[index] }
            merged.sum += other.sum
            merged.count += other.count
            return merged
        }

        public var cumulative: [Int] {
            var running = 0
            return buckets.map { running += $0; return running }
        }
    }

    private let histograms = Mutex<[FlowKey: Histogram]>([:])
    /// Flow names kept at most; results of further flows are counted under `flow="other"` (a
    /// flow table is bounded, but reloads could add names without end).
    public static let flowLimit = 1_000
    private static let other = FlowKey("other")

    public init() {}

    func record(flow: String, seconds: Double) { record(flow: FlowKey(flow), seconds: seconds) }

    func record(flow: FlowKey, seconds: Double) {
        var index = Self.bounds.count
        for (i, bound) in Self.bounds.enumerated() where seconds <= bound {
            index = i
            break
        }
        histograms.withLock { histograms in
            let key = histograms.count < Self.flowLimit || histograms[flow] != nil ? flow : Self.other
            histograms[key, default: Histogram()].add(bucket: index, seconds: seconds)
        }
    }

    /// Every flow's histogram so far, by flow name.
    public var snapshot: [String: Histogram] {
        let histograms = histograms.withLock { $0 }
        return Dictionary(histograms.map { ($0.key.description, $0.value) }, uniquingKeysWith: { $0.merged($1) })
    }
}
