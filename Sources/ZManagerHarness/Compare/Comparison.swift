public import Foundation

/// When `compare` calls a point a regression.
///
/// Throughput is judged on the **paired calibration ratios** (ZManager_i ÷ bare_i, one per
/// repeat), or on msg/s per repeat where a side has no calibration (the table says so):
/// - with at least ``minimumSamples`` repeats on both sides, a one-sided Mann-Whitney test: a
///   regression when NEW is lower at significance ``alpha`` *and* the Hodges-Lehmann shift is at
///   least ``throughputDrop`` (the minimum effect), so noise does not fail it and neither does a
///   real change too small to matter;
/// - with fewer, the medians: a regression when NEW's median is more than ``throughputDrop``
///   below BASELINE's (no test reaches α = 0.01 on 3 against 3 samples).
///
/// The p99 latency ratio fails when its median rises by more than ``latencyRise``. More lost,
/// duplicated or errored messages in NEW than in BASELINE fail a point outright.
public struct ComparisonThresholds: Sendable, Equatable {
    public static let defaultThroughputDrop = 0.15
    public static let defaultLatencyRise = 0.5

    /// Largest tolerated relative drop of the throughput ratio, in [0, 1).
    public var throughputDrop: Double
    /// Largest tolerated relative rise of the p99 latency ratio, ≥ 0.
    public var latencyRise: Double
    /// Significance level of the throughput test.
    public var alpha: Double
    /// Repeats each side needs for the test; fewer fall back to the median rule.
    public var minimumSamples: Int

    public init(throughputDrop: Double = ComparisonThresholds.defaultThroughputDrop,
                latencyRise: Double = ComparisonThresholds.defaultLatencyRise, alpha: Double = 0.01, minimumSamples: Int = 5) {
        self.throughputDrop = throughputDrop
        self.latencyRise = latencyRise
        self.alpha = alpha
        self.minimumSamples = minimumSamples
    }

    /// What is wrong with these thresholds, nil when they are usable.
    public var problem: String? {
        if !(throughputDrop >= 0 && throughputDrop < 1) {
            return "the throughput threshold must be at least 0 and below 1 (a fraction: 0.15 = 15 %), got \(throughputDrop)"
        }
        if !(latencyRise >= 0 && latencyRise.isFinite) {
            return "the latency threshold must be at least 0 (a fraction: 0.5 = 50 %), got \(latencyRise)"
        }
        if !(alpha > 0 && alpha < 0.5) { return "alpha must be above 0 and below 0.5, got \(alpha)" }
        if minimumSamples < 3 { return "the test needs at least 3 samples a side, got \(minimumSamples)" }
        return nil
    }

    /// A fall of the latency ratio that mirrors the tolerated rise (1 / 1.5 → -33 %): an improvement.
    var latencyImprovement: Double { 1 - 1 / (1 + latencyRise) }
}

/// The figures of one point that `compare` uses, each the median over the point's repeats.
public struct PointSummary: Sendable, Equatable {
    /// Repeats the medians were taken over.
    public var repeats: Int
    /// Median over repeats of repeat msg/s ÷ bare msg/s; `ratios.throughput` when there is no
    /// bare measurement; nil without calibration.
    public var throughputRatio: Double?
    /// Median over repeats of repeat p99 ÷ bare p99 (corrected); `ratios.p99Latency` when there is
    /// no bare measurement; nil without calibration.
    public var p99LatencyRatio: Double?
    /// Median msg/s over the repeats.
    public var messagesPerSecond: Double
    /// Median corrected p99 over the repeats, nanoseconds.
    public var p99Nanoseconds: Double
    /// What the throughput test compares: the paired ratios ZManager_i ÷ bare_i (older results
    /// without pairs: each repeat ÷ the median bare), or msg/s per repeat without calibration.
    public var throughputSamples: [Double]
    /// Summed over the repeats: what fails a point outright when it grows.
    public var lost: Int
    public var duplicated: Int
    public var errors: Int

