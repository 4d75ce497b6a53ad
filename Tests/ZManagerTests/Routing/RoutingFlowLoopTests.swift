import Testing
@testable import ZManager

/// Flows whose steps re-enter earlier steps: refused at load where every message would loop,
/// refused per message (`flow_loop`) where only some deployments would.
@Suite("Routing: flows that loop")
struct RoutingFlowLoopTests {
    func loadError(_ text: String) -> FlowFileError? {
        do {
            _ = try FlowTable(parsing: text, path: "flows.ini")
            return nil
        } catch {
            return error
        }
    }

    @Test("a step after a PUBLISH step that re-enters an earlier step is refused with both lines")
    func publishThenShadowedStepIsRefused() throws {
        // The service runs `audit` and sends step 3's header, whose first match is step 1: the
        // worker runs `check` again, then `audit`, and the cycle never ends.
        let error = try #require(loadError("""
            [F]
            ?F?Push
            Subject?F?check
            ?F@PUBLISH?audit
            ?F?check
            ??done
            """))
        #expect(error.location == SourceLocation(path: "flows.ini", line: 5))
        guard case .shadowedStep(let flow, let step, let index, let earlier, let earlierIndex, let at) = error.problem else {
            Issue.record("unexpected problem \(error.problem)")
            return
        }
        #expect(flow == "F" && index == 3 && earlierIndex == 1)
        #expect(step.text == "?F?check" && earlier.text == "Subject?F?check")
        #expect(at == SourceLocation(path: "flows.ini", line: 3))
        #expect(error.description.hasPrefix("flows.ini:5: flow \"F\" loops: step 3"))
        #expect(error.description.contains("(flows.ini:3)"))
    }

    @Test("an ASYNC step shadowed by an earlier plain step (every park would fail) is refused")
    func shadowedAsyncIsRefused() throws {
        let error = try #require(loadError("[F]\n?F?Push\nSubject?F?wait\nSubject?F@ASYNC?wait\n??done\n"))
        #expect(error.location.line == 4)
        guard case .shadowedStep(_, _, 2, _, 1, _) = error.problem else {
            Issue.record("unexpected problem \(error.problem)")
            return
        }
    }

    @Test("a PUBLISH step shadowed by an earlier one is refused")
    func shadowedPublishIsRefused() throws {
        let error = try #require(loadError("[F]\n?F?Push\nSubject?F@PUBLISH?tell\n?F?work\n?F@PUBLISH?tell\n??done\n"))
        #expect(error.location.line == 5)
    }

    @Test("flows whose shadowed steps can run in-line still load")
    func inlineRepeatsLoad() throws {
        let table = try FlowTable(parsing: "[Twice]\n?Twice?Push\nSubject?Twice?stamp\n?Twice?stamp\n??done\n")
        let flow = try #require(table.flow(named: "Twice"))
        #expect(flow.shadowingStep(of: 2) == 1)
        #expect(flow.shadowingStep(of: 1) == nil)
        #expect(flow.firstLoopingStep == nil)
        // Flows built in code are checked the same way.
        #expect(throws: FlowFileError.self) {
            try FlowTable([Flow(name: "G", steps: [
                try ActionKey(parsing: "?G?Push"), try ActionKey(parsing: "Subject?G@ASYNC?x"),
                try ActionKey(parsing: "?G@ASYNC?x"), try ActionKey(parsing: "??done"),
            ])])
        }
    }

    @Test("a role that would send a shadowed step across a hop ends the flow with flow_loop")
    func shadowedStepAcrossAHopIsRefusedAtRunTime() throws {
        let table = try FlowTable(parsing: "[Twice]\n?Twice?Push\nSubject?Twice?stamp\n?Twice?stamp\n??done\n")
        let routing = RoutingTable(flows: table)
        let first = FlowPosition(flow: 0, step: 1), second = FlowPosition(flow: 0, step: 2)
        // A worker that maps both runs them in-line: no header is sent, nothing loops.
        let both = FlowRouter(routing: routing, role: .worker) { _ in true }
        #expect(both.next(after: first) == .init(position: second, hop: .runHere))
        // A worker that maps only the first would publish the second under a header whose
        // first match is the first: refused.
        let onlyFirst = FlowRouter(routing: routing, role: .worker) { $0 == first }
        #expect(onlyFirst.next(after: first) == .init(position: second, hop: .wouldLoop))
        #expect(onlyFirst.loopText(second).contains("matches step 1"))
        // A service would send it to the Subject: refused too.
        let service = FlowRouter(routing: routing, role: .service) { _ in true }
        #expect(service.next(after: first) == .init(position: second, hop: .wouldLoop))
        // The done step is never re-routed by header, so it never loops.
        #expect(both.next(after: second) == .init(position: FlowPosition(flow: 0, step: 3), hop: .result))
    }
}
