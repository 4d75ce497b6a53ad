// The math functions (erfc, log, exp, cos) live in the C library; Foundation is not needed.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Mann-Whitney U test (Wilcoxon rank-sum) of `candidate` against `baseline`, with the
/// Hodges-Lehmann relative shift the regression gate needs.
///
/// Ranks, not means, because benchmark samples are skewed and get the odd outlier (a GC pause,
/// a noisy neighbour): one wild repeat moves a mean and a t-test, not a rank test. The shift is
/// relative (pairwise ratios) because a "10 % slower" threshold must hold at any absolute rate.
public struct MannWhitney: Sendable {
    /// What counts as evidence against "no change".
    public enum Alternative: Sendable, CaseIterable {
        /// `candidate` tends to be smaller: lower throughput (a regression), lower latency (an improvement).
        case candidateLess
        /// `candidate` tends to be larger.
        case candidateGreater
        /// Either direction.
        case twoSided
    }

    public struct Result: Sendable, Equatable {
        /// The direction `pValue` was computed for.
        public var alternative: Alternative
        /// U of the candidate: pairs (baseline, candidate) with candidate > baseline, plus half the
        /// tied pairs; in 0...m·n, m·n/2 expected under no change.
        public var u: Double
        /// Probability under "no change" of a U at least this extreme in the `alternative` direction.
        public var pValue: Double
        public var baselineMedian: Double
        public var candidateMedian: Double
        /// Hodges-Lehmann estimate of the relative shift: the median over all pairs of
        /// candidate_j / baseline_i − 1 (−0.1 = candidate 10 % lower). NaN unless every value is > 0.
        public var relativeShift: Double
        /// Two-sided `confidence` interval of the relative shift (Moses: order statistics of the
        /// pairwise ratios cut at the U quantile). Nil when the samples are too small to reach
        /// `confidence` at all (e.g. 3 against 3 at 99 %) or when a value is ≤ 0.
        public var relativeShiftInterval: ClosedRange<Double>?
        /// The level of `relativeShiftInterval`.
        public var confidence: Double
        /// True when `pValue` comes from the exact U distribution, false for the normal approximation.
        public var exact: Bool
    }

    /// Largest sample size per side for the exact distribution. At 50 against 50 the counts reach
    /// C(100, 50) ≈ 1e29, far inside Double's range, and the table is ~1.6 M additions; beyond
    /// that the normal approximation is accurate anyway.
    public static let exactLimit = 50

    /// The test of `candidate` against `baseline` in the direction `alternative`.
    ///
    /// Exact p-value when there are no ties and both sides have at most ``exactLimit`` values;
    /// otherwise the normal approximation with tie and continuity corrections (the exact
    /// distribution assumes distinct values). An empty side gives p = 1 and NaN estimates.
    /// Values must not be NaN: a NaN has no rank. Cost: O(m·n) for the pairwise ratios (their
    /// order statistics are selected, not sorted), plus the exact table, ~m²n²/4 additions.
    public static func test(baseline: [Double], candidate: [Double], alternative: Alternative,
                            confidence: Double = 0.99) -> Result {
        test(baseline: baseline, candidate: candidate, alternative: alternative, confidence: confidence, distribution: nil)
    }

    /// `test`, reusing `distribution` when it fits the sample sizes (the simulator runs thousands
    /// of trials with the same sizes; the table is the dominant cost at n = 50).
    static func test(baseline: [Double], candidate: [Double], alternative: Alternative,
                     confidence: Double, distribution: UDistribution?) -> Result {
        Analysis(baseline: baseline, candidate: candidate, confidence: confidence, distribution: distribution)
            .result(alternative)
    }

