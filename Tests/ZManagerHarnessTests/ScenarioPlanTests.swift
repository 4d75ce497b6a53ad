import Foundation
import ZManager
import Testing
@testable import ZManagerHarness

@Suite("Scenario plan: what --dry-run and `zmanager scenarios` print")
struct ScenarioPlanTests {
    static let text = """
        description: Two transports, two loads.
        load:
          model: closed
        phases:
          warmup: 500ms
          measure: 2s
        repeats: 3
        calibration:
          bare: true
          generator: true
        matrix:
          topology.transport: [ipc, tcp]
          load.in_flight: [1000, 1]
        """

    @Test func everyMeasurementIsCountedAndTimed() throws {
        let plan = ScenarioPlan(try ScenarioFile.parse(Self.text, file: "plan.yaml"))
        // Per point: 3 repeats × (ZManager + bare) + the generator's ceiling.
        #expect(plan.measurementsPerPoint == 7)
        #expect(plan.estimatedSeconds == 4 * 7 * 2.5)
        #expect(plan.unestimated.isEmpty)
        let lines = plan.text.split(separator: "\n").map(String.init)
        #expect(lines.first == "scenario plan (plan.yaml)")
        #expect(lines.contains { $0.hasPrefix("  [1] transport=ipc,in_flight=1000: threads ipc, 2 workers") }, "\(lines)")
        #expect(lines.filter { $0.hasPrefix("  [") }.count == 4)
        #expect(lines.contains { $0.contains("closed loop, 1 in flight") && $0.contains("warm-up 500ms + 2s") })
        #expect(lines.contains("4 points × 3 repeats (ZManager + bare) + the generator's ceiling = 28 measurements"))
        #expect(lines.last?.hasPrefix("estimated at least 1:10") == true, "\(lines.last ?? "")")
    }

    @Test func aKneeSearchIsCountedAtItsWholeProbeBudget() throws {
        let plan = ScenarioPlan(try ScenarioFile.parse("""
            load: {model: search, slo: {p99: 1ms}, probes: 10}
            phases: {warmup: 500ms, measure: 2s}
            matrix:
              topology.transport: [ipc, tcp]
            """, file: "knee.yaml"))
        // Per point: (10 probes + the closed-loop ceiling) × (ZManager + bare) + the generator's ceiling.
        #expect(plan.measurements(plan.scenario.points[0]) == 23 && plan.totalMeasurements == 46 && plan.hasSearch)
        #expect(plan.estimatedSeconds == 46 * 2.5)
        let lines = plan.text.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.contains("knee search for p99 ≤ 1ms between 1 % of the highest and the closed-loop ceiling, at most 10 probes") },
                "\(lines)")
        #expect(lines.contains { $0.hasSuffix("= 46 measurements at most (a knee search stops early)") }, "\(lines)")
        #expect(lines.last?.hasPrefix("estimated at most 1:55 for the full probe budget") == true, "\(lines.last ?? "")")
        // Repeats repeat the whole search, ceilings included.
        let repeated = ScenarioPlan(try ScenarioFile.parse("repeats: 3\nload: {model: search, slo: {p99: 1ms}, probes: 10}\n", file: "r.yaml"))
        #expect(repeated.measurements(repeated.scenario.points[0]) == 3 * 22 + 1)
    }

    @Test func pointsMeasuredByMessageCountAreNamedNotGuessed() throws {
        let text = Self.text.replacingOccurrences(of: "  measure: 2s", with: "  messages: 5000")
        let plan = ScenarioPlan(try ScenarioFile.parse(text, file: "plan.yaml"))
        #expect(plan.estimatedSeconds == 0)
        #expect(plan.unestimated.count == 4)
        #expect(plan.text.contains("not counted:"))
        #expect(plan.text.contains("warm-up 500ms + 5000 messages"))
    }

    @Test func clockFormat() {
        #expect(ScenarioPlan.clock(0) == "0:00")
        #expect(ScenarioPlan.clock(75.2) == "1:16")
        #expect(ScenarioPlan.clock(3_725) == "1:02:05")
    }
}

@Suite("Scenario overrides: zmanager run --set")
struct ScenarioOverrideTests {
    static let text = """
        load:
          model: closed
          in_flight: 10
        repeats: 3
        matrix:
          topology.transport: [ipc, tcp]
        """

    @Test func overridesReplaceAndAddKeysAndMatrixAxes() throws {
        let scenario = try ScenarioFile.parse(Self.text, file: "s.yaml", overrides: [
            "load.in_flight=250", "repeats=1", "topology.workers=4", "matrix.topology.transport=[inproc]",
        ])
        #expect(scenario.repeats == 1)
        #expect(scenario.points.count == 1)
        #expect(scenario.points[0].transport == .inproc)
        #expect(scenario.points[0].workers == 4)
        #expect(scenario.points[0].load == .closed(inFlight: 250))
        #expect(scenario.overrides.count == 4)
        // Without overrides the file reads as before.
        let plain = try ScenarioFile.parse(Self.text, file: "s.yaml")
        #expect(plain.points.count == 2 && plain.points[0].load == .closed(inFlight: 10) && plain.overrides.isEmpty)
    }

    @Test(arguments: [
        ("load.in_fligt=5", "--set load.in_fligt=5: load.in_fligt: unknown key; expected one of model, in_flight, rate, to"),
        ("topology.workers=two", "--set topology.workers=two: topology.workers: expected an integer from 1 to 64, found \"two\""),
        ("repeats", "--set repeats: expected KEY.PATH=VALUE, e.g. load.in_flight=100"),
        ("repeats=", "--set repeats=: repeats: expected a value after '='"),
        ("load..model=open", "--set load..model=open: expected KEY.PATH=VALUE"),
        ("repeats.x=1", "--set repeats.x=1: repeats: is not a mapping, so it has no key x"),
        ("matrix.topology.transport=[udp]", "--set matrix.topology.transport=[udp]: matrix.topology.transport[0]: expected one of inproc, ipc, tcp"),
    ])
    func badOverridesNameTheArgument(argument: String, message: String) {
        let error = #expect(throws: ConfigurationError.self) {
            try ScenarioFile.parse(Self.text, file: "s.yaml", overrides: [argument])
        }
        let description = error.map { "\($0)" } ?? ""
        #expect(description.hasPrefix(message), "got: \(description)")
    }

    @Test func anErrorInTheFileStillNamesItsLine() {
        let error = #expect(throws: ConfigurationError.self) {
            try ScenarioFile.parse(Self.text + "\nphases:\n  warmup: soon\n", file: "s.yaml", overrides: ["repeats=2"])
        }
        #expect(error.map { "\($0)" }?.hasPrefix("s.yaml:8: phases.warmup:") == true, "\(error.map { "\($0)" } ?? "")")
    }

    @Test func overridesArePartOfTheHash() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("plan-\(UInt64.random(in: 0...UInt64.max))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("s.yaml").path
        try Self.text.write(toFile: path, atomically: true, encoding: .utf8)
        let plain = try ScenarioFile.load(path: path)
        let again = try ScenarioFile.load(path: path)
        let changed = try ScenarioFile.load(path: path, overrides: ["repeats=1"])
        #expect(plain.hash == again.hash)
        #expect(plain.hash != changed.hash)
    }
}
