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