    /// The CI gate's verdict for one metric: is `candidate` worse than `baseline` by a margin that
    /// matters, with evidence that it is not noise?
    ///
    /// Regression when the one-sided p in the bad direction is below `alpha` AND the Hodges-Lehmann
    /// shift is at least `minimumEffect` in that direction (throughput, `higherIsBetter`: candidate
    /// lower by ≥ `minimumEffect`; latency: higher by ≥ `minimumEffect`). Both, because with many
    /// quiet samples a 1 % drift is "significant" yet not worth failing a build, and with few noisy
    /// ones a 20 % drop in the medians can be luck. Improvement is the mirror image.
    ///
    /// Insufficient when either side has fewer than `minimumSamples` values, or a value is not
    /// finite and positive. The default 5 is the smallest size at which α = 0.01 is reachable at
    /// all: 5 against 5 has minimum one-sided p = 1/252 ≈ 0.004, 4 against 4 only 1/70 ≈ 0.014.
    ///
    /// The interval in the result is two-sided at 1 − 2·alpha, so it excludes 0 roughly when the
    /// one-sided test is significant.
    public static func decide(baseline: [Double], candidate: [Double], higherIsBetter: Bool,
                              alpha: Double = 0.01, minimumEffect: Double = 0.10,
                              minimumSamples: Int = 5) -> RegressionDecision {
        let (verdict, result, ground) = judge(baseline: baseline, candidate: candidate, higherIsBetter: higherIsBetter,
                                              alpha: alpha, minimumEffect: minimumEffect, minimumSamples: minimumSamples,
                                              distribution: nil)
        let reason: String
        switch ground {
        case .tooFew:
            reason = "fewer than \(minimumSamples) samples (baseline \(baseline.count), candidate \(candidate.count))"
        case .unusable: reason = "a sample is not a finite positive number"
        case .decided: reason = describe(result)
        case .belowEffect: reason = "significant but below the \(percent(minimumEffect, signed: false)) minimum effect: \(describe(result))"
        case .notSignificant: reason = "not significant at α = \(alpha): \(describe(result))"
        }
        return RegressionDecision(verdict: verdict, result: result, reason: reason)
    }

    /// Why `judge` said what it said, for `decide` to put into words.
    enum Ground { case tooFew, unusable, decided, belowEffect, notSignificant }

    /// `decide` without the words (the simulator's thousands of trials need only the verdict),
    /// reusing `distribution` when it fits the sample sizes.
    static func judge(baseline: [Double], candidate: [Double], higherIsBetter: Bool, alpha: Double,
                      minimumEffect: Double, minimumSamples: Int,
                      distribution: UDistribution?) -> (RegressionDecision.Verdict, Result?, Ground) {
        precondition(alpha > 0 && alpha < 0.5, "alpha must be in (0, 0.5), got \(alpha)")
        precondition(minimumEffect >= 0, "minimumEffect must be ≥ 0, got \(minimumEffect)")
        guard baseline.count >= minimumSamples, candidate.count >= minimumSamples else { return (.insufficient, nil, .tooFew) }
        guard baseline.allSatisfy({ $0 > 0 && $0.isFinite }), candidate.allSatisfy({ $0 > 0 && $0.isFinite }) else {
            return (.insufficient, nil, .unusable)
        }
        let bad: Alternative = higherIsBetter ? .candidateLess : .candidateGreater
        let good: Alternative = higherIsBetter ? .candidateGreater : .candidateLess
        // One analysis for both directions: the ranks and the pairwise ratios are the cost.
        let analysis = Analysis(baseline: baseline, candidate: candidate, confidence: 1 - 2 * alpha,
                                distribution: distribution)
        // "At least 10 %" must include 90 against 100, whose ratio − 1 is −0.09999999999999998.
        let effect = minimumEffect * (1 - 1e-9)
        // The shift in the bad direction: positive = worse, whichever way the metric runs.
        let worsening = higherIsBetter ? -analysis.shift : analysis.shift
        let against = analysis.result(bad)
        if against.pValue < alpha && worsening >= effect { return (.regression, against, .decided) }
        let towards = analysis.result(good)
        if towards.pValue < alpha && -worsening >= effect { return (.improvement, towards, .decided) }
        return (.unchanged, against, against.pValue < alpha || towards.pValue < alpha ? .belowEffect : .notSignificant)
    }

