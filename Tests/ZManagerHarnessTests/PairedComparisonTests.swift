import Foundation
import Testing
@testable import ZManagerHarness

/// The gate's statistics on synthetic paired samples: noise passes, a real shift fails, loss
/// fails outright, and pooled runs compare like one run with all their repeats.
@Suite("compare on paired repeats: Mann-Whitney verdicts, loss, pooling")
struct PairedComparisonTests {
    /// One point with `ratios.count` paired repeats: bare fixed at 1M msg/s, ZManager at
    /// ratio × 1M in each pair.
    static func point(ratios: [Double], lost: Int = 0) -> PointResult {
        var base = ReportSamples.point(transport: "tcp", workers: 2, rate: 500_000)
        var repeats: [ZManagerHarness.Measurement] = []
        var bares: [ZManagerHarness.Measurement] = []
        var pairs: [RepeatPair] = []
        for (index, ratio) in ratios.enumerated() {
            var z = base.zmanager
            z.messagesPerSecond = ratio * 1_000_000
            z.lost = index == 0 ? lost : 0
            var b = base.bare!
            b.messagesPerSecond = 1_000_000
            repeats.append(z)
            bares.append(b)
            pairs.append(RepeatPair(zmanagerFirst: index % 2 == 0, throughputRatio: ratio, p50LatencyRatio: 1, p99LatencyRatio: 1))
        }
        base.repeats = repeats
        base.bareRepeats = bares
        base.pairs = pairs
        base.zmanager = repeats[repeats.count / 2]
        base.ratios = Ratios(throughput: PointSummary.median(ratios), p50Latency: 1, p99Latency: 1)
        return base
    }

    static func run(_ points: [PointResult]) -> RunResult {
        var run = ReportSamples.run()
        run.points = points
        return run
    }

    /// Log-normal noise around `center` (seeded: the same samples every run of the test).
    static func noisy(_ count: Int, center: Double, sigma: Double, seed: UInt64) -> [Double] {
        var random = SplitMix64(seed: seed)
        var gaussian = GaussianSampler()
        return (0..<count).map { _ in center * exp(sigma * gaussian.next(using: &random)) }
    }

    @Test func aaNoisePassesAndATwelvePercentDropFails() throws {
        let baseline = Self.run([Self.point(ratios: Self.noisy(20, center: 0.5, sigma: 0.05, seed: 1))])
        let same = Self.run([Self.point(ratios: Self.noisy(20, center: 0.5, sigma: 0.05, seed: 2))])
        let slower = Self.run([Self.point(ratios: Self.noisy(20, center: 0.5 * 0.85, sigma: 0.05, seed: 3))])
        let aa = Comparison(baseline: baseline, new: same, thresholds: ComparisonThresholds(throughputDrop: 0.1))
        #expect(aa.verdict == .ok, "\(aa.render())")
        #expect(aa.points[0].test?.verdict == .unchanged)
        let drop = Comparison(baseline: baseline, new: slower, thresholds: ComparisonThresholds(throughputDrop: 0.1))
        #expect(drop.verdict == .regression, "\(drop.render())")
        let test = try #require(drop.points[0].test?.result)
        #expect(test.pValue < 0.01)
        #expect(test.relativeShift < -0.1 && test.relativeShift > -0.2)
    }

    @Test func lostMessagesFailOutrightEvenWhenFaster() {
        let baseline = Self.run([Self.point(ratios: Array(repeating: 0.5, count: 6))])
        let lossy = Self.run([Self.point(ratios: Array(repeating: 0.6, count: 6), lost: 3)])
        let comparison = Comparison(baseline: baseline, new: lossy)
        #expect(comparison.verdict == .regression)
        #expect(comparison.render().contains("lost messages 0 → 3"))
    }

    @Test func pooledRunsConcatenateRepeatsAndPairsInRunOrder() throws {
        let first = Self.run([Self.point(ratios: [0.5, 0.6, 0.7])])
        let second = Self.run([Self.point(ratios: [0.4, 0.8])])
        let pooled = try #require(RunResult.pooled([first, second]))
        let point = try #require(pooled.points.first)
        #expect(point.pairs?.map(\.throughputRatio) == [0.5, 0.6, 0.7, 0.4, 0.8])
        #expect(point.repeats.count == 5 && point.bareRepeats?.count == 5)
        #expect(point.ratios?.throughput == 0.6)
        #expect(point.throughputRatioSpread == Spread(min: 0.4, median: 0.6, max: 0.8))
        #expect(pooled.durationSeconds == first.durationSeconds + second.durationSeconds)
    }
}
