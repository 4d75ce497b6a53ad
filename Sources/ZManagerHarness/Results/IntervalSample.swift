/// One interval of a measurement's time series (``Measurement/intervals``).
///
/// Answers belong to the interval they were received in; messages to the one they were sent
/// in (open loop: intended to be sent in). So `received` and the latencies describe what came
/// back during the interval, `sent` and `unanswered` what went out during it. Over a whole
/// measurement, the `received` add up to ``Measurement/received``, the `errors` to
/// ``Measurement/errors``, and the `unanswered` to the sent messages without a result: the
/// lost ones plus those answered with an error.
public struct IntervalSample: Codable, Sendable, Equatable {
    /// Start, seconds after the measure phase began.
    public var startSeconds: Double
    /// Length, seconds (the last interval ends at the last answer, so it may be shorter).
    public var seconds: Double
    public var sent: Int
    public var received: Int
    /// `received` ÷ `seconds`.
    public var messagesPerSecond: Double
    /// Corrected latency of the answers received in the interval, nanoseconds (0 without any).
    public var p50Nanoseconds: UInt64
    public var p90Nanoseconds: UInt64
    public var p99Nanoseconds: UInt64
    public var maxNanoseconds: UInt64
    /// Error answers received in the interval.
    public var errors: Int
    /// Messages sent in the interval that never got a result.
    public var unanswered: Int

    public init(startSeconds: Double, seconds: Double, sent: Int, received: Int, p50Nanoseconds: UInt64,
                p90Nanoseconds: UInt64, p99Nanoseconds: UInt64, maxNanoseconds: UInt64, errors: Int, unanswered: Int) {
        self.startSeconds = startSeconds
        self.seconds = seconds
        self.sent = sent
        self.received = received
        messagesPerSecond = seconds > 0 ? Double(received) / seconds : 0
        self.p50Nanoseconds = p50Nanoseconds
        self.p90Nanoseconds = p90Nanoseconds
        self.p99Nanoseconds = p99Nanoseconds
        self.maxNanoseconds = maxNanoseconds
        self.errors = errors
        self.unanswered = unanswered
    }
}

extension IntervalSample {
    /// Each interval's start and length, seconds: the last ends at the last answer.
    static func spans(_ recorder: LatencyRecorder) -> [(start: Double, seconds: Double)] {
        let length = Double(recorder.intervalLength) / 1e9
        let end = Double(recorder.lastReceive &- recorder.intervalStart) / 1e9
        let count = recorder.intervals.count
        return (0..<count).map { index in
            let start = Double(index) * length
            return (start, index == count - 1 ? Swift.max(Swift.min(end - start, length), 0) : length)
        }
    }

    /// A measurement's series: the recorder's intervals (answers, by receive time) beside the
    /// sender's (messages, by send time), as many as the longer of the two; nil without one.
    static func series(_ o: LoadGenerator.Outcome) -> [IntervalSample]? {
        let recorder = o.recorder
        guard recorder.intervalLength > 0, !recorder.intervals.isEmpty else { return nil }
        let length = Double(recorder.intervalLength) / 1e9
        let spans = spans(recorder)
        let first = o.tracker.first, sentEnd = o.tracker.first + UInt64(o.sent)
        let bounds = o.sendBoundaries.map { min($0, sentEnd) }
        let total: Int = Swift.max(recorder.intervals.count, bounds.count)
        return (0..<total).map { (index: Int) -> IntervalSample in
            let low = index < bounds.count ? bounds[index] : sentEnd
            let high = index + 1 < bounds.count ? bounds[index + 1] : sentEnd
            let sent = low >= first ? Int(high - low) : 0
            let span: (start: Double, seconds: Double) = index < spans.count ? spans[index] : (Double(index) * length, length)
            guard index < recorder.intervals.count else {
                return IntervalSample(startSeconds: span.start, seconds: span.seconds, sent: sent, received: 0, p50Nanoseconds: 0,
                                      p90Nanoseconds: 0, p99Nanoseconds: 0, maxNanoseconds: 0, errors: 0,
                                      unanswered: o.tracker.unseen(in: low..<high))
            }
            let h = recorder.intervals[index]
            let any = h.totalCount > 0
            return IntervalSample(startSeconds: span.start, seconds: span.seconds, sent: sent, received: Int(h.totalCount),
                                  p50Nanoseconds: any ? h.valueAtPercentile(50) : 0, p90Nanoseconds: any ? h.valueAtPercentile(90) : 0,
                                  p99Nanoseconds: any ? h.valueAtPercentile(99) : 0, maxNanoseconds: any ? h.max : 0,
                                  errors: recorder.intervalErrors[index], unanswered: o.tracker.unseen(in: low..<high))
        }
    }
}