    // MARK: - Helpers

    /// "shift −12.3 % (98 % CI −15.0 % … −9.1 %), p = 0.0004": the figures a CI log reader needs.
    private static func describe(_ result: Result?) -> String {
        guard let result else { return "" }
        var text = "shift \(percent(result.relativeShift))"
        if let interval = result.relativeShiftInterval {
            text += " (\(percent(result.confidence, signed: false)) CI \(percent(interval.lowerBound)) … \(percent(interval.upperBound)))"
        }
        return text + ", p = \(decimal(result.pValue))"
    }

    /// A fraction as a percentage with one decimal, without Foundation's formatters.
    static func percent(_ fraction: Double, signed: Bool = true) -> String {
        guard fraction.isFinite else { return "\(fraction)" }
        let tenths = (fraction * 1000).rounded()
        let sign = tenths < 0 ? "−" : (signed && tenths > 0 ? "+" : "")
        let magnitude = Int(abs(tenths))
        return "\(sign)\(magnitude / 10).\(magnitude % 10) %"
    }

    /// A p-value to four decimals; smaller ones as "< 0.0001".
    static func decimal(_ value: Double) -> String {
        if value < 0.0001 { return "< 0.0001" }
        let units = Int((value * 10_000).rounded())
        let fraction = String(units % 10_000)
        return "\(units / 10_000).\(String(repeating: "0", count: 4 - fraction.count))\(fraction)"
    }

    /// The median of sorted values (mean of the middle two for an even count); NaN for none.
    static func median(_ sorted: [Double]) -> Double {
        guard !sorted.isEmpty else { return .nan }
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }

    /// Φ(x), via erfc so the far tails keep their relative precision (1 − erf would round to 0).
    static func normalCDF(_ x: Double) -> Double {
        0.5 * erfc(-x / 2.0.squareRoot())
    }

    /// Φ⁻¹(p) for p in (0, 1): Acklam's rational approximation (relative error 1e-9), then one
    /// Halley step against `normalCDF` for full precision.
    static func inverseNormalCDF(_ p: Double) -> Double {
        precondition(p > 0 && p < 1)
        let a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                 1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00]
        let b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                 6.680131188771972e+01, -1.328068155288572e+01]
        let c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                 -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00]
        let d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00]
        let low = 0.02425
        var x: Double
        if p < low {
            let q = (-2 * log(p)).squareRoot()
            x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5])
                / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
        } else if p <= 1 - low {
            let q = p - 0.5, r = q * q
            x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q
                / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
        } else {
            let q = (-2 * log(1 - p)).squareRoot()
            x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5])
                / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
        }
        let error = normalCDF(x) - p
        let step = error * (2 * Double.pi).squareRoot() * exp(x * x / 2)
        x -= step / (1 + x * step / 2)
        return x
    }
}

// The machinery behind `test`, nested so its generic names stay out of the module's namespace.
extension MannWhitney {
    /// What the test computes once per pair of samples; `result(_:)` adds one direction's p-value,
    /// so `decide` can ask both directions for the price of one.
    struct Analysis: Sendable {
        var u: Double
        /// Tie-corrected standard deviation of U; 0 when every value is the same (or a side is empty).
        var sigma: Double
        var meanU: Double
        /// The exact distribution, when there are no ties and both sides are within `exactLimit`.
        var table: UDistribution?
        var baselineMedian: Double
        var candidateMedian: Double
        var shift = Double.nan
        var interval: ClosedRange<Double>?
        var confidence: Double

