import Histogram

#if canImport(Glibc)
import Glibc
#endif

/// Monotonic nanoseconds, shared by every thread of the process (sender, receiver).
@inline(__always)
func monotonicNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// The wall clock, seconds since the epoch (only for the `.hlog`'s StartTime).
func wallClockSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// CPU time of the calling thread, nanoseconds.
func threadCPUNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// CPU time of the whole process, nanoseconds.
func processCPUNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// Latency of every measured message, twice: from its intended send time (what a user
/// waiting on a schedule experiences; coordinated-omission safe) and from its actual send
/// time (what a naive generator reports). Recording is two histogram increments, no
/// allocation. One recorder per receiving thread; recorders merge at the end.
///
/// **Interval series.** After ``startIntervals(at:length:wallClock:)``, `corrected` holds the
/// current interval only (by receive time): crossing an interval's end moves it to
/// ``intervals`` and starts an empty one (one compare per message, an allocation per interval),
/// and ``finishIntervals()`` adds them all up into the total again, exactly (HdrHistogram add).
/// Recording a message therefore costs what it did without intervals.
struct LatencyRecorder {
    var corrected: Histogram<UInt64>
    var uncorrected: Histogram<UInt64>

    /// Closed loop: intended and actual send times are the same, so only `corrected` is
    /// recorded and copied to `uncorrected` at the end (one increment per message).
    private var mirrored = false

    /// The corrected histogram of every interval, in order, once ``finishIntervals()`` ran
    /// (before: the finished ones).
    private(set) var intervals: [Histogram<UInt64>] = []
    /// Error answers received in each interval, parallel to ``intervals``.
    private(set) var intervalErrors: [Int] = []
    private var currentErrors = 0
    /// Monotonic start of the first interval (the measure phase's start) and their length;
    /// 0: no interval series.
    private(set) var intervalStart: UInt64 = 0
    private(set) var intervalLength: UInt64 = 0
    /// The wall clock at ``intervalStart``, seconds since the epoch (the `.hlog` StartTime).
    private(set) var wallClockStart = 0.0
    /// The end of the current interval (never reached without a series).
    private var boundary = UInt64.max
    /// The latest receive time seen, which ends the last (partial) interval.
    private(set) var lastReceive: UInt64 = 0

    init() {
        corrected = Self.makeHistogram()
        uncorrected = corrected
    }

    /// 1 ns to 1 hour at 3 significant digits, as every latency histogram of the harness.
    static func makeHistogram() -> Histogram<UInt64> {
        Histogram(lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000_000, numberOfSignificantValueDigits: .three)
    }

    @inline(__always)
    mutating func record(intended: UInt64, sent: UInt64, received: UInt64) {
        if received >= boundary { roll(to: received) }
        _ = corrected.record(received &- min(intended, received))
        _ = uncorrected.record(received &- min(sent, received))
    }

    /// Closed loop: the message was sent when it was due.
    @inline(__always)
    mutating func record(sent: UInt64, received: UInt64) {
        mirrored = true
        if received >= boundary { roll(to: received) }
        _ = corrected.record(received &- min(sent, received))
    }

    /// Starts the interval series at `start` (monotonic ns), `length` ns each.
    mutating func startIntervals(at start: UInt64, length: UInt64, wallClock: Double) {
        precondition(length > 0 && intervals.isEmpty && corrected.totalCount == 0)
        intervalStart = start
        intervalLength = length
        wallClockStart = wallClock
        boundary = start + length
        lastReceive = start
    }

    /// An error answer received at `received` (counted in its interval).
    mutating func countError(received: UInt64) {
        guard intervalLength > 0 else { return }
        if received >= boundary { roll(to: received) }
        currentErrors += 1
    }

    /// Closes every interval that ended by `time`; an interval without answers stays, empty.
    @inline(never)
    private mutating func roll(to time: UInt64) {
        while time >= boundary {
            intervals.append(corrected)
            corrected = Self.makeHistogram()
            intervalErrors.append(currentErrors)
            currentErrors = 0
            boundary += intervalLength
        }
        lastReceive = time
    }