    /// The median (mean of the two middle values for an even count); 0 for no values.
    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return 0 }
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }

    public init(_ point: PointResult) {
        let median = PointSummary.median
        let repeats = point.repeats.isEmpty ? [point.zmanager] : point.repeats
        self.repeats = repeats.count
        messagesPerSecond = median(repeats.map(\.messagesPerSecond))
        p99Nanoseconds = median(repeats.map { Double($0.latency.p99) })
        if let pairs = point.pairs, !pairs.isEmpty {
            throughputSamples = pairs.map(\.throughputRatio)
            throughputRatio = median(throughputSamples)
        } else if let bare = point.bare, bare.messagesPerSecond > 0 {
            throughputSamples = repeats.map { $0.messagesPerSecond / bare.messagesPerSecond }
            throughputRatio = median(throughputSamples)
        } else {
            throughputRatio = point.ratios?.throughput
            throughputSamples = repeats.map(\.messagesPerSecond)
        }
        lost = repeats.map(\.lost).reduce(0, +)
        duplicated = repeats.map(\.duplicated).reduce(0, +)
        errors = repeats.map(\.errors).reduce(0, +)
        if let pairs = point.pairs, !pairs.isEmpty {
            p99LatencyRatio = median(pairs.map(\.p99LatencyRatio))
        } else if let bare = point.bare, bare.latency.p99 > 0 {
            p99LatencyRatio = median(repeats.map { Double($0.latency.p99) / Double(bare.latency.p99) })
        } else {
            p99LatencyRatio = point.ratios?.p99Latency
        }
    }
}


/// One point of BASELINE against the same point (by `id`) of NEW.
public struct PointComparison: Sendable, Equatable {
    public enum Verdict: String, Sendable {
        /// Within the thresholds.
        case ok
        /// Better than the thresholds (informational).
        case improved
        /// Beyond a threshold.
        case regression
        /// In BASELINE, not in NEW: an input error.
        case missing
        /// In NEW only (informational).
        case new
    }

    /// What a gated figure was computed from.
    public enum Basis: String, Sendable {
        /// ZManager ÷ bare libzmq, same run.
        case ratio
        /// Absolute msg/s or p99: one side had no calibration.
        case absolute
    }

    public var id: String
    public var baseline: PointSummary?
    public var new: PointSummary?
    public var throughputBasis: Basis
    public var latencyBasis: Basis
    /// Relative change of the gated throughput figure (ratio, or msg/s on the absolute basis): -0.3 = 30 % lower.
    public var throughputChange: Double?
    /// Relative change of the gated p99 figure (ratio, or nanoseconds on the absolute basis).
    public var latencyChange: Double?
    /// Relative change of the median msg/s (information).
    public var messagesPerSecondChange: Double?
    /// Relative change of the median corrected p99 (information).
    public var p99Change: Double?
    public var verdict: Verdict
    /// Why the verdict is not `ok`, and what else changed (lost messages, unreached rates).
    public var reasons: [String]
    /// The throughput test, when both sides had enough repeats (else the median rule decided).
    public var test: RegressionDecision?

