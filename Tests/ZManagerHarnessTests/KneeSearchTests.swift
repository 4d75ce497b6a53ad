import Testing
@testable import ZManagerHarness

/// The knee search on simulated pipelines whose knee is known: no sockets, no clock.
@Suite("Knee search")
struct KneeSearchTests {
    /// A queue whose p99 grows as 1 / (1 − ρ): `base` at no load, the SLO reached at
    /// `capacity × (1 − base / slo)`, which is the knee the search must find.
    struct SimulatedQueue {
        var capacity: Double
        var base: Double
        /// Multiplies each measurement by 1 ± this, from a fixed sequence (a noisy machine).
        var noise = 0.0
        var calls = 0

        func knee(slo: Double) -> Double { capacity * (1 - base / slo) }

        mutating func observe(_ rate: Double) -> KneeSearch.Observation {
            calls += 1
            let wobble = noise == 0 ? 1 : 1 + noise * [0.9, -0.7, 0.3, -1.0, 0.6, -0.2, 1.0, -0.5][calls % 8]
            let rho = min(rate / capacity, 0.999_999)
            let value = rate >= capacity ? 10_000_000_000 : base / (1 - rho) * wobble
            return KneeSearch.Observation(rate: rate, achievedRate: min(rate, capacity), value: UInt64(value), lost: 0,
                                          errors: 0, targetRateReached: rate <= capacity * 1.001)
        }
    }

    static func spec(slo: Duration = .milliseconds(1), tolerance: Double = 0.05, probes: Int = 30) -> PointSpec.Search {
        var spec = PointSpec.Search(percentile: 99, limit: slo)
        spec.tolerance = tolerance
        spec.probes = probes
        return spec
    }

    static func run(_ search: inout KneeSearch, _ queue: inout SimulatedQueue) {
        var guardCount = 0
        while let rate = search.nextRate() {
            search.record(queue.observe(rate))
            guardCount += 1
            precondition(guardCount < 1000, "the search does not end")
        }
    }

    @Test(arguments: [0.02, 0.05, 0.1])
    func findsTheKnownKneeWithinTheTolerance(tolerance: Double) throws {
        var queue = SimulatedQueue(capacity: 500_000, base: 100_000)  // 100 µs at no load: knee at 450k
        var search = KneeSearch(spec: Self.spec(tolerance: tolerance), lowest: 5_000, highest: 500_000)
        Self.run(&search, &queue)
        let result = search.result
        let truth = queue.knee(slo: 1_000_000)
        #expect(result.status == .found)
        let knee = try #require(result.knee), failing = try #require(result.failingRate)
        // The knee passed and the failing rate missed, so they bracket the truth ...
        #expect(knee <= truth && truth < failing)
        // ... within the tolerance.
        #expect((failing - knee) / failing <= tolerance)
        // (failing ≤ knee / (1 − tolerance), so the knee is within tolerance / (1 − tolerance) of the truth.)
        #expect((truth - knee) / truth <= tolerance / (1 - tolerance))
    }

    @Test func aNoisyMachineStillBracketsTheKneeWithRepeatsNearTheEdge() throws {
        var queue = SimulatedQueue(capacity: 200_000, base: 200_000, noise: 0.08)  // knee at 160k
        var search = KneeSearch(spec: Self.spec(), lowest: 2_000, highest: 200_000)
        Self.run(&search, &queue)
        let result = search.result
        let truth = queue.knee(slo: 1_000_000)
        let knee = try #require(result.knee)
        #expect(result.status == .found)
        // The noise (±8 % at most) moves the edge by at most its own share of the latency,
        // which near ρ = 0.8 is a few percent of the rate.
        #expect(abs(knee - truth) / truth <= 0.05 + 0.05)
        // Near the SLO, probes were repeated and judged by the majority.
        let repeated = result.probes.filter { $0.values.count > 1 }
        #expect(!repeated.isEmpty)
        for probe in repeated {
            #expect(probe.values.count <= 3)
            let passes = probe.values.filter { $0 <= 1_000_000 }.count
            #expect(probe.passed == (passes * 2 > probe.values.count))
        }
        #expect(queue.calls == search.measurements)
    }

    @Test func aSingleNoisyOutlierNearTheEdgeIsOutvoted() throws {
        var search = KneeSearch(spec: Self.spec(), lowest: 1_000, highest: 100_000)
        func observation(_ rate: Double, _ value: UInt64) -> KneeSearch.Observation {
            KneeSearch.Observation(rate: rate, achievedRate: rate, value: value, lost: 0, errors: 0, targetRateReached: true)
        }
        #expect(search.nextRate() == 1_000)
        search.record(observation(1_000, 100_000))
        #expect(search.nextRate() == 100_000)
        search.record(observation(100_000, 50_000_000))
        let middleRate = search.nextRate()
        let middle = try #require(middleRate)
        #expect(abs(middle - 10_000) < 1e-6)  // geometric
        // 1.1 ms: near the edge, so measured again; then two passes outvote it.
        search.record(observation(middle, 1_100_000))
        #expect(search.nextRate() == middle)
        search.record(observation(middle, 900_000))
        #expect(search.nextRate() == middle)
        search.record(observation(middle, 950_000))
        let probe = try #require(search.probes.last)
        #expect(probe.passed && probe.values == [1_100_000, 900_000, 950_000] && probe.percentileNanoseconds == 950_000)
        // A clear verdict is not repeated.
        let nextRate = search.nextRate()
        let next = try #require(nextRate)
        #expect(next > middle)
        search.record(observation(next, 5_000_000))
        #expect(search.probes.last?.values.count == 1 && search.probes.last?.passed == false)
        #expect(search.probes.last?.reason == "p99 5 ms > 1 ms")
    }

