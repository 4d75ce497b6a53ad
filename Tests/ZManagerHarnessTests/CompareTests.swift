import Foundation
import Testing
@testable import ZManagerHarness

@Suite("zmanager compare: verdicts, thresholds, exit statuses")
struct CompareTests {
    /// `result` with every ZManager throughput (each repeat, the median, the ratio) multiplied
    /// by `factor`: a pipeline slowed against an unchanged bare calibration.
    static func slowed(_ result: RunResult, throughput factor: Double, only ids: Set<String>? = nil) -> RunResult {
        var result = result
        for index in result.points.indices where ids?.contains(result.points[index].id) ?? true {
            for repeatIndex in result.points[index].repeats.indices {
                result.points[index].repeats[repeatIndex].messagesPerSecond *= factor
            }
            result.points[index].zmanager.messagesPerSecond *= factor
            result.points[index].ratios?.throughput *= factor
        }
        return result
    }

    /// `result` with every ZManager p99 multiplied by `factor`.
    static func delayed(_ result: RunResult, p99 factor: Double) -> RunResult {
        var result = result
        for index in result.points.indices {
            for repeatIndex in result.points[index].repeats.indices {
                result.points[index].repeats[repeatIndex].latency.p99 = UInt64(Double(result.points[index].repeats[repeatIndex].latency.p99) * factor)
            }
            result.points[index].zmanager.latency.p99 = UInt64(Double(result.points[index].zmanager.latency.p99) * factor)
            result.points[index].ratios?.p99Latency *= factor
        }
        return result
    }

    @Test func anUnchangedRunPasses() {
        let run = ReportSamples.run()
        let comparison = Comparison(baseline: run, new: run)
        #expect(comparison.verdict == .ok)
        #expect(comparison.exitStatus == 0)
        #expect(comparison.points.count == run.points.count)
        #expect(comparison.points.allSatisfy { $0.verdict == .ok && $0.throughputChange == 0 && $0.latencyChange == 0 })
        #expect(comparison.warnings.isEmpty)
        let text = comparison.render()
        #expect(text.contains("verdict: OK: 7 points within thresholds"))
        #expect(text.contains("±0.0 %"))
    }

    @Test func aRunOnAnotherDayWithinNoisePasses() {
        // Absolute numbers halve on a busier machine, but so does bare libzmq: the ratios hold.
        var run = ReportSamples.run()
        for index in run.points.indices {
            for repeatIndex in run.points[index].repeats.indices { run.points[index].repeats[repeatIndex].messagesPerSecond *= 0.5 }
            run.points[index].zmanager.messagesPerSecond *= 0.5
            run.points[index].bare?.messagesPerSecond *= 0.5
        }
        let comparison = Comparison(baseline: ReportSamples.run(), new: run)
        #expect(comparison.verdict == .ok)
        #expect(comparison.points.allSatisfy { abs($0.messagesPerSecondChange! + 0.5) < 1e-9 })
    }

    @Test func aSlowedPipelineFails() throws {
        let baseline = ReportSamples.run()
        let comparison = Comparison(baseline: baseline, new: Self.slowed(baseline, throughput: 0.7))
        #expect(comparison.verdict == .regression)
        #expect(comparison.exitStatus == 1)
        #expect(comparison.regressions.count == baseline.points.count)
        let point = try #require(comparison.points.first)
        #expect(abs(point.throughputChange! + 0.3) < 1e-9)
        #expect(point.throughputBasis == .ratio)
        let text = comparison.render()
        #expect(text.contains("-30.0 %"))
        // Five repeats a side: the Mann-Whitney test decides (all five lower: p = 1/252).
        #expect(text.contains("REGRESSION \(point.id): throughput ratio lower: Mann-Whitney"))
        #expect(point.test?.verdict == .regression)
        #expect(abs((point.test?.result?.pValue ?? 1) - 1.0 / 252) < 1e-9)
        // With too few repeats for the test, the median rule decides and says so.
        let medianRule = Comparison(baseline: baseline, new: Self.slowed(baseline, throughput: 0.7),
                                    thresholds: ComparisonThresholds(minimumSamples: 6))
        #expect(medianRule.render().contains("REGRESSION \(point.id): throughput ratio -30.0 %, beyond the tolerated -15 %"))
        #expect(text.contains("verdict: REGRESSION in 7 of 7 points"))
        // The table: the ratios before and after, the signed change.
        let row = try #require(text.split(separator: "\n").first { $0.hasPrefix(point.id) })
        #expect(row.contains("0.90 → 0.63"))
        #expect(row.hasSuffix("REGRESSION"))
    }

    @Test func oneSlowedPointIsEnoughAndIsNamed() {
        let baseline = ReportSamples.run()
        let id = baseline.points[1].id
        let comparison = Comparison(baseline: baseline, new: Self.slowed(baseline, throughput: 0.8, only: [id]))
        #expect(comparison.verdict == .regression)
        #expect(comparison.regressions.map(\.id) == [id])
    }

