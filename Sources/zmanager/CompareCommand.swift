public import ArgumentParser
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
            scenario directory (results/<scenario>/, meaning its newest run); with --pool, every run found under \
            each is pooled. Points are matched by id. Throughput is judged on the paired ratios ZManager_i ÷ bare_i \
            (msg/s per repeat without calibration): with 5 or more repeats a side, a point regresses when a \
            one-sided Mann-Whitney test finds NEW lower at --alpha and the shift is at least --throughput-threshold; \
            with fewer, when the median drops by more than --throughput-threshold. The p99 latency ratio regresses \
            when its median rises by more than --latency-threshold. More lost, duplicated or errored messages than \
            in BASELINE fail a point outright. Points only in NEW are reported, not judged. Exit status: 0 no regression, 1 regression, 2 unreadable input, bad arguments, or \
            BASELINE points missing from NEW. --format junit writes JUnit XML (a regressed point is a failed test case \
            with its figures in the message), --format markdown a summary for a pull-request comment; when \
            $GITHUB_STEP_SUMMARY is set, the Markdown summary is also appended to that file. See docs/RESULTS.md.
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

    @Option(help: "Significance level of the throughput test (one-sided Mann-Whitney).")
    var alpha: Double = 0.01

    @Option(help: "What to print: text (a table, the default), junit (JUnit XML) or markdown.")
    var format: Comparison.OutputFormat = .text

    @Option(name: .customLong("output"), help: "Write the report to this file instead of standard output.")
    var outputFile: String?

    @Flag(help: "Pool every result.json found under BASELINE and under NEW (runs of one scenario, e.g. the gate's interleaved runs).")
    var pool = false

    func run() throws {
        guard let baseline, let new else {
            throw Self.inputError("give two runs: zmanager compare BASELINE NEW (see --help)")
        }
        let thresholds = ComparisonThresholds(throughputDrop: throughputThreshold, latencyRise: latencyThreshold, alpha: alpha)
        if let problem = thresholds.problem { throw Self.inputError(problem) }
        let baselineRun: (url: URL, result: RunResult)
        let newRun: (url: URL, result: RunResult)
        do {
            if pool {
                let (baselineURL, baselineResult, _) = try ResultLocator.loadPooled(baseline)
                let (newURL, newResult, _) = try ResultLocator.loadPooled(new)
                baselineRun = (baselineURL, baselineResult)
                newRun = (newURL, newResult)
            } else {
                baselineRun = try ResultLocator.load(baseline)
                newRun = try ResultLocator.load(new)
            }
        } catch {
            throw Self.inputError("\(error)")
        }
        let comparison = Comparison(baseline: baselineRun.result, new: newRun.result, thresholds: thresholds)
        let report = comparison.rendered(format, baselineName: baselineRun.url.path, newName: newRun.url.path)
        if let outputFile {
            do {
                try report.write(toFile: outputFile, atomically: true, encoding: .utf8)
            } catch {
                throw Self.inputError("cannot write \(outputFile): \(error.localizedDescription)")
            }
        } else {
            print(report, terminator: "")
        }
        if let summary = ProcessInfo.processInfo.environment["GITHUB_STEP_SUMMARY"], !summary.isEmpty {
            Self.append(comparison.markdown(baselineName: baselineRun.url.path, newName: newRun.url.path) + "\n", to: summary)
        }
        if comparison.exitStatus != Comparison.ExitStatus.ok { throw ExitCode(comparison.exitStatus) }
    }

    /// Appends to GitHub's step summary file (created when missing); a failure is reported on
    /// standard error and does not change the verdict.
    static func append(_ text: String, to path: String) {
        if !FileManager.default.fileExists(atPath: path) { _ = FileManager.default.createFile(atPath: path, contents: nil) }
        guard let handle = FileHandle(forWritingAtPath: path) else {
            FileHandle.standardError.write(Data("zmanager compare: warning: cannot append to $GITHUB_STEP_SUMMARY (\(path))\n".utf8))
            return
        }
        handle.seekToEndOfFile()
        handle.write(Data(text.utf8))
        handle.closeFile()
    }

    /// Prints `message` to standard error and gives the exit status of an input error (2).
    static func inputError(_ message: String) -> ExitCode {
        FileHandle.standardError.write(Data("zmanager compare: error: \(message)\n".utf8))
        return ExitCode(Comparison.ExitStatus.inputError)
    }
}

extension Comparison.OutputFormat: ExpressibleByArgument {}