        init(baseline: [Double], candidate: [Double], confidence: Double, distribution: UDistribution?) {
            precondition(confidence > 0 && confidence < 1, "confidence must be in (0, 1), got \(confidence)")
            precondition(!baseline.contains { $0.isNaN } && !candidate.contains { $0.isNaN }, "NaN has no rank")
            var b = baseline, c = candidate
            Order.sort(&b)
            Order.sort(&c)
            let n = b.count, m = c.count
            baselineMedian = MannWhitney.median(b)
            candidateMedian = MannWhitney.median(c)
            self.confidence = confidence
            meanU = Double(m * n) / 2

            // U and the tie term Σ(t³ − t) by merging the sorted sides: each candidate scores the
            // baselines below it plus half the baselines equal to it.
            var u = 0.0, tieTerm = 0.0
            var i = 0, j = 0
            while i < n || j < m {
                let value = j < m && (i == n || c[j] <= b[i]) ? c[j] : b[i]
                var tiedBaselines = 0, tiedCandidates = 0
                while i + tiedBaselines < n && b[i + tiedBaselines] == value { tiedBaselines += 1 }
                while j + tiedCandidates < m && c[j + tiedCandidates] == value { tiedCandidates += 1 }
                u += Double(tiedCandidates) * (Double(i) + Double(tiedBaselines) / 2)
                let t = Double(tiedBaselines + tiedCandidates)
                tieTerm += t * t * t - t
                i += tiedBaselines
                j += tiedCandidates
            }
            self.u = u
            guard m > 0, n > 0 else {
                sigma = 0
                table = nil
                return
            }
            let total = Double(m + n)
            let variance = Double(m * n) / 12 * ((total + 1) - tieTerm / (total * (total - 1)))
            sigma = variance > 0 ? variance.squareRoot() : 0
            table = tieTerm == 0 && m <= MannWhitney.exactLimit && n <= MannWhitney.exactLimit
                ? (distribution.flatMap { $0.fits(candidateCount: m, baselineCount: n) ? $0 : nil }
                   ?? UDistribution(candidateCount: m, baselineCount: n))
                : nil

            guard b[0] > 0, c[0] > 0, b[n - 1].isFinite, c[m - 1].isFinite else { return }
            let pairs = m * n
            var ratios = [Double](repeating: 0, count: pairs)
            ratios.withUnsafeMutableBufferPointer { ratios in
                for row in 0..<m {
                    for column in 0..<n { ratios[row * n + column] = c[row] / b[column] }
                }
            }
            // Moses: at the true ratio ρ, #{c_j / b_i > ρ} has the null distribution of U, so the ρ
            // the two-sided test does not reject are [R(k), R(mn + 1 − k)] of the sorted ratios, with
            // k − 1 the largest u such that P(U ≤ u) ≤ (1 − confidence) / 2.
            let tail = (1 - confidence) / 2
            var k: Int?
            if let table {
                var below = -1
                while below < pairs && table.lowerTail(below + 1) <= tail { below += 1 }
                k = below >= 0 ? below + 1 : nil
            } else {
                let below = (meanU - 0.5 - MannWhitney.inverseNormalCDF(1 - tail) * sigma).rounded(.down)
                k = below >= 0 ? Int(below) + 1 : nil
            }
            if let bound = k, bound > (pairs + 1) / 2 { k = nil }
            // Only four order statistics are needed: select them instead of sorting m·n ratios.
            var positions = [(pairs - 1) / 2, pairs / 2]
            if let k { positions += [k - 1, pairs - k] }
            var start = 0
            for position in Set(positions).sorted() {
                Order.select(position, in: &ratios, from: start)
                start = position + 1
            }
            shift = (ratios[(pairs - 1) / 2] + ratios[pairs / 2]) / 2 - 1
            if let k { interval = (ratios[k - 1] - 1)...(ratios[pairs - k] - 1) }
        }