    @Test func oneNoisyRepeatAmongFiveDoesNotFail() {
        let baseline = ReportSamples.run()
        var new = baseline
        for index in new.points.indices {
            // The worst repeat the machine can produce: a third of the throughput, five times the p99.
            new.points[index].repeats[0].messagesPerSecond *= 0.3
            new.points[index].repeats[0].latency.p99 *= 5
        }
        let comparison = Comparison(baseline: baseline, new: new)
        #expect(comparison.verdict == .ok, "\(comparison.render())")
        #expect(comparison.points.allSatisfy { abs($0.throughputChange!) < 0.03 && abs($0.latencyChange!) < 1e-9 })

        // Three slowed repeats of five move the median: the median rule calls that a
        // regression; the rank test, which needs more evidence than 3 of 5, does not.
        var mostly = baseline
        for index in mostly.points.indices {
            for repeatIndex in 0..<3 { mostly.points[index].repeats[repeatIndex].messagesPerSecond *= 0.6 }
        }
        #expect(Comparison(baseline: baseline, new: mostly, thresholds: ComparisonThresholds(minimumSamples: 6)).verdict == .regression)
        #expect(Comparison(baseline: baseline, new: mostly).verdict == .ok)
    }

    @Test func p99LatencyRatioThreshold() {
        let baseline = ReportSamples.run()
        #expect(Comparison(baseline: baseline, new: Self.delayed(baseline, p99: 1.6)).verdict == .regression)
        #expect(Comparison(baseline: baseline, new: Self.delayed(baseline, p99: 1.4)).verdict == .ok)
        let faster = Comparison(baseline: baseline, new: Self.delayed(baseline, p99: 0.5))
        #expect(faster.verdict == .ok)
        #expect(faster.points.allSatisfy { $0.verdict == .improved })
        #expect(faster.render().contains("IMPROVED"))
    }

    @Test func thresholdsAreConfigurable() {
        let baseline = ReportSamples.run()
        let slower = Self.slowed(baseline, throughput: 0.8)
        #expect(Comparison(baseline: baseline, new: slower).verdict == .regression)
        #expect(Comparison(baseline: baseline, new: slower, thresholds: .init(throughputDrop: 0.25)).verdict == .ok)
        let later = Self.delayed(baseline, p99: 1.4)
        #expect(Comparison(baseline: baseline, new: later, thresholds: .init(latencyRise: 0.3)).verdict == .regression)
        #expect(ComparisonThresholds().problem == nil)
        #expect(ComparisonThresholds(throughputDrop: 1.5).problem != nil)
        #expect(ComparisonThresholds(throughputDrop: -0.1).problem != nil)
        #expect(ComparisonThresholds(latencyRise: .nan).problem != nil)
    }

    @Test func aMissingPointIsAnErrorANewOneInformational() {
        let baseline = ReportSamples.run()
        var fewer = baseline
        let dropped = fewer.points.remove(at: 2).id
        let missing = Comparison(baseline: baseline, new: fewer)
        #expect(missing.verdict == .error)
        #expect(missing.exitStatus == 2)
        #expect(missing.missing.map(\.id) == [dropped])
        #expect(missing.render().contains("verdict: ERROR: 1 point of BASELINE missing from NEW: \(dropped)"))

        let added = Comparison(baseline: fewer, new: baseline)
        #expect(added.verdict == .ok)
        #expect(added.exitStatus == 0)
        #expect(added.points.last?.id == dropped)
        #expect(added.points.last?.verdict == .new)
        #expect(added.render().contains("(1 new in NEW, not judged)"))

        var empty = baseline
        empty.points = []
        #expect(Comparison(baseline: baseline, new: empty).exitStatus == 2)
    }

    @Test func withoutBareTheRecordedRatiosOrAbsoluteNumbersAreUsed() {
        var recorded = ReportSamples.run()
        for index in recorded.points.indices { recorded.points[index].bare = nil }
        let summary = PointSummary(recorded.points[0])
        #expect(summary.throughputRatio == recorded.points[0].ratios?.throughput)
        #expect(Comparison(baseline: recorded, new: Self.slowed(recorded, throughput: 0.7)).verdict == .regression)

        var uncalibrated = recorded
        for index in uncalibrated.points.indices { uncalibrated.points[index].ratios = nil }
        let comparison = Comparison(baseline: uncalibrated, new: Self.slowed(uncalibrated, throughput: 0.7))
        #expect(comparison.verdict == .regression)
        #expect(comparison.points.allSatisfy { $0.throughputBasis == .absolute && $0.latencyBasis == .absolute })
        #expect(comparison.render().contains("* no calibration on one side"))
    }

