/// The search of one pipeline for its knee: the highest open-loop rate whose corrected latency
/// percentile stays within the SLO (`load.model: search`).
///
/// A state machine that asks for one rate at a time (``nextRate()``) and is told what that
/// measurement saw (``record(_:)``), so the runner can interleave ZManager's and bare's
/// searches probe by probe (neither always runs on a warmer machine) and a test can drive it
/// with a simulated pipeline.
///
/// It probes the lowest rate (failing there: no knee), then the highest (passing there: the
/// knee is at least that), then bisects the bracket between the highest passing and the
/// lowest failing rate geometrically (rates span decades) until the bracket is within the
/// tolerance or the probe budget is spent. A probe that lands near the SLO, where one noisy
/// run decides the verdict, is repeated up to ``PointSpec/Search/edgeRepeats`` times and
/// judged by the majority, stopping as soon as a majority agrees; so is a verdict that would
/// end the search (the lowest rate missing the SLO, the highest meeting it). A probe passes when it
/// reached its rate, lost nothing, had no errors and met the SLO: a rate the generator cannot
/// send, or that loses messages, is not sustained, whatever its latency.
struct KneeSearch {
    /// What one measurement at ``rate`` saw.
    struct Observation {
        var rate: Double
        var achievedRate: Double
        /// The SLO's percentile of the corrected latency.
        var value: UInt64
        var lost: Int
        var errors: Int
        var targetRateReached: Bool
    }

    let spec: PointSpec.Search
    let lowest: Double
    let highest: Double
    /// The closed-loop throughput ``highest`` came from, when it was measured.
    let ceiling: Double?
    let limit: UInt64
    /// The probes concluded so far, in run order.
    private(set) var probes: [KneeProbe] = []
    /// Measurements taken, repeats included (bounded by ``PointSpec/Search/probes``).
    private(set) var measurements = 0
    /// The repeats of the rate being probed, before its verdict.
    private var pending: [Observation] = []
    private var pendingRate: Double?
    private var passing: Double?
    private var failing: Double?
    private var finished: KneeSearchResult.Status?

    init(spec: PointSpec.Search, lowest: Double, highest: Double, ceiling: Double? = nil) {
        precondition(lowest > 0 && spec.probes >= 2)
        self.spec = spec
        self.lowest = lowest
        self.highest = max(highest, lowest)
        self.ceiling = ceiling
        limit = LoadGenerator.nanoseconds(spec.limit)
    }

    /// The rate to measure next, or nil when the search is over.
    mutating func nextRate() -> Double? {
        if finished != nil { return nil }
        if let pendingRate { return pendingRate }
        if let lo = passing, let hi = failing, hi - lo <= spec.tolerance * hi {
            finished = .found
            return nil
        }
        guard measurements < spec.probes else {
            finished = .probesExhausted
            return nil
        }
        let rate: Double
        if probes.isEmpty {
            rate = lowest
        } else if let lo = passing, let hi = failing {
            rate = (lo * hi).squareRoot()
        } else {
            // The lowest passed (a failing lowest ends the search), the highest is next.
            rate = highest
        }
        pendingRate = rate
        return rate
    }

    /// What the measurement at the rate ``nextRate()`` returned saw.
    mutating func record(_ observation: Observation) {
        guard let rate = pendingRate else { preconditionFailure("record(_:) without a rate from nextRate()") }
        pending.append(observation)
        measurements += 1
        let votes = pending.map(passes)
        let passed = votes.filter { $0 }.count, failed = votes.count - passed
        let majority = spec.edgeRepeats / 2 + 1
        // A verdict that would end the search (the lowest rate missing, the highest meeting)
        // is confirmed by the majority too: one descheduled run must not decide it. (An idle
        // VM's wake-ups put a p99 over 1 ms at a few thousand msg/s now and then, while the
        // same pipeline meets it at 60k.)
        let endsSearch = (probes.isEmpty && !votes[0]) || (rate >= highest && votes[0])
        let verdict: Bool
        if votes.count == 1 && (spec.edgeRepeats <= 1 || (!nearEdge(observation) && !endsSearch)) {
            verdict = votes[0]
        } else if passed >= majority {
            verdict = true
        } else if failed >= majority {
            verdict = false
        } else if votes.count >= spec.edgeRepeats || measurements >= spec.probes {
            // Out of repeats (or of the budget) without a majority: the median decides.
            verdict = passes(median(pending))
        } else {
            return  // near the edge: measure this rate again
        }
        probes.append(probe(rate, pending, verdict))
        pending = []
        pendingRate = nil
        if verdict {
            passing = max(passing ?? 0, rate)
            if rate >= highest { finished = .atHighest }
        } else if probes.count == 1 {
            finished = .belowLowest
        } else {
            failing = min(failing ?? .infinity, rate)
        }
    }

    /// Whether the search asks for nothing more.
    var isFinished: Bool { finished != nil }

    var result: KneeSearchResult {
        let status = finished ?? {
            if let lo = passing, let hi = failing, hi - lo <= spec.tolerance * hi { return .found }
            return .probesExhausted
        }()
        return KneeSearchResult(status: status, knee: passing, failingRate: failing, ceiling: ceiling,
                                lowest: lowest, highest: highest, probes: probes)
    }

    func passes(_ o: Observation) -> Bool {
        o.targetRateReached && o.lost == 0 && o.errors == 0 && o.value <= limit
    }

    /// A clean measurement whose value is within the edge band of the SLO.
    func nearEdge(_ o: Observation) -> Bool {
        o.targetRateReached && o.lost == 0 && o.errors == 0
            && abs(Double(o.value) / Double(max(limit, 1)) - 1) <= spec.edgeBand
    }

    private func median(_ observations: [Observation]) -> Observation {
        observations.sorted { $0.value < $1.value }[observations.count / 2]
    }

    private func probe(_ rate: Double, _ repeats: [Observation], _ verdict: Bool) -> KneeProbe {
        let middle = median(repeats)
        let achieved = repeats.map(\.achievedRate).sorted()[repeats.count / 2]
        let lost = repeats.map(\.lost).reduce(0, +), errors = repeats.map(\.errors).reduce(0, +)
        let reached = repeats.allSatisfy(\.targetRateReached)
        var reasons: [String] = []
        if !verdict {
            if !reached { reasons.append("rate not reached (\(Format.rate(achieved)) of \(Format.rate(rate))/s)") }
            if lost > 0 { reasons.append("\(lost) lost") }
            if errors > 0 { reasons.append("\(errors) error\(errors == 1 ? "" : "s")") }
            if middle.value > limit {
                reasons.append("\(spec.percentileName) \(Format.nanoseconds(Double(middle.value))) > \(Format.nanoseconds(Double(limit)))")
            }
            if reasons.isEmpty { reasons.append("the majority of \(repeats.count) repeats missed") }
        }
        return KneeProbe(rate: rate, achievedRate: achieved, percentileNanoseconds: middle.value, values: repeats.map(\.value),
                         lost: lost, errors: errors, targetRateReached: reached, passed: verdict,
                         reason: reasons.isEmpty ? nil : reasons.joined(separator: ", "))
    }
}