    init(id: String, baseline baselinePoint: PointResult?, new newPoint: PointResult?, thresholds: ComparisonThresholds) {
        self.id = id
        let baseline = baselinePoint.map(PointSummary.init)
        let new = newPoint.map(PointSummary.init)
        self.baseline = baseline
        self.new = new
        reasons = []
        throughputBasis = .ratio
        latencyBasis = .ratio
        guard let baseline, let new, let baselinePoint, let newPoint else {
            verdict = baseline == nil ? .new : .missing
            reasons = [baseline == nil ? "only in NEW (informational)" : "measured in BASELINE but missing from NEW"]
            return
        }
        func change(_ old: Double?, _ current: Double?) -> Double? {
            guard let old, let current, old > 0, old.isFinite, current.isFinite else { return nil }
            return current / old - 1
        }
        messagesPerSecondChange = change(baseline.messagesPerSecond, new.messagesPerSecond)
        p99Change = change(baseline.p99Nanoseconds, new.p99Nanoseconds)
        var baselineSamples = baseline.throughputSamples, newSamples = new.throughputSamples
        if let old = baseline.throughputRatio, let current = new.throughputRatio {
            throughputChange = change(old, current)
        } else {
            throughputBasis = .absolute
            throughputChange = messagesPerSecondChange
            baselineSamples = baselinePoint.repeats.isEmpty ? [baselinePoint.zmanager.messagesPerSecond] : baselinePoint.repeats.map(\.messagesPerSecond)
            newSamples = newPoint.repeats.isEmpty ? [newPoint.zmanager.messagesPerSecond] : newPoint.repeats.map(\.messagesPerSecond)
        }
        if baselineSamples.count >= thresholds.minimumSamples && newSamples.count >= thresholds.minimumSamples {
            test = MannWhitney.decide(baseline: baselineSamples, candidate: newSamples, higherIsBetter: true,
                                      alpha: thresholds.alpha, minimumEffect: thresholds.throughputDrop,
                                      minimumSamples: thresholds.minimumSamples)
        }
        if let old = baseline.p99LatencyRatio, let current = new.p99LatencyRatio {
            latencyChange = change(old, current)
        } else {
            latencyBasis = .absolute
            latencyChange = p99Change
        }

        let epsilon = 1e-9
        var regression = false, improved = false
        let throughputName = throughputBasis == .ratio ? "throughput ratio" : "throughput (absolute: no calibration)"
        let latencyName = latencyBasis == .ratio ? "p99 latency ratio" : "p99 latency (absolute: no calibration)"
        if let test, test.verdict != .insufficient {
            let shift = test.result.map { Format.percentChange($0.relativeShift) } ?? "?"
            switch test.verdict {
            case .regression:
                regression = true
                reasons.append("\(throughputName) lower: Mann-Whitney \(test.reason)")
            case .improvement:
                improved = true
                reasons.append("\(throughputName) higher (improved): shift \(shift), \(test.reason)")
            case .unchanged, .insufficient:
                break
            }
        } else if let throughputChange {
            if throughputChange < -thresholds.throughputDrop - epsilon {
                regression = true
                reasons.append("\(throughputName) \(Format.percentChange(throughputChange)), beyond the tolerated "
                               + "-\(Format.significant(thresholds.throughputDrop * 100)) %")
            } else if throughputChange > thresholds.throughputDrop + epsilon {
                improved = true
                reasons.append("\(throughputName) \(Format.percentChange(throughputChange)) (improved)")
            }
        } else {
            reasons.append("\(throughputName) not comparable (zero or missing in BASELINE)")
        }
        if let latencyChange {
            if latencyChange > thresholds.latencyRise + epsilon {
                regression = true
                reasons.append("\(latencyName) \(Format.percentChange(latencyChange)), beyond the tolerated "
                               + "+\(Format.significant(thresholds.latencyRise * 100)) %")
            } else if latencyChange < -thresholds.latencyImprovement - epsilon {
                improved = true
                reasons.append("\(latencyName) \(Format.percentChange(latencyChange)) (improved)")
            }
        } else {
            reasons.append("\(latencyName) not comparable (zero or missing in BASELINE)")
        }
        // Correctness fails outright: a faster pipeline that loses messages is not faster.
        for (name, before, after) in [("lost", baseline.lost, new.lost), ("duplicated", baseline.duplicated, new.duplicated),
                                      ("errors", baseline.errors, new.errors)] where after > before {
            regression = true
            reasons.append("\(name) messages \(before) → \(after) (summed over repeats)")
        }
        verdict = regression ? .regression : improved ? .improved : .ok

        let old = baselinePoint.zmanager, current = newPoint.zmanager
        if current.targetRateReached == false && old.targetRateReached != false {
            reasons.append("target rate NOT reached in NEW (was reached in BASELINE)")
        }
    }
}

