import ArgumentParser
import Foundation
import ZManagerHarness

/// `zmanager report RESULT...`: regenerates `report.md` and `report.html` from `result.json`
/// files; several runs make one overlay report (the runs compared on the same charts).
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Regenerate report.md and report.html from result.json files; several runs make an overlay report.",
        discussion: """
            Each input is a result.json, a run directory (results/<scenario>/<timestamp>/) or a scenario \
            directory (results/<scenario>/, meaning its newest run). With one input the reports go next to its \
            result.json; with several, into results/overlay/<timestamp>/ unless --output says otherwise. \
            Exit status 2 when an input cannot be read.
            """
    )

    @Argument(help: ArgumentHelp("result.json files or run directories.", valueName: "result"))
    var inputs: [String] = []

    @Option(name: .shortAndLong, help: "Directory to write report.md and report.html into.")
    var output: String?

    @Option(name: .long, help: "Label of a run in headings and legends, once per input, in order (default: scenario, revision, start time).")
    var label: [String] = []

    func run() throws {
        guard !inputs.isEmpty else { throw Self.inputError("give at least one result.json or run directory") }
        guard label.isEmpty || label.count == inputs.count else {
            throw Self.inputError("--label was given \(label.count) times for \(inputs.count) inputs: give one per input or none")
        }
        var loaded: [(url: URL, result: RunResult)] = []
        for input in inputs {
            do {
                loaded.append(try ResultLocator.load(input))
            } catch {
                throw Self.inputError("\(error)")
            }
        }
        var runs = ReportRun.labelled(loaded.map(\.result))
        for index in label.indices { runs[index].label = label[index] }

        let directory: URL
        if let output {
            directory = URL(fileURLWithPath: output)
        } else if loaded.count == 1 {
            directory = loaded[0].url.deletingLastPathComponent()
        } else {
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "UTC")
            formatter.dateFormat = "yyyy-MM-dd'T'HH-mm-ss'Z'"
            directory = URL(fileURLWithPath: "results/overlay").appendingPathComponent(formatter.string(from: Date()))
        }
        let written = try ReportFiles.write(runs, to: directory)
        for url in written { print(url.path) }
    }

    /// Prints `message` to standard error and gives the exit status of an input error (2).
    static func inputError(_ message: String) -> ExitCode {
        FileHandle.standardError.write(Data("zmanager report: error: \(message)\n".utf8))
        return ExitCode(Comparison.ExitStatus.inputError)
    }
}