    @Test func aRateNotReachedOrLossFailsWhateverTheLatency() throws {
        var search = KneeSearch(spec: Self.spec(), lowest: 1_000, highest: 100_000)
        _ = search.nextRate()
        search.record(.init(rate: 1_000, achievedRate: 1_000, value: 10_000, lost: 0, errors: 0, targetRateReached: true))
        _ = search.nextRate()
        search.record(.init(rate: 100_000, achievedRate: 60_000, value: 10_000, lost: 0, errors: 0, targetRateReached: false))
        let unreached = try #require(search.probes.last)
        #expect(!unreached.passed && unreached.reason == "rate not reached (60k of 100k/s)")
        let proposed = search.nextRate()
        let rate = try #require(proposed)
        search.record(.init(rate: rate, achievedRate: rate, value: 10_000, lost: 3, errors: 1, targetRateReached: true))
        let lossy = try #require(search.probes.last)
        #expect(!lossy.passed && lossy.reason == "3 lost, 1 error")
        #expect(search.result.failingRate == rate)
    }

    @Test func anSLOMissedAtTheLowestRateEndsWithoutAKneeOnceConfirmed() {
        var queue = SimulatedQueue(capacity: 100_000, base: 2_000_000)  // 2 ms at no load
        var search = KneeSearch(spec: Self.spec(), lowest: 1_000, highest: 100_000)
        Self.run(&search, &queue)
        #expect(search.result.status == .belowLowest)
        // The verdict that ends the search was confirmed: two misses of three.
        #expect(search.result.knee == nil && search.result.probes.count == 1 && search.result.probes[0].values.count == 2)
    }

    @Test func anSLOMetAtTheHighestRateReportsThatRateAsALowerBoundOnceConfirmed() {
        var queue = SimulatedQueue(capacity: 1_000_000, base: 10_000)
        var search = KneeSearch(spec: Self.spec(), lowest: 1_000, highest: 100_000)
        Self.run(&search, &queue)
        #expect(search.result.status == .atHighest)
        #expect(search.result.knee == 100_000 && search.result.probes.count == 2)
        #expect(search.result.probes.map(\.values.count) == [1, 2])
    }

    /// One descheduled run at the lowest rate (a 1.5 ms p99 at a rate the pipeline meets at
    /// 0.3 ms) does not end the search: the repeats outvote it.
    @Test func aSpikeAtTheLowestRateIsOutvoted() {
        var search = KneeSearch(spec: Self.spec(), lowest: 1_000, highest: 100_000)
        for value: UInt64 in [1_500_000, 300_000, 310_000] {
            #expect(search.nextRate() == 1_000)
            search.record(.init(rate: 1_000, achievedRate: 1_000, value: value, lost: 0, errors: 0, targetRateReached: true))
        }
        #expect(search.probes.count == 1 && search.probes[0].passed && search.probes[0].values.count == 3)
        #expect(search.nextRate() == 100_000 && !search.isFinished)
    }

    @Test func theProbeBudgetBoundsTheSearchAndLeavesABracket() throws {
        var queue = SimulatedQueue(capacity: 500_000, base: 100_000)
        var search = KneeSearch(spec: Self.spec(tolerance: 0.001, probes: 6), lowest: 500, highest: 500_000)
        Self.run(&search, &queue)
        let result = search.result
        #expect(result.status == .probesExhausted)
        #expect(search.measurements == 6 && queue.calls == 6)
        let knee = try #require(result.knee), failing = try #require(result.failingRate)
        let truth = queue.knee(slo: 1_000_000)
        #expect(knee <= truth && truth < failing)
    }

    @Test func theKneeRatioComparesTheTwoSearches() {
        let z = KneeSearchResult(status: .found, knee: 300_000, failingRate: 310_000, ceiling: nil, lowest: 1, highest: 2, probes: [])
        let b = KneeSearchResult(status: .found, knee: 400_000, failingRate: 410_000, ceiling: nil, lowest: 1, highest: 2, probes: [])
        #expect(KneeResult(percentile: 99, sloNanoseconds: 1, zmanager: z, bare: b).ratio == 0.75)
        var none = b
        none.knee = nil
        #expect(KneeResult(percentile: 99, sloNanoseconds: 1, zmanager: z, bare: none).ratio == nil)
        #expect(KneeResult(percentile: 99, sloNanoseconds: 1, zmanager: z, bare: nil).ratio == nil)
    }
}