/// BASELINE against NEW: a verdict per point (matched by `id`) and overall.
public struct Comparison: Sendable {
    public enum Verdict: String, Sendable {
        case ok, regression, error
    }

    /// Process exit statuses of `zmanager compare`.
    public enum ExitStatus {
        public static let ok: Int32 = 0
        public static let regression: Int32 = 1
        /// Unreadable input, bad arguments, or points of BASELINE missing from NEW.
        public static let inputError: Int32 = 2
    }

    public var baseline: RunResult
    public var new: RunResult
    public var thresholds: ComparisonThresholds
    /// BASELINE's points in its order, then the points only in NEW.
    public var points: [PointComparison]
    /// Things that make the comparison less meaningful but do not decide it (different
    /// scenario, different machine shape).
    public var warnings: [String]

    public init(baseline: RunResult, new: RunResult, thresholds: ComparisonThresholds = ComparisonThresholds()) {
        self.baseline = baseline
        self.new = new
        self.thresholds = thresholds
        let newPoints = Dictionary(new.points.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        let baselineIDs = Set(baseline.points.map(\.id))
        points = baseline.points.map { point in
            PointComparison(id: point.id, baseline: point, new: newPoints[point.id], thresholds: thresholds)
        }
        points += new.points.filter { !baselineIDs.contains($0.id) }.map { point in
            PointComparison(id: point.id, baseline: nil, new: point, thresholds: thresholds)
        }
        var warnings: [String] = []
        if baseline.scenarioHash != new.scenarioHash {
            let what = (baseline.scenarioOverrides ?? []) == (new.scenarioOverrides ?? [])
                ? "the scenario files differ" : "the scenarios differ in their --set overrides or files"
            warnings.append("\(what) (sha256 \(baseline.scenarioHash.prefix(12)) vs \(new.scenarioHash.prefix(12))): "
                            + "points with the same id may not measure the same thing")
        }
        if baseline.host.cores != new.host.cores {
            warnings.append("different core counts (\(baseline.host.cores) vs \(new.host.cores))")
        }
        if baseline.host.libzmqVersion != new.host.libzmqVersion {
            warnings.append("different libzmq versions (\(baseline.host.libzmqVersion) vs \(new.host.libzmqVersion))")
        }
        let fewRepeats = points.filter { ($0.baseline?.repeats ?? 3) < 3 || ($0.new?.repeats ?? 3) < 3 }
        if !fewRepeats.isEmpty {
            warnings.append("\(fewRepeats.count) point\(fewRepeats.count == 1 ? " has" : "s have") fewer than 3 repeats: "
                            + "a single noisy repeat can decide their verdict")
        }
        for duplicate in Dictionary(grouping: baseline.points, by: \.id).filter({ $0.value.count > 1 }).keys.sorted() {
            warnings.append("BASELINE has several points with id \(duplicate): the first is compared")
        }
        for duplicate in Dictionary(grouping: new.points, by: \.id).filter({ $0.value.count > 1 }).keys.sorted() {
            warnings.append("NEW has several points with id \(duplicate): the first is compared")
        }
        self.warnings = warnings
    }

    public var missing: [PointComparison] { points.filter { $0.verdict == .missing } }
    public var regressions: [PointComparison] { points.filter { $0.verdict == .regression } }

    /// `error` when a BASELINE point is missing from NEW (or NEW has no points), else
    /// `regression` when any point regressed, else `ok`.
    public var verdict: Verdict {
        if !missing.isEmpty || new.points.isEmpty || baseline.points.isEmpty { return .error }
        return regressions.isEmpty ? .ok : .regression
    }

    public var exitStatus: Int32 {
        switch verdict {
        case .ok: ExitStatus.ok
        case .regression: ExitStatus.regression
        case .error: ExitStatus.inputError
        }
    }

    /// The report `zmanager compare` prints: a table of the points with signed deltas, the reasons
    /// behind each verdict that is not `ok`, the thresholds and the overall verdict.
    public func render(baselineName: String = "BASELINE", newName: String = "NEW") -> String {
        var out = "BASELINE \(baselineName): \(ReportRun.defaultLabel(baseline)), \(baseline.points.count) points\n"
        out += "NEW      \(newName): \(ReportRun.defaultLabel(new)), \(new.points.count) points\n"
        for warning in warnings { out += "warning: \(warning)\n" }
        out += "\n"

        let header = ["point", "repeats", "thr÷bare", "Δ", "p99÷bare", "Δ", "msg/s", "Δ", "p99", "Δ", "verdict"]
        let numeric = [false, true, true, true, true, true, true, true, true, true, false]
        var rows: [[String]] = []
        for point in points {
            func pair(_ value: (PointSummary) -> Double?, _ format: (Double) -> String) -> String {
                let old = point.baseline.flatMap(value).map(format) ?? "—"
                let current = point.new.flatMap(value).map(format) ?? "—"
                return "\(old) → \(current)"
            }
            let absolute = "*"
            rows.append([
                point.id,
                "\(point.baseline.map { String($0.repeats) } ?? "—")/\(point.new.map { String($0.repeats) } ?? "—")",
                pair(\.throughputRatio) { Format.fixed($0, 2) },
                point.throughputBasis == .ratio
                    ? Format.percentChange(point.throughputChange) : absolute + Format.percentChange(point.throughputChange),
                pair(\.p99LatencyRatio) { Format.fixed($0, 2) },
                point.latencyBasis == .ratio
                    ? Format.percentChange(point.latencyChange) : absolute + Format.percentChange(point.latencyChange),
                pair(\.messagesPerSecond) { Format.rate($0) },
                Format.percentChange(point.messagesPerSecondChange),
                pair(\.p99Nanoseconds) { Format.nanoseconds($0) },
                Format.percentChange(point.p99Change),
                point.verdict == .ok ? "ok" : point.verdict.rawValue.uppercased(),
            ])
        }
        out += Self.textTable(header: header, numeric: numeric, rows: rows)
        if points.contains(where: { $0.throughputBasis == .absolute || $0.latencyBasis == .absolute }) {
            out += "* no calibration on one side: the gate used the absolute msg/s or p99 instead of the ratio.\n"
        }
        out += "\n"

        for point in points where point.verdict != .ok || !point.reasons.isEmpty {
            out += "\(point.verdict.rawValue.uppercased()) \(point.id): \(point.reasons.joined(separator: "; "))\n"
        }
        out += "\nthresholds: throughput (the paired ZManager ÷ bare ratios, or msg/s without calibration) regresses when "
            + "NEW is lower in a one-sided Mann-Whitney test at α = \(Format.significant(thresholds.alpha)) with a shift of at least "
            + "\(Format.significant(thresholds.throughputDrop * 100)) % (points with \(thresholds.minimumSamples)+ repeats a side), "
            + "or when its median drops by more than that (fewer repeats); the p99 latency ratio when its median rises by more than "
            + "\(Format.significant(thresholds.latencyRise * 100)) %; any rise in lost, duplicated or errored messages fails.\n"

        let compared = points.filter { $0.baseline != nil && $0.new != nil }.count
        let improved = points.filter { $0.verdict == .improved }.count
        let added = points.filter { $0.verdict == .new }.count
        var extras: [String] = []
        if improved > 0 { extras.append("\(improved) improved") }
        if added > 0 { extras.append("\(added) new in NEW, not judged") }
        let suffix = extras.isEmpty ? "" : " (\(extras.joined(separator: ", ")))"
        switch verdict {
        case .ok:
            out += "verdict: OK: \(compared) point\(compared == 1 ? "" : "s") within thresholds\(suffix)\n"
        case .regression:
            out += "verdict: REGRESSION in \(regressions.count) of \(compared) points: \(Self.list(regressions.map(\.id)))\n"
        case .error:
            if baseline.points.isEmpty || new.points.isEmpty {
                out += "verdict: ERROR: \(baseline.points.isEmpty ? "BASELINE" : "NEW") has no points\n"
            } else {
                out += "verdict: ERROR: \(missing.count) point\(missing.count == 1 ? "" : "s") of BASELINE missing from NEW: "
                    + Self.list(missing.map(\.id)) + "\n"
            }
            if !regressions.isEmpty {
                out += "(and REGRESSION in \(regressions.count) points: \(Self.list(regressions.map(\.id))))\n"
            }
        }
        return out
    }

    /// The first five ids, then how many more (the table above has them all).
    static func list(_ ids: [String]) -> String {
        ids.count <= 5 ? ids.joined(separator: ", ") : ids.prefix(5).joined(separator: ", ") + " and \(ids.count - 5) more"
    }

    static func textTable(header: [String], numeric: [Bool], rows: [[String]]) -> String {
        let all = [header] + rows
        let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { column, cell in
                let padding = String(repeating: " ", count: widths[column] - cell.count)
                return numeric[column] ? padding + cell : cell + padding
            }.joined(separator: "  ").replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression) + "\n"
        }
        var out = line(header)
        out += line(widths.map { String(repeating: "-", count: $0) })
        for row in rows { out += line(row) }
        return out
    }
}

