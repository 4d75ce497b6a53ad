/// A `load.model: search` point's answer (``PointResult/knee``): the highest open-loop rate
/// each pipeline sustains with its corrected latency percentile within the SLO, and the probes
/// that found it.
public struct KneeResult: Codable, Sendable, Equatable {
    /// The percentile the SLO bounds (99 for p99).
    public var percentile: Double
    /// The SLO: that percentile at most this many nanoseconds.
    public var sloNanoseconds: UInt64
    public var zmanager: KneeSearchResult
    /// The bare topology's search, probed interleaved with ZManager's; nil without calibration.
    public var bare: KneeSearchResult?
    /// ZManager's knee ÷ bare's, when both searches found one (1.0: ZManager sustains as much
    /// under the SLO as bare libzmq).
    public var ratio: Double?

    public init(percentile: Double, sloNanoseconds: UInt64, zmanager: KneeSearchResult, bare: KneeSearchResult?) {
        self.percentile = percentile
        self.sloNanoseconds = sloNanoseconds
        self.zmanager = zmanager
        self.bare = bare
        if let bare, let z = zmanager.knee, let b = bare.knee, b > 0 { ratio = z / b }
    }

    /// `p99`, `p99.9`, `p50`.
    public static func percentileName(_ percentile: Double) -> String {
        "p" + (percentile == percentile.rounded() ? String(Int(percentile)) : String(percentile))
    }
}

/// One pipeline's search.
public struct KneeSearchResult: Codable, Sendable, Equatable {
    public enum Status: String, Codable, Sendable {
        /// The knee is bracketed within the tolerance.
        case found
        /// The search ran out of probes first: ``KneeSearchResult/knee`` is a lower bound,
        /// ``KneeSearchResult/failingRate`` an upper one.
        case probesExhausted = "probes-exhausted"
        /// Even the lowest rate missed the SLO: the knee is below it (no knee).
        case belowLowest = "below-lowest"
        /// Even the highest rate met the SLO: the knee is at least that.
        case atHighest = "at-highest"
    }

    public var status: Status
    /// The highest rate that met the SLO (msg/s); nil when none did.
    public var knee: Double?
    /// The lowest rate above the knee that missed it; nil when none did.
    public var failingRate: Double?
    /// The closed-loop throughput the search's highest rate came from, when measured.
    public var ceiling: Double?
    public var lowest: Double
    public var highest: Double
    /// In the order they ran.
    public var probes: [KneeProbe]

    public init(status: Status, knee: Double?, failingRate: Double?, ceiling: Double?, lowest: Double, highest: Double,
                probes: [KneeProbe]) {
        self.status = status
        self.knee = knee
        self.failingRate = failingRate
        self.ceiling = ceiling
        self.lowest = lowest
        self.highest = highest
        self.probes = probes
    }
}

/// One rate the search probed: its verdict and, over its repeats, the median figures.
public struct KneeProbe: Codable, Sendable, Equatable {
    /// The target open-loop rate (msg/s).
    public var rate: Double
    /// The send rate achieved, median over the repeats.
    public var achievedRate: Double
    /// The SLO's percentile of the corrected latency, median over the repeats.
    public var percentileNanoseconds: UInt64
    /// Every repeat's value of that percentile, in run order.
    public var values: [UInt64]
    /// Lost and error messages over all repeats.
    public var lost: Int
    public var errors: Int
    /// Whether every repeat reached the target rate.
    public var targetRateReached: Bool
    /// The verdict: the majority of its repeats reached the rate, lost nothing and met the SLO.
    public var passed: Bool
    /// Why it missed, for a probe that did: `p99 1.3ms > 1ms`, `rate not reached`, `3 lost`.
    public var reason: String?

    public init(rate: Double, achievedRate: Double, percentileNanoseconds: UInt64, values: [UInt64], lost: Int, errors: Int,
                targetRateReached: Bool, passed: Bool, reason: String?) {
        self.rate = rate
        self.achievedRate = achievedRate
        self.percentileNanoseconds = percentileNanoseconds
        self.values = values
        self.lost = lost
        self.errors = errors
        self.targetRateReached = targetRateReached
        self.passed = passed
        self.reason = reason
    }
}
