import ArgumentParser
import Foundation
import ZManagerHarness

#if canImport(Glibc)
import Glibc
#endif

/// `zmanager run [SCENARIO]`: the harness's main job.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a benchmark scenario through the real ZManager pipeline and its bare-libzmq calibration.",
        discussion: """
            Writes results/<scenario>/<timestamp>/ (result.json, points.csv, .hgrm histograms, report.md, \
            report.html). With no argument runs scenarios/default.yaml. See docs/SCENARIOS.md.
            """
    )

    @Argument(help: "The scenario file.")
    var scenario: String = "scenarios/default.yaml"

    @Option(help: "Where run directories go.")
    var results: String = "results"

    @Flag(name: .shortAndLong, help: "No progress display.")
    var quiet = false

    @Flag(help: "Print the expanded matrix (every point and what it runs) and the estimated time, then stop.")
    var dryRun = false

    @Option(name: .customLong("set"), help: ArgumentHelp(
        "Override a scenario key, e.g. --set load.in_flight=100 --set matrix.topology.transport=[ipc] (repeatable).",
        valueName: "key.path=value"))
    var overrides: [String] = []

    func run() throws {
        let loaded: Scenario
        do {
            loaded = try ScenarioFile.load(path: scenario, overrides: overrides)
        } catch {
            throw ValidationError(error.description)
        }
        if dryRun {
            print(ScenarioPlan(loaded).text)
            return
        }
        var runner = ScenarioRunner(scenario: loaded, executable: URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath())
        runner.allocator = Allocator.name
        let perRepeat = 1 + (loaded.calibrate ? 1 : 0) + (loaded.reference ? 1 : 0)
        let progress = Progress(total: loaded.points.count * (loaded.repeats * perRepeat + (loaded.generatorCeiling ? 1 : 0)),
                                enabled: !quiet && isatty(STDERR_FILENO) != 0)
        runner.progress = { point, points, repeatIndex, repeats, what in
            progress.step("[\(point + 1)/\(points)] repeat \(repeatIndex + 1)/\(repeats) \(what)")
        }
        if !quiet {
            FileHandle.standardError.write(Data("scenario \(loaded.name): \(loaded.points.count) points × \(loaded.repeats) repeats\(loaded.calibrate ? " + bare calibration" : "")\n".utf8))
        }
        let output = try runner.run()
        progress.finish()
        let directory = try ResultWriter.write(output, under: URL(fileURLWithPath: results))
        try writeReports(for: output.result, in: directory)
        print(summary(output.result))
        print("results: \(directory.path)")
    }

    func summary(_ result: RunResult) -> String {
        let width = max(24, result.points.map(\.id.count).max() ?? 0)
        func pad(_ text: String, _ n: Int, left: Bool = false) -> String {
            text.count >= n ? text : (left ? text + String(repeating: " ", count: n - text.count) : String(repeating: " ", count: n - text.count) + text)
        }
        var lines = [pad("point", width, left: true) + "      msg/s   p50 µs   p99 µs  bare msg/s  ratio (min-max)   lost  err"]
        for point in result.points {
            let z = point.zmanager
            lines.append(pad(point.id, width, left: true)
                + pad(String(format: "%.0f", z.messagesPerSecond), 11)
                + pad(String(format: "%.1f", Double(z.latency.p50) / 1000), 9)
                + pad(String(format: "%.1f", Double(z.latency.p99) / 1000), 9)
                + pad(point.bare.map { String(format: "%.0f", $0.messagesPerSecond) } ?? "-", 12)
                + pad(point.ratios.map { String(format: "%.2f", $0.throughput) } ?? "-", 7)
                + pad(point.throughputRatioSpread.map { String(format: "(%.2f-%.2f)", $0.min, $0.max) } ?? "", 12)
                + pad("\(z.lost)", 7) + pad("\(z.errors)", 5))
            if z.targetRateReached == false {
                lines.append("  ! target rate not reached: sent \(Int(z.achievedSendRate ?? 0)) msg/s, \(z.unsent ?? 0) scheduled messages never sent")
            }
            if let generator = point.generator, point.generatorMayLimit {
                let single = generator.singleFrameMessagesPerSecond.map { String(format: ", %.0f single-frame", $0) } ?? ""
                lines.append(String(format: "  ! load generator alone: %.0f msg/s%@, headroom %.1f× (< %.0f×): it may share the bottleneck",
                                    generator.messagesPerSecond, single as NSString, generator.headroom, GeneratorCeiling.requiredHeadroom))
            }
            if let knee = point.knee {
                let slo = "\(KneeResult.percentileName(knee.percentile)) ≤ \(String(format: "%g", Double(knee.sloNanoseconds) / 1e6)) ms"
                let bare = knee.bare.map { ", bare \(Self.knee($0))" } ?? ""
                let ratio = knee.ratio.map { String(format: " (ratio %.2f)", $0) } ?? ""
                lines.append("  knee (\(slo)): ZManager \(Self.knee(knee.zmanager))\(bare) msg/s\(ratio); the row shows the figures at ZManager's knee")
            }
            if let note = point.calibrationNote { lines.append("  no bare ratio: \(note)") }
            if let r = point.bareOverReference { lines.append(String(format: "  bare calibration ÷ C reference program: %.2f", r)) }
        }
        return lines.joined(separator: "\n")
    }

    /// `57867 [found]`, `>= 400000 [at-highest]`, `< 5000 [below-lowest]`.
    static func knee(_ search: KneeSearchResult) -> String {
        let rate: String
        switch search.status {
        case .belowLowest: rate = "< \(Int(search.lowest))"
        case .atHighest: rate = ">= \(Int(search.highest))"
        case .found, .probesExhausted: rate = search.knee.map { "\(Int($0))" } ?? "none"
        }
        return "\(rate) [\(search.status.rawValue)]"
    }
}

/// Writes report.md and report.html next to result.json.
func writeReports(for result: RunResult, in directory: URL) throws {
    try HarnessReports.write(results: [result], to: directory)
}

/// A one-line progress display on a terminal: current step, steps left, elapsed, estimate.
final class Progress: @unchecked Sendable {
    // @unchecked Sendable: used from the one thread that runs the scenario.
    let total: Int
    let enabled: Bool
    var done = -1
    let start = Date()

    init(total: Int, enabled: Bool) {
        self.total = total
        self.enabled = enabled
    }

    func step(_ what: String) {
        done += 1
        guard enabled else { return }
        let elapsed = Date().timeIntervalSince(start)
        let left = done > 0 ? elapsed / Double(done) * Double(total - done) : 0
        let line = String(format: "\r\u{1B}[K%d/%d  %@  elapsed %@  left ~%@", done + 1, total, what as NSString,
                          Self.clock(elapsed) as NSString, (done > 0 ? Self.clock(left) : "?") as NSString)
        FileHandle.standardError.write(Data(line.utf8))
    }

    func finish() {
        if enabled { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }

    static func clock(_ seconds: Double) -> String {
        String(format: "%02d:%02d", Int(seconds) / 60, Int(seconds) % 60)
    }
}