// MARK: - Finding and reading result.json

/// Why a result could not be read, naming the path.
public struct ResultLoadingError: Error, CustomStringConvertible, Sendable {
    public var path: String
    public var reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String { "\(path): \(reason)" }
}

/// Finds and reads `result.json` from what a user types: the file itself, a run directory
/// (`results/<scenario>/<timestamp>/`), or a scenario directory (`results/<scenario>/`, meaning
/// its newest run: the greatest subdirectory name holding a `result.json`, which for the
/// runner's UTC timestamps is the latest).
public enum ResultLocator {
    public static let resultFileName = "result.json"

    public static func resolve(_ path: String) throws -> URL {
        let fileManager = FileManager.default
        var isDirectory: ObjCBool = false
        guard fileManager.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ResultLoadingError(path: path, reason: "no such file or directory")
        }
        let url = URL(fileURLWithPath: path)
        guard isDirectory.boolValue else { return url }
        let direct = url.appendingPathComponent(resultFileName)
        if fileManager.fileExists(atPath: direct.path) { return direct }
        let children = (try? fileManager.contentsOfDirectory(atPath: path)) ?? []
        let runs = children.filter { fileManager.fileExists(atPath: url.appendingPathComponent($0).appendingPathComponent(resultFileName).path) }
        guard let newest = runs.max() else {
            throw ResultLoadingError(path: path, reason: "no \(resultFileName) in it nor in any of its subdirectories "
                                     + "(give a result.json, a run directory results/<scenario>/<timestamp>/ or results/<scenario>/)")
        }
        return url.appendingPathComponent(newest).appendingPathComponent(resultFileName)
    }

    /// Reads and decodes `url`, refusing schema versions newer than this build understands.
    public static func read(_ url: URL) throws -> RunResult {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw ResultLoadingError(path: url.path, reason: "cannot read: \(error.localizedDescription)")
        }
        let result: RunResult
        do {
            result = try JSONDecoder().decode(RunResult.self, from: data)
        } catch let error as DecodingError {
            throw ResultLoadingError(path: url.path, reason: "not a result.json this build understands: \(describe(error))")
        } catch {
            throw ResultLoadingError(path: url.path, reason: "not a result.json: \(error)")
        }
        guard result.schemaVersion <= RunResult.currentSchemaVersion else {
            throw ResultLoadingError(path: url.path, reason: "schema version \(result.schemaVersion) is newer than this build's "
                                     + "\(RunResult.currentSchemaVersion): use a newer zmanager")
        }
        return result
    }

    /// ``resolve(_:)`` then ``read(_:)``.
    public static func load(_ path: String) throws -> (url: URL, result: RunResult) {
        let url = try resolve(path)
        return (url, try read(url))
    }

    private static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let keys = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return keys.isEmpty ? "at the top level" : "at \(keys.hasPrefix(".") ? String(keys.dropFirst()) : keys)"
        }
        switch error {
        case .keyNotFound(let key, let context): return "missing key '\(key.stringValue)' \(path(context))"
        case .typeMismatch(_, let context): return "wrong type \(path(context)): \(context.debugDescription)"
        case .valueNotFound(_, let context): return "null value \(path(context))"
        case .dataCorrupted(let context): return "\(context.debugDescription) \(path(context))"
        @unknown default: return "\(error)"
        }
    }
}

