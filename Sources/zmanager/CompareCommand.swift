import ArgumentParser
import Foundation
import ZManagerHarness

/// `zmanager compare BASELINE NEW`: per-point deltas of the calibration ratios, and an exit
/// status CI can gate on.
struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Compare two runs point by point and fail on a regression of the ZManager ÷ bare libzmq ratios.",
        discussion: """
            BASELINE and NEW are each a result.json, a run directory (results/<scenario>/<timestamp>/) or a \
            scenario directory (results/<scenario>/, meaning its newest run). Points are matched by id. A point \
            regresses when, relative to BASELINE, its throughput ratio (ZManager msg/s ÷ bare msg/s) drops by more \
            than --throughput-threshold or its p99 latency ratio (ZManager p99 ÷ bare p99) rises by more than \
            --latency-threshold, both the median over the point's repeats, so one noisy repeat does not decide. \
            Points without calibration are compared on absolute msg/s and p99. Points only in NEW are reported, \
            not judged. Exit status: 0 no regression, 1 regression, 2 unreadable input, bad arguments, or \
            BASELINE points missing from NEW. See docs/RESULTS.md.
            """
    )

    @Argument(help: "The reference run.")
    var baseline: String?

    @Argument(help: "The run to judge.")
    var new: String?

    @Option(help: "Tolerated relative drop of the throughput ratio (0.15 = 15 %).")
    var throughputThreshold: Double = ComparisonThresholds.defaultThroughputDrop

    @Option(help: "Tolerated relative rise of the p99 latency ratio (0.5 = 50 %).")
    var latencyThreshold: Double = ComparisonThresholds.defaultLatencyRise

    func run() throws {
        guard let baseline, let new else {
            throw Self.inputError("give two runs: zmanager compare BASELINE NEW (see --help)")
        }
        let thresholds = ComparisonThresholds(throughputDrop: throughputThreshold, latencyRise: latencyThreshold)
        if let problem = thresholds.problem { throw Self.inputError(problem) }
        let baselineRun: (url: URL, result: RunResult)
        let newRun: (url: URL, result: RunResult)
        do {
            baselineRun = try ResultLocator.load(baseline)
            newRun = try ResultLocator.load(new)
        } catch {
            throw Self.inputError("\(error)")
        }
        let comparison = Comparison(baseline: baselineRun.result, new: newRun.result, thresholds: thresholds)
        print(comparison.render(baselineName: baselineRun.url.path, newName: newRun.url.path), terminator: "")
        if comparison.exitStatus != Comparison.ExitStatus.ok { throw ExitCode(comparison.exitStatus) }
    }

    /// Prints `message` to standard error and gives the exit status of an input error (2).
    static func inputError(_ message: String) -> ExitCode {
        FileHandle.standardError.write(Data("zmanager compare: error: \(message)\n".utf8))
        return ExitCode(Comparison.ExitStatus.inputError)
    }
}
