import Testing
@testable import ZManager

@Suite("Routing: flow stepping")
struct RoutingFlowTableTests {
    /// The two flows of `seed/zmanager.md`, copied verbatim (the second one keeps the seed's
    /// single/double-underscore slip, which first-match stepping tolerates).
    static let seedFlows = """
        [IAMConnection]
        ?IAMConnection?Push
        Subject?IAMConnection?Connection
        ??done

        [ServiceManagement_GetServiceTopics]
        ?ServiceManagement_GetServiceTopics?Push
        Subject?ServiceManagement__GetServiceTopics@PUBLISH?get_service_topics
        ?ServiceManagement__GetServiceTopics@ASYNC?get_service_topics_response
        ??done
        """

    static let table: FlowTable = {
        do {
            return try FlowTable(parsing: seedFlows, path: "seed.ini")
        } catch {
            fatalError("the seed's flows must parse: \(error)")
        }
    }()

    /// (flow name put in config, key text, expected next step text or nil).
    static let steps: [(String, String, String?)] = [
        // IAMConnection: a service's Push (sender overwritten by its id) goes to the IAM step.
        ("IAMConnection", "svcA?IAMConnection?Push", "Subject?IAMConnection?Connection"),
        ("IAMConnection", "?IAMConnection?Push", "Subject?IAMConnection?Connection"),
        ("IAMConnection", "Subject?IAMConnection?Connection", "??done"),
        ("IAMConnection", "??Connection", "??done"),
        ("IAMConnection", "??done", nil),  // last step
        ("IAMConnection", "Other?IAMConnection?Connection", nil),  // source differs: no step matches
        ("IAMConnection", "?IAMConnection@PUBLISH?Push", "Subject?IAMConnection?Connection"),
        ("IAMConnection", "??", "Subject?IAMConnection?Connection"),  // empty key: the first step wins
        // ServiceManagement_GetServiceTopics: Push → PUBLISH step → ASYNC step → done.
        ("ServiceManagement_GetServiceTopics", "?ServiceManagement_GetServiceTopics?Push",
         "Subject?ServiceManagement__GetServiceTopics@PUBLISH?get_service_topics"),
        ("ServiceManagement_GetServiceTopics",
         "Subject?ServiceManagement__GetServiceTopics@PUBLISH?get_service_topics",
         "?ServiceManagement__GetServiceTopics@ASYNC?get_service_topics_response"),
        ("ServiceManagement_GetServiceTopics", "?ServiceManagement__GetServiceTopics?get_service_topics",
         "?ServiceManagement__GetServiceTopics@ASYNC?get_service_topics_response"),
        ("ServiceManagement_GetServiceTopics",
         "?ServiceManagement__GetServiceTopics@ASYNC?get_service_topics_response", "??done"),
        ("ServiceManagement_GetServiceTopics",
         "?ServiceManagement__GetServiceTopics@PUBLISH?get_service_topics_response", nil),  // decorator differs
        ("ServiceManagement_GetServiceTopics", "?ServiceManagement_GetServiceTopics?get_service_topics", nil),
        // Unknown or missing flow name: nothing to step through.
        ("NoSuchFlow", "?IAMConnection?Push", nil),
        ("", "?IAMConnection?Push", nil),
    ]

    @Test("next step: first matching step of the key's flow, then the following one", arguments: steps)
    func nextStep(_ flow: String, _ text: String, _ expected: String?) throws {
        let key = try ActionKey(parsing: text, config: flow)
        let next = Self.table.nextStep(after: key)
        #expect(next?.text == expected)
        if let next {
            #expect(next.config == flow)  // the flow name is never lost
        }
    }

    /// (flow, key text, index of the first matching step).
    static let indexes: [(String, String, Int?)] = [
        ("IAMConnection", "?IAMConnection?Push", 0),
        ("IAMConnection", "x?IAMConnection?Connection", nil),
        ("IAMConnection", "Subject??", 0),  // empty context and action match the Push step first
        ("IAMConnection", "Subject??Connection", 1),
        ("IAMConnection", "??done", 2),
        ("ServiceManagement_GetServiceTopics", "??get_service_topics_response", 2),
        ("ServiceManagement_GetServiceTopics", "??done", 3),
        ("Nope", "??done", nil),
    ]

    @Test("step indexes for integer lookups", arguments: indexes)
    func stepIndex(_ flow: String, _ text: String, _ expected: Int?) throws {
        #expect(Self.table.stepIndex(of: try ActionKey(parsing: text, config: flow)) == expected)
    }

    @Test("the first match wins even when a later step is identical")
    func firstMatchWins() throws {
        let table = try FlowTable(parsing: "[Dup]\n?Dup?Push\n?Dup?step\n?Dup?step\n??done")
        let key = try ActionKey(parsing: "?Dup?step", config: "Dup")
        #expect(table.stepIndex(of: key) == 1)
        #expect(table.nextStep(after: key)?.text == "?Dup?step")  // so a loop bound is needed at run time
    }

    @Test("end of flow: a done key, or no next step at all")
    func endOfFlow() throws {
        #expect(FlowTable.isEndOfFlow(nil))
        #expect(FlowTable.isEndOfFlow(try ActionKey(parsing: "??done")))
        #expect(!FlowTable.isEndOfFlow(try ActionKey(parsing: "Subject?IAMConnection?Connection")))
        let last = Self.table.nextStep(after: try ActionKey(parsing: "??Connection", config: "IAMConnection"))
        #expect(FlowTable.isEndOfFlow(last))
    }

    @Test("flows built in code get their name as every step's config and are validated")
    func flowsInCode() throws {
        let flow = Flow(name: "Echo", steps: [
            ActionKey(config: "Wrong", context: "Echo", action: "Push"),
            ActionKey(source: "Subject", context: "Echo", action: "Echo"),
            ActionKey(action: "done"),
        ])
        #expect(flow.steps.allSatisfy { $0.config == "Echo" })
        #expect(flow.endsWithDone)
        let table = try FlowTable([flow])
        #expect(table.flow(named: "Echo") == flow)
        #expect(table.flow(named: "echo") == nil)

        let duplicate = #expect(throws: FlowFileError.self) { try FlowTable([flow, flow]) }
        #expect(duplicate?.description
            == "<in code>: duplicate flow \"Echo\": already defined at <in code>; expected each flow name once")
        let open = Flow(name: "Open", steps: [ActionKey(context: "Open", action: "Push")])
        let missing = #expect(throws: FlowFileError.self) { try FlowTable([open]) }
        #expect(missing?.problem == .missingDone(flow: "Open", lastStep: open.steps[0]))
    }
}