    /// Ends the series at the last answer: the current interval becomes the last one and
    /// `corrected` the total of all of them again. Nothing to do without a series.
    mutating func finishIntervals(lastReceive last: UInt64) {
        guard intervalLength > 0, boundary != .max else { return }
        intervals.append(corrected)
        intervalErrors.append(currentErrors)
        currentErrors = 0
        lastReceive = max(lastReceive, last)
        boundary = .max
        var total = Self.makeHistogram()
        for interval in intervals { total.add(interval) }
        corrected = total
    }

    /// One measured answer, as every receive loop handles it: marks `seq` seen in `tracker`
    /// and, unless it is a duplicate, records its latency (`intended` nil: closed loop, the
    /// message was sent when it was due). Returns false for a duplicate. ``AnswerRecorder``
    /// calls exactly this, so its benchmark times the generator's own code.
    @inline(__always)
    static func recordAnswer(_ seq: UInt64, intended: UInt64?, sent: UInt64, received: UInt64,
                             tracker: inout SequenceTracker, into recorder: inout LatencyRecorder) -> Bool {
        guard tracker.record(seq) else { return false }
        if let intended {
            recorder.record(intended: intended, sent: sent, received: received)
        } else {
            recorder.record(sent: sent, received: received)
        }
        return true
    }

    /// Makes `uncorrected` equal `corrected` after a closed-loop run.
    mutating func finishClosedLoop() {
        if mirrored { uncorrected = corrected }
    }

    /// Adds `other` in, exactly (HdrHistogram add): the totals, and the interval series
    /// interval by interval, both counted from their own measure phase's start (recorders of
    /// load agents, whose clocks need not agree, line up by interval number). Both finished.
    mutating func merge(_ other: LatencyRecorder) {
        precondition(boundary == .max && other.boundary == .max, "merge finished recorders only")
        corrected.add(other.corrected)
        uncorrected.add(other.uncorrected)
        guard other.intervalLength > 0 else { return }
        if intervalLength == 0 {
            intervalLength = other.intervalLength
            wallClockStart = other.wallClockStart
        }
        precondition(intervalLength == other.intervalLength, "interval series of different lengths")
        while intervals.count < other.intervals.count {
            intervals.append(Self.makeHistogram())
            intervalErrors.append(0)
        }
        for (index, interval) in other.intervals.enumerated() {
            intervals[index].add(interval)
            intervalErrors[index] += other.intervalErrors[index]
        }
        // Measured from each one's own start: the later of the two ends.
        lastReceive = intervalStart + Swift.max(lastReceive &- intervalStart, other.lastReceive &- other.intervalStart)
        wallClockStart = Swift.min(wallClockStart, other.wallClockStart)
    }

    /// A finished recorder from its parts (``RecorderCounts``, what a load agent sends back).
    init(corrected: Histogram<UInt64>, uncorrected: Histogram<UInt64>, intervals: [Histogram<UInt64>],
         intervalErrors: [Int], intervalLength: UInt64, lastReceiveOffset: UInt64, wallClockStart: Double) {
        precondition(intervals.count == intervalErrors.count)
        self.corrected = corrected
        self.uncorrected = uncorrected
        self.intervals = intervals
        self.intervalErrors = intervalErrors
        self.intervalLength = intervalLength
        self.wallClockStart = wallClockStart
        lastReceive = lastReceiveOffset
    }
}

/// Counts lost, duplicated and reordered messages by sequence number over the measured
/// range `[first, first + count)`.
struct SequenceTracker {
    let first: UInt64
    private var seen: [UInt64] = []
    private(set) var unique = 0
    private(set) var duplicated = 0
    private(set) var reordered = 0
    private var highest: UInt64?

    init(first: UInt64) { self.first = first }