    @Test func medians() {
        #expect(PointSummary.median([3, 1, 2]) == 2)
        #expect(PointSummary.median([4, 1, 3, 2]) == 2.5)
        #expect(PointSummary.median([]) == 0)
        let point = ReportSamples.point(transport: "tcp", workers: 1, rate: 1000)
        let summary = PointSummary(point)
        #expect(summary.repeats == 5)
        #expect(abs(summary.messagesPerSecond - 1000) < 1e-9)
        #expect(abs(summary.throughputRatio! - 0.9) < 1e-9)
        #expect(abs(summary.p99LatencyRatio! - 1.25) < 1e-9)
    }

    @Test func warnsWhenTheRunsAreNotComparable() {
        let baseline = ReportSamples.run()
        var other = baseline
        other.scenarioHash = String(repeating: "cd", count: 32)
        other.host.cores = 4
        let comparison = Comparison(baseline: baseline, new: other)
        #expect(comparison.warnings.count == 2)
        #expect(comparison.render().contains("warning: the scenario files differ"))
        var overridden = baseline
        overridden.scenarioHash = other.scenarioHash
        overridden.scenarioOverrides = ["repeats=1"]
        #expect(Comparison(baseline: baseline, new: overridden).warnings.contains { $0.hasPrefix("the scenarios differ in their --set overrides") })
        var single = baseline
        for index in single.points.indices { single.points[index].repeats = [single.points[index].zmanager] }
        #expect(Comparison(baseline: single, new: single).warnings.contains { $0.contains("fewer than 3 repeats") })
    }

    // MARK: The command

    /// The `zmanager` executable SwiftPM built next to the test bundle.
    static var executable: URL {
        get throws {
            let candidates = [Bundle.main.bundleURL, Bundle.main.bundleURL.deletingLastPathComponent(),
                              URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()]
            for directory in candidates {
                let url = directory.appendingPathComponent("zmanager")
                if FileManager.default.isExecutableFile(atPath: url.path) { return url }
            }
            throw ResultLoadingError(path: "zmanager", reason: "executable not found next to \(candidates.map(\.path))")
        }
    }

    static func zmanager(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = try executable
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    @Test func commandExitStatuses() throws {
        let root = try ReportSamples.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let baseline = ReportSamples.run()
        var fewer = baseline
        fewer.points.removeLast()
        let baselinePath = root.appendingPathComponent("baseline.json")
        try ReportSamples.writeJSON(baseline, to: baselinePath)
        try ReportSamples.writeJSON(baseline, to: root.appendingPathComponent("sample/2026-11-29T11-00-00Z/result.json"))
        try ReportSamples.writeJSON(Self.slowed(baseline, throughput: 0.7),
                                    to: root.appendingPathComponent("slow/2026-11-29T12-00-00Z/result.json"))
        try ReportSamples.writeJSON(fewer, to: root.appendingPathComponent("fewer.json"))

        let same = try Self.zmanager(["compare", baselinePath.path, root.appendingPathComponent("sample").path])
        #expect(same.status == 0, "\(same.output)")
        #expect(same.output.contains("verdict: OK"))

        let slow = try Self.zmanager(["compare", baselinePath.path, root.appendingPathComponent("slow/2026-11-29T12-00-00Z").path])
        #expect(slow.status == 1, "\(slow.output)")
        #expect(slow.output.contains("verdict: REGRESSION"))
        let lenient = try Self.zmanager(["compare", baselinePath.path, root.appendingPathComponent("slow").path,
                                         "--throughput-threshold", "0.35"])
        #expect(lenient.status == 0, "\(lenient.output)")

        let missing = try Self.zmanager(["compare", baselinePath.path, root.appendingPathComponent("fewer.json").path])
        #expect(missing.status == 2, "\(missing.output)")
        #expect(missing.output.contains("missing from NEW"))

        let unreadable = try Self.zmanager(["compare", baselinePath.path, root.appendingPathComponent("nothing").path])
        #expect(unreadable.status == 2)
        #expect(unreadable.output.contains("nothing: no such file or directory"))
        #expect(try Self.zmanager(["compare", baselinePath.path]).status == 2)
        #expect(try Self.zmanager(["compare", baselinePath.path, baselinePath.path, "--latency-threshold=-1"]).status == 2)

        let report = try Self.zmanager(["report", root.appendingPathComponent("sample").path, baselinePath.path,
                                        "--output", root.appendingPathComponent("overlay").path])
        #expect(report.status == 0, "\(report.output)")
        let html = try String(contentsOf: root.appendingPathComponent("overlay/report.html"), encoding: .utf8)
        #expect(html.contains("2 runs overlaid"))
        let single = try Self.zmanager(["report", root.appendingPathComponent("sample").path])
        #expect(single.status == 0, "\(single.output)")
        #expect(FileManager.default.fileExists(atPath: root.appendingPathComponent("sample/2026-11-29T11-00-00Z/report.md").path))
        #expect(try Self.zmanager(["report", root.appendingPathComponent("nothing").path]).status == 2)
    }
}