// MARK: - Pooling several runs of one scenario

extension RunResult {
    /// Several runs of the same scenario as one: each point's repeats, bare repeats and pairs
    /// concatenated in run order, its medians and ratios taken again over all of them. The
    /// CI gate runs each binary many times, interleaved, and compares the pools.
    public static func pooled(_ runs: [RunResult]) -> RunResult? {
        guard var pooled = runs.first else { return nil }
        var order: [String] = []
        var byID: [String: [PointResult]] = [:]
        for run in runs {
            for point in run.points {
                if byID[point.id] == nil { order.append(point.id) }
                byID[point.id, default: []].append(point)
            }
        }
        pooled.points = order.map { id in
            let parts = byID[id]!
            var point = parts[0]
            point.repeats = parts.flatMap { $0.repeats.isEmpty ? [$0.zmanager] : $0.repeats }
            let bares = parts.flatMap { $0.bareRepeats ?? $0.bare.map { [$0] } ?? [] }
            point.bareRepeats = bares.isEmpty ? nil : bares
            let pairs = parts.flatMap { $0.pairs ?? [] }
            point.pairs = pairs.isEmpty ? nil : pairs
            func median(_ measurements: [Measurement]) -> Measurement? {
                measurements.sorted { $0.messagesPerSecond < $1.messagesPerSecond }.dropFirst(measurements.count / 2).first
            }
            point.zmanager = median(point.repeats) ?? point.zmanager
            point.bare = median(bares)
            if !pairs.isEmpty {
                point.ratios = Ratios(throughput: PointSummary.median(pairs.map(\.throughputRatio)),
                                      p50Latency: PointSummary.median(pairs.map(\.p50LatencyRatio)),
                                      p99Latency: PointSummary.median(pairs.map(\.p99LatencyRatio)))
                point.throughputRatioSpread = Spread(pairs.map(\.throughputRatio))
            }
            let references = parts.flatMap { $0.reference ?? [] }
            point.reference = references.isEmpty ? nil : references
            return point
        }
        pooled.durationSeconds = runs.map(\.durationSeconds).reduce(0, +)
        pooled.host.loadAverageEnd = runs.last!.host.loadAverageEnd
        return pooled
    }
}

extension ResultLocator {
    /// Every `result.json` at or below `path` (the file itself, or up to three directory
    /// levels down), pooled with ``RunResult/pooled(_:)``.
    public static func loadPooled(_ path: String) throws -> (url: URL, result: RunResult, runs: Int) {
        let root = URL(fileURLWithPath: path)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ResultLoadingError(path: path, reason: "no such file or directory")
        }
        guard isDirectory.boolValue else {
            let result = try read(root)
            return (root, result, 1)
        }
        var files: [URL] = []
        if let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil) {
            for case let url as URL in walker where url.lastPathComponent == resultFileName && url.pathComponents.count - root.pathComponents.count <= 4 {
                files.append(url)
            }
        }
        files.sort { $0.path < $1.path }
        guard !files.isEmpty else { throw ResultLoadingError(path: path, reason: "no \(resultFileName) at or below it") }
        let runs = try files.map(read)
        let scenarios = Set(runs.map(\.scenarioHash))
        guard scenarios.count == 1 else {
            throw ResultLoadingError(path: path, reason: "its \(files.count) results come from \(scenarios.count) different scenario files; pool runs of one scenario")
        }
        return (root, RunResult.pooled(runs)!, runs.count)
    }
}