    /// Records `seq`; returns false for a duplicate.
    @inline(__always)
    mutating func record(_ seq: UInt64) -> Bool {
        let offset = Int(seq - first)
        let word = offset >> 6
        if word >= seen.count { seen.append(contentsOf: repeatElement(0, count: max(word + 1 - seen.count, seen.count))) }
        let bit: UInt64 = 1 << UInt64(offset & 63)
        if seen[word] & bit != 0 {
            duplicated += 1
            return false
        }
        seen[word] |= bit
        unique += 1
        if let highest, seq < highest { reordered += 1 }
        highest = max(highest ?? seq, seq)
        return true
    }

    func lost(sent: Int) -> Int { max(0, sent - unique) }

    /// Sequence numbers in `range` never recorded.
    func unseen(in range: Range<UInt64>) -> Int {
        guard range.lowerBound >= first, !range.isEmpty else { return 0 }
        var seenCount = 0
        var offset = Int(range.lowerBound - first)
        let end = Int(range.upperBound - first)
        while offset < end {
            let word = offset >> 6
            guard word < seen.count else { break }
            let bit = offset & 63
            let take = min(64 - bit, end - offset)
            let mask: UInt64 = take == 64 ? .max : ((1 << UInt64(take)) - 1) << UInt64(bit)
            seenCount += (seen[word] & mask).nonzeroBitCount
            offset += take
        }
        return range.count - seenCount
    }
}

/// Payload sizes for a point, from a seeded generator (repeatable runs).
struct PayloadSizes {
    let payload: PointSpec.Payload
    private var state: UInt64
    private let cumulative: [Double]

    /// The smallest payload that holds the sequence number and both timestamps.
    static let minimum = 24

    init(_ payload: PointSpec.Payload, seed: UInt64 = 0x5EED) {
        self.payload = payload
        state = seed | 1
        if case .choice(_, let weights) = payload {
            let total = max(weights.reduce(0, +), 1e-9)
            var sum = 0.0
            cumulative = weights.map { sum += $0 / total; return sum }
        } else {
            cumulative = []
        }
    }

    private mutating func nextRandom() -> UInt64 {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return state
    }

    mutating func next() -> Int {
        let size: Int
        switch payload {
        case .fixed(let n):
            size = n
        case .uniform(let lo, let hi):
            size = lo + Int(nextRandom() % UInt64(hi - lo + 1))
        case .choice(let sizes, _):
            let r = Double(nextRandom() % 1_000_000) / 1_000_000
            size = sizes[cumulative.firstIndex(where: { r < $0 }) ?? sizes.count - 1]
        }
        return max(size, Self.minimum)
    }
}

/// What the load generator does with each measured answer, for benchmarking it alone
/// (`Benchmarks/Benchmarks/Recording`): read the clock, mark the sequence number seen, record
/// the latency (closed loop: one histogram; open loop: corrected and uncorrected). The same
/// types and calls as the generator's receive loop, nothing else.
public struct AnswerRecorder {
    var tracker: SequenceTracker
    var recorder = LatencyRecorder()
    let openLoop: Bool

    /// Answers carry sequence numbers from `first` on.
    public init(first: UInt64, openLoop: Bool) {
        tracker = SequenceTracker(first: first)
        self.openLoop = openLoop
    }

    /// Records one answer sent at `sent` (and due at `intended`, open loop); false for a
    /// duplicate.
    @inline(__always)
    public mutating func record(seq: UInt64, intended: UInt64, sent: UInt64) -> Bool {
        record(seq: seq, intended: intended, sent: sent, received: monotonicNanoseconds())
    }

    /// ``record(seq:intended:sent:)`` with the receive time given: the recording alone,
    /// without the clock read.
    @inline(__always)
    public mutating func record(seq: UInt64, intended: UInt64, sent: UInt64, received: UInt64) -> Bool {
        LatencyRecorder.recordAnswer(seq, intended: openLoop ? intended : nil, sent: sent, received: received,
                                     tracker: &tracker, into: &recorder)
    }

    /// Answers recorded (duplicates not counted).
    public var recorded: Int { tracker.unique }

    /// The current monotonic clock, nanoseconds (the generator's clock).
    public static func now() -> UInt64 { monotonicNanoseconds() }
}