        func pValue(_ alternative: Alternative) -> Double {
            if let table {
                let u = Int(self.u.rounded())
                switch alternative {
                case .candidateLess: return table.lowerTail(u)
                case .candidateGreater: return table.upperTail(u)
                case .twoSided: return min(1, 2 * min(table.lowerTail(u), table.upperTail(u)))
                }
            }
            guard sigma > 0 else { return 1 }  // all values equal, or a side empty: no evidence
            let centred = u - meanU
            switch alternative {  // continuity correction: half a unit of U towards the mean
            case .candidateLess: return MannWhitney.normalCDF((centred + 0.5) / sigma)
            case .candidateGreater: return MannWhitney.normalCDF(-(centred - 0.5) / sigma)
            case .twoSided: return min(1, 2 * MannWhitney.normalCDF(-(abs(centred) - 0.5) / sigma))
            }
        }

        func result(_ alternative: Alternative) -> Result {
            Result(alternative: alternative, u: u, pValue: pValue(alternative), baselineMedian: baselineMedian,
                               candidateMedian: candidateMedian, relativeShift: shift, relativeShiftInterval: interval,
                               confidence: confidence, exact: table != nil)
        }
    }

    /// The exact null distribution of U for `candidateCount` against `baselineCount` distinct values.
    ///
    /// Counted, not sampled: f(i, j, k), the orderings of i candidates and j baselines with U = k,
    /// splits on whether the largest value is a candidate (it beats all j baselines) or a baseline:
    /// f(i, j, k) = f(i − 1, j, k − j) + f(i, j − 1, k). Additions of positive counts only, so Double
    /// loses no more than rounding where the counts pass 2⁵³ (a subtractive q-binomial recurrence
    /// would cancel catastrophically in the tails).
    struct UDistribution: Sendable {
        let candidateCount: Int
        let baselineCount: Int
        /// cumulative[k] = P(U ≤ k), k in 0...m·n.
        private let cumulative: [Double]

        init(candidateCount m: Int, baselineCount n: Int) {
            precondition(m >= 0 && n >= 0)
            candidateCount = m
            baselineCount = n
            // The distribution is symmetric in m and n: the smaller size indexes the columns, which
            // keeps the rows short. Row i holds the distributions for j = 0...columns back to back.
            let rows = max(m, n), columns = min(m, n)
            func offset(_ i: Int, _ j: Int) -> Int { i * j * (j - 1) / 2 + j }
            var previous = [Double](repeating: 0, count: offset(rows, columns + 1))
            var current = previous
            for j in 0...columns { previous[offset(0, j)] = 1 }  // no candidates: U = 0
            for i in stride(from: 1, through: rows, by: 1) {
                previous.withUnsafeBufferPointer { above in
                    current.withUnsafeMutableBufferPointer { row in
                        row[0] = 1  // no baselines: U = 0
                        for j in stride(from: 1, through: columns, by: 1) {
                            // f(i, j, ·) = f(i, j − 1, ·) over 0...i(j − 1) + f(i − 1, j, · − j) over j...ij;
                            // the two ranges overlap on j...i(j − 1), as i(j − 1) ≥ j − 1.
                            let start = offset(i, j), fromAbove = offset(i - 1, j) - j, fromLeft = offset(i, j - 1)
                            let leftEnd = i * (j - 1)
                            for k in 0..<j { row[start + k] = row[fromLeft + k] }
                            if j <= leftEnd {
                                for k in j...leftEnd { row[start + k] = row[fromLeft + k] + above[fromAbove + k] }
                            }
                            for k in (max(j, leftEnd + 1))...(i * j) { row[start + k] = above[fromAbove + k] }
                        }
                    }
                }
                swap(&previous, &current)
            }
            let start = offset(rows, columns)
            var cumulative = Array(previous[start...(start + rows * columns)])
            for k in cumulative.indices.dropFirst() { cumulative[k] += cumulative[k - 1] }
            let total = cumulative[cumulative.count - 1]
            for k in cumulative.indices { cumulative[k] /= total }
            self.cumulative = cumulative
        }

        func fits(candidateCount m: Int, baselineCount n: Int) -> Bool {
            (candidateCount, baselineCount) == (m, n) || (candidateCount, baselineCount) == (n, m)
        }

