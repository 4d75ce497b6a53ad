import ArgumentParser
import Foundation
import ZManagerHarness

/// `zmanager scenarios`: the shipped scenarios, each with its description, size and estimated
/// time, so a user can pick one without opening the files.
struct ScenariosCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scenarios",
        abstract: "List the scenarios in a directory (default: scenarios/) with their descriptions and estimated times.",
        discussion: """
            Every *.yaml file is read as `zmanager run` reads it; a file that does not load is listed with its \
            error (file:line: key: what was expected), and the command then exits with status 1. \
            `zmanager run --dry-run FILE` prints one scenario's points.
            """
    )

    @Argument(help: "The directory to list.")
    var directory: String = "scenarios"

    func run() throws {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".yaml") }.sorted()
        } catch {
            throw ValidationError("cannot list \(directory): \(error.localizedDescription)")
        }
        guard !names.isEmpty else { throw ValidationError("no *.yaml scenario in \(directory)") }
        var failed = false
        for name in names {
            let path = (directory as NSString).appendingPathComponent(name)
            do {
                let plan = ScenarioPlan(try ScenarioFile.load(path: path))
                let points = plan.scenario.points.count, each = plan.measurementsPerPoint
                let size = plan.hasSearch
                    ? "\(points) point\(points == 1 ? "" : "s"), up to \(plan.totalMeasurements) measurements (knee search)"
                    : "\(points) point\(points == 1 ? "" : "s") × \(each) measurement\(each == 1 ? "" : "s")"
                print("\(path)  \(size), \(plan.hasSearch ? "up to about" : "at least") \(ScenarioPlan.clock(plan.estimatedSeconds))")
                if !plan.scenario.description.isEmpty { print("    \(plan.scenario.description)") }
            } catch {
                failed = true
                print("\(path)  does not load: \(error.description)")
            }
        }
        if failed { throw ExitCode(1) }
    }
}
