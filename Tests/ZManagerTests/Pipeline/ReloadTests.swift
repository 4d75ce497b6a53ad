import Foundation
import Testing
@testable import ZManager

/// Replacing the flows and the mapping of a running node (`serve` on SIGHUP): the roles adopt
/// the new ones between two messages, a bad mapping is refused and the running one kept, and
/// flows parked at an ASYNC step move to their step in the new flow or end with an error.
@Suite("Reload: new flows and mappings while the node runs")
struct ReloadTests {
    static let flows = "[Echo]\n?Echo?Push\nSubject?Echo?Echo\n??done\n"
    static let mapping = "[actionmapping]\n??Echo = zmanager.builtin.echo\n"

    static func table(_ text: String) throws -> FlowTable { try FlowTable(parsing: text, path: "reloaded.ini") }
    static func map(_ text: String) throws -> ActionMapping { try ActionMapping(parsing: text, path: "reloaded-mapping.ini") }

    @Test(arguments: [TestTransport.inproc, .tcp])
    func aFlowAddedByAReloadIsServedAndTheOldOnesGoOn(transport: TestTransport) throws {
        let pipeline = try TestPipeline(transport: transport, flows: Self.flows, mapping: Self.mapping)
        defer { pipeline.stop() }
        try pipeline.subscribe(Topics.resultPrefix(flow: "Echo"))
        try pipeline.subscribe(Topics.resultPrefix(flow: "Tagged"))
        let before = try #require(try pipeline.roundTrip(flow: "Tagged", body: "x"))
        #expect(before.errorKind == .unknownFlow)

        let generation = try pipeline.node.reload(
            flows: try Self.table(Self.flows + "\n[Tagged]\n?Tagged?Push\nSubject?Tagged?Tag\n??done\n"),
            mapping: try Self.map(Self.mapping + "??Tag = zmanager.builtin.tag\n"))
        #expect(generation == 1)
        let tagged = try #require(try pipeline.roundTrip(flow: "Tagged", body: "x"))
        #expect(tagged.isResult && tagged.text.hasPrefix("x@w"), "\(tagged.errorKind as Any) \(tagged.text)")
        let echo = try #require(try pipeline.roundTrip(flow: "Echo", body: "still here"))
        #expect(echo.isResult && echo.text == "still here")
        #expect(pipeline.node.routing.flows.flowIndex(named: "Tagged") != nil)
    }

    @Test func aMappingNamingAMissingHandlerIsRefusedAndTheRunningOneKept() throws {
        let pipeline = try TestPipeline(transport: .inproc, flows: Self.flows, mapping: Self.mapping)
        defer { pipeline.stop() }
        try pipeline.subscribe(Topics.resultPrefix(flow: "Echo"))
        #expect(throws: MissingHandlersError.self) {
            try pipeline.node.reload(flows: try Self.table(Self.flows), mapping: try Self.map("[actionmapping]\n??Echo = no.such.handler\n"))
        }
        #expect(pipeline.node.routingSource.generation == 0)
        let echo = try #require(try pipeline.roundTrip(flow: "Echo", body: "kept"))
        #expect(echo.isResult && echo.text == "kept")
    }

    static let asyncMapping = "[actionmapping]\n??start = test.start\n??finish = test.finish\n??middle = zmanager.builtin.echo\n"

    static func handlers() -> HandlerRegistry {
        var handlers = AsyncTests.workerHandlers()
        handlers.register("zmanager.builtin.echo") { request, response in response.setBody(Array(request.body)) }
        return handlers
    }

    @Test(arguments: [TestTransport.inproc, .tcp])
    func aParkedFlowMovesToItsStepInTheNewFlowOrEndsWhenTheStepIsGone(transport: TestTransport) throws {
        let pipeline = try TestPipeline(transport: transport, flows: AsyncTests.workerFlow, mapping: Self.asyncMapping,
                                        handlers: Self.handlers())
        defer { pipeline.stop() }
        try pipeline.subscribe(Topics.parkedPrefix(flow: "Ext"))
        try pipeline.subscribe(Topics.resultPrefix(flow: "Ext"))
        let statistics = pipeline.node.statistics

        // Parked at step 2; the new flow has a step before it, so the ASYNC step is step 3 there.
        try pipeline.client.push(flow: "Ext", id: "moved", body: [])
        let parked = try #require(try pipeline.receive { $0.id == "moved" && $0.decorator == "PARKED" })
        try pipeline.node.reload(flows: try Self.table("""
            [Ext]
            ?Ext?Push
            Subject?Ext?middle
            Subject?Ext?start
            ?Ext@ASYNC?finish
            ??done
            """), mapping: try Self.map(Self.asyncMapping))
        try pipeline.client.resume(flow: "Ext", action: "finish", id: "moved", body: parked.body)
        let result = try #require(try pipeline.receive { $0.id == "moved" && ($0.isResult || $0.errorKind != nil) })
        #expect(result.isResult && result.text.hasPrefix("started@w") && result.text.contains(";finished@w"), "\(result.text)")

        // Parked again, then a reload without the ASYNC step: the flow ends, it does not wait
        // for its timeout.
        try pipeline.client.push(flow: "Ext", id: "ended", body: [])
        _ = try #require(try pipeline.receive { $0.id == "ended" && $0.decorator == "PARKED" })
        #expect(statistics.parked.load(ordering: .relaxed) == 1)
        try pipeline.node.reload(flows: try Self.table("[Ext]\n?Ext?Push\nSubject?Ext?start\n??done\n"),
                                 mapping: try Self.map(Self.asyncMapping))
        let ended = try #require(try pipeline.receive { $0.id == "ended" && $0.errorKind != nil })
        #expect(ended.errorKind == .unknownStep)
        #expect(ended.text.contains("reloaded without ASYNC step"), "\(ended.text)")
        #expect(statistics.parked.load(ordering: .relaxed) == 0)
        #expect(statistics.inFlight == 0)
    }
}