        /// P(U ≤ u).
        func lowerTail(_ u: Int) -> Double {
            u < 0 ? 0 : cumulative[min(u, cumulative.count - 1)]
        }

        /// P(U ≥ u) = P(U ≤ m·n − u): the distribution is symmetric about m·n / 2.
        func upperTail(_ u: Int) -> Double {
            lowerTail(candidateCount * baselineCount - u)
        }
    }

    /// In-place sort and selection of Doubles (no NaN). Not `Array.sort()`: unspecialised, the
    /// generic sort is ~100× slower in debug builds, where the simulation tests run thousands of trials.
    enum Order {
        static func sort(_ values: inout [Double]) {
            values.withUnsafeMutableBufferPointer { buffer in
                var stack = [(0, buffer.count - 1)]
                while let (low, high) = stack.popLast() {
                    if high - low < 16 {
                        insertionSort(buffer, low, high)
                        continue
                    }
                    let split = partition(buffer, low, high)
                    stack.append((low, split))
                    stack.append((split + 1, high))
                }
            }
        }

        /// Puts the `position`-th smallest of `values[start...]` at `position`, smaller ones before it and
        /// larger ones after; values before `start` must already be ≤ all of `values[start...]`.
        static func select(_ position: Int, in values: inout [Double], from start: Int = 0) {
            values.withUnsafeMutableBufferPointer { buffer in
                var low = start, high = buffer.count - 1
                while high - low >= 16 {
                    let split = partition(buffer, low, high)
                    if position <= split { high = split } else { low = split + 1 }
                }
                insertionSort(buffer, low, high)
            }
        }

        /// Hoare partition around the median of the first, middle and last values: afterwards
        /// values[low...split] ≤ values[split + 1...high], low ≤ split < high. Hoare, not Lomuto,
        /// because tied values are common here and Lomuto goes quadratic on them.
        private static func partition(_ values: UnsafeMutableBufferPointer<Double>, _ low: Int, _ high: Int) -> Int {
            let middle = low + (high - low) / 2
            if values[middle] < values[low] { values.swapAt(middle, low) }
            if values[high] < values[low] { values.swapAt(high, low) }
            if values[high] < values[middle] { values.swapAt(high, middle) }
            let pivot = values[middle]
            var i = low - 1, j = high + 1
            while true {
                repeat { i += 1 } while values[i] < pivot
                repeat { j -= 1 } while values[j] > pivot
                if i >= j { return j }
                values.swapAt(i, j)
            }
        }

        private static func insertionSort(_ values: UnsafeMutableBufferPointer<Double>, _ low: Int, _ high: Int) {
            guard high > low else { return }
            for index in (low + 1)...high {
                let value = values[index]
                var slot = index
                while slot > low && values[slot - 1] > value {
                    values[slot] = values[slot - 1]
                    slot -= 1
                }
                values[slot] = value
            }
        }
    }
}

/// The CI gate's answer for one metric; see ``MannWhitney/decide(baseline:candidate:higherIsBetter:alpha:minimumEffect:minimumSamples:)``.
public struct RegressionDecision: Sendable, Equatable {
    public enum Verdict: String, Sendable {
        /// Significantly worse by at least the minimum effect.
        case regression
        /// Significantly better by at least the minimum effect.
        case improvement
        /// Not significant, or significant but smaller than the minimum effect.
        case unchanged
        /// Too few (or unusable) samples to decide: not a pass, the gate should say so.
        case insufficient
    }

    public var verdict: Verdict
    /// The one-sided test in the verdict's direction: the good direction for `improvement`, the
    /// bad direction otherwise; nil when `insufficient`.
    public var result: MannWhitney.Result?
    /// One line for the CI log: the shift, its interval and p, or what was missing.
    public var reason: String
}

