import Testing
@testable import ZManager

@Suite("Routing: resolved flow table")
struct RoutingResolvedFlowTableTests {
    static let flowText = """
        [IAMConnection]
        ?IAMConnection?Push
        Subject?IAMConnection?Connection
        ??done

        [Pipeline]
        ?Pipeline?Push
        Subject?Pipeline?parse
        ?Pipeline?validate
        ?Pipeline@PUBLISH?notify
        ?Pipeline?store
        ??done
        """

    static let mappingText = """
        [actionmapping]
        ??Connection = iam.IAMFacade.connection
        ??parse = pipe.parse
        ?Pipeline?validate = pipe.validate
        ??store = pipe.store
        """

    @Test("each step is resolved once; done, Push and service-owned steps have no handler")
    func handlersByIndex() throws {
        let flows = try FlowTable(parsing: Self.flowText)
        let mapping = try ActionMapping(parsing: Self.mappingText)
        let resolved = ResolvedFlowTable(flows: flows, mapping: mapping)
        let iam = try #require(flows.flowIndex(named: "IAMConnection"))
        #expect(resolved.handlers(flow: iam).map { $0.map { mapping[$0].target } }
            == [nil, "iam.IAMFacade.connection", nil])
        let pipeline = try #require(flows.flowIndex(named: "Pipeline"))
        #expect(resolved.handlers(flow: pipeline).map { $0.map { mapping[$0].target } }
            == [nil, "pipe.parse", "pipe.validate", nil, "pipe.store", nil])
        #expect(resolved.handler(flow: pipeline, step: 2) == mapping.resolve(flows.flows[pipeline].steps[2]))
        #expect(resolved.unresolvedSteps.map { "\($0.flow)#\($0.step) \($0.key.text)" }
            == ["IAMConnection#0 ?IAMConnection?Push", "Pipeline#0 ?Pipeline?Push", "Pipeline#3 ?Pipeline@PUBLISH?notify"])
    }

    @Test("handler(for:) finds the key's step by first match")
    func handlerForKey() throws {
        let flows = try FlowTable(parsing: Self.flowText)
        let mapping = try ActionMapping(parsing: Self.mappingText)
        let resolved = ResolvedFlowTable(flows: flows, mapping: mapping)
        #expect(resolved.handler(for: try ActionKey(parsing: "Subject?IAMConnection?Connection", config: "IAMConnection"))
            .map { mapping[$0].target } == "iam.IAMFacade.connection")
        #expect(resolved.handler(for: try ActionKey(parsing: "??store", config: "Pipeline"))
            .map { mapping[$0].target } == "pipe.store")
        #expect(resolved.handler(for: try ActionKey(parsing: "??store", config: "Nope")) == nil)
        #expect(resolved.handler(for: try ActionKey(parsing: "??missing", config: "Pipeline")) == nil)
    }

    /// The DigitalPy bug this design rules out: after resolving a worker step, the reference
    /// continued with the mapping's key (config lost) and could not find the next step. Walking a
    /// flow with several consecutive worker steps must reach `??done`.
    @Test("a flow with consecutive worker steps walks to done")
    func multiStepWalk() throws {
        let flows = try FlowTable(parsing: Self.flowText)
        let mapping = try ActionMapping(parsing: Self.mappingText)
        var key = try #require(flows.nextStep(after: try ActionKey(parsing: "svc?Pipeline?Push", config: "Pipeline")))
        var executed: [String] = []
        var published: [String] = []
        for _ in 0..<100 {
            if key.isPublish {
                published.append(key.action)
            } else if let handler = mapping.resolve(key) {
                executed.append(mapping[handler].target)
            }
            guard let next = flows.nextStep(after: key), !FlowTable.isEndOfFlow(next) else { break }
            key = next
        }
        #expect(executed == ["pipe.parse", "pipe.validate", "pipe.store"])
        #expect(published == ["notify"])
        #expect(key.config == "Pipeline")
    }
}