/// How often ``MannWhitney/decide(baseline:candidate:higherIsBetter:alpha:minimumEffect:minimumSamples:)``
/// flags a change when the truth is known: the false-alarm rate (``trueShift`` = 0) and the power
/// (``trueShift`` ≤ −``minimumEffect``) of a gate setting, before trusting it in CI.
///
/// Model: throughput samples (higher is better) with multiplicative log-normal noise,
/// baseline = exp(σ·z), candidate = (1 + trueShift)·exp(σ·z), z standard normal. The noise is
/// symmetric in log space, so the rates for a latency metric (lower is better) with the mirrored
/// shift are the same. Deterministic: the same seed gives the same rates on every machine, and
/// settings that differ only in σ or the shift see the same draws (common random numbers), so
/// their rates compare without extra sampling noise. Uses the gate's default minimum of 5
/// samples: below that every trial is `insufficient` and nothing is flagged.
public struct RegressionSimulation: Sendable, Equatable {
    /// Samples per side (repeats of the benchmark point).
    public var samplesPerArm: Int
    /// Standard deviation of log(sample): 0.05 ≈ 5 % run-to-run noise.
    public var sigma: Double
    /// The candidate's true relative change of the median: −0.15 = 15 % lower throughput.
    public var trueShift: Double
    public var alpha: Double
    public var minimumEffect: Double
    public var trials: Int
    public var seed: UInt64

    public struct Rates: Sendable, Equatable {
        /// Fraction of trials flagged `regression`.
        public var regression: Double
        /// Fraction of trials flagged `improvement`.
        public var improvement: Double
    }

    public init(samplesPerArm: Int, sigma: Double, trueShift: Double, alpha: Double = 0.01,
                minimumEffect: Double = 0.10, trials: Int = 2000, seed: UInt64 = 0x5EED_2024) {
        self.samplesPerArm = samplesPerArm
        self.sigma = sigma
        self.trueShift = trueShift
        self.alpha = alpha
        self.minimumEffect = minimumEffect
        self.trials = trials
        self.seed = seed
    }

    public func run() -> Rates {
        precondition(samplesPerArm > 0 && trials > 0 && sigma >= 0 && trueShift > -1)
        var generator = SplitMix64(seed: seed)
        var normal = GaussianSampler()
        let table = MannWhitney.UDistribution(candidateCount: samplesPerArm, baselineCount: samplesPerArm)
        var regressions = 0, improvements = 0
        for _ in 0..<trials {
            let baseline = (0..<samplesPerArm).map { _ in exp(sigma * normal.next(using: &generator)) }
            let candidate = (0..<samplesPerArm).map { _ in (1 + trueShift) * exp(sigma * normal.next(using: &generator)) }
            let (verdict, _, _) = MannWhitney.judge(baseline: baseline, candidate: candidate, higherIsBetter: true,
                                                    alpha: alpha, minimumEffect: minimumEffect,
                                                    minimumSamples: 5, distribution: table)
            switch verdict {
            case .regression: regressions += 1
            case .improvement: improvements += 1
            case .unchanged, .insufficient: break
            }
        }
        return Rates(regression: Double(regressions) / Double(trials), improvement: Double(improvements) / Double(trials))
    }
}

/// SplitMix64 (Steele, Lea & Flood 2014): tiny, fast, and seeded, so simulated rates are
/// reproducible; the system generator cannot be seeded.
struct SplitMix64: RandomNumberGenerator, Sendable {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Standard normal deviates by Box-Muller, keeping the second of each pair.
struct GaussianSampler: Sendable {
    private var spare: Double?

    mutating func next(using generator: inout some RandomNumberGenerator) -> Double {
        if let spare {
            self.spare = nil
            return spare
        }
        // u1 in (0, 1], so log(u1) is finite; 53 random bits each.
        let u1 = Double((generator.next() >> 11) + 1) * 0x1p-53
        let u2 = Double(generator.next() >> 11) * 0x1p-53
        let radius = (-2 * log(u1)).squareRoot()
        let angle = 2 * Double.pi * u2
        spare = radius * sin(angle)
        return radius * cos(angle)
    }
}
