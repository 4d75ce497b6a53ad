import Foundation
import Testing
import ZManager
import ZeroMQ

@Suite("Every failure is an error message, and the pipeline keeps serving")
struct FailureTests {
    static let flows = """
        [Echo]
        ?Echo?Push
        Subject?Echo?Echo
        ??done

        [Boom]
        ?Boom?Push
        Subject?Boom?explode
        ??done

        [Orphan]
        ?Orphan?Push
        Subject?Orphan?nobodyMapsThis
        ??done
        """

    static func makePipeline(_ transport: TestTransport) throws -> TestPipeline {
        var handlers = HandlerRegistry.withBuiltins
        handlers.register("test.explode") { request, _ in
            throw HandlerError("refusing \(request.body.count) bytes")
        }
        var limits = RoleLimits()
        limits.maxMessageSize = 64 << 10
        let pipeline = try TestPipeline(
            transport: transport, flows: flows,
            mapping: "[actionmapping]\n??Echo = zmanager.builtin.echo\n??explode = test.explode\n",
            handlers: handlers, options: .init(workers: 2, limits: limits))
        try pipeline.subscribe(Topics.resultPrefix(flow: "Echo"))
        try pipeline.subscribe(Topics.resultPrefix(flow: "Boom"))
        return pipeline
    }

    /// After a failure, both workers still answer: two requests round-robin to both.
    static func expectStillServing(_ pipeline: TestPipeline) throws {
        for i in 0..<4 {
            let result = try #require(try pipeline.roundTrip(flow: "Echo", body: "after-\(i)"))
            #expect(result.isResult && result.text == "after-\(i)")
        }
    }

    @Test(arguments: TestTransport.allCases)
    func aThrowingHandlerGivesHandlerFailedWithTheId(transport: TestTransport) throws {
        let pipeline = try Self.makePipeline(transport)
        defer { pipeline.stop() }
        for i in 0..<3 {
            let error = try #require(try pipeline.roundTrip(flow: "Boom", body: "abc", id: "boom-\(i)"))
            #expect(error.errorKind == .handlerFailed)
            #expect(error.id == "boom-\(i)")
            #expect(error.decorator == "ERROR")
            #expect(error.context == "Boom")
            #expect(error.source.hasPrefix("Worker "))
            #expect(error.text.contains("refusing 3 bytes"))
        }
        try Self.expectStillServing(pipeline)
    }

    @Test(arguments: TestTransport.allCases)
    func unknownFlowAndUnmappedActionAreReported(transport: TestTransport) throws {
        let pipeline = try Self.makePipeline(transport)
        defer { pipeline.stop() }
        let unknown = try #require(try pipeline.roundTrip(flow: "NoSuchFlow", body: "x", id: "u1"))
        #expect(unknown.errorKind == .unknownFlow)
        #expect(unknown.source == "Subject")
        #expect(unknown.text.contains("NoSuchFlow"))
        let unmapped = try #require(try pipeline.roundTrip(flow: "Orphan", body: "x", id: "u2"))
        #expect(unmapped.errorKind == .unmappedAction)
        #expect(unmapped.text.contains("nobodyMapsThis"))
        try Self.expectStillServing(pipeline)
    }

    /// A peer pushes a flow's `??done` header to the Subject, which forwards it to a worker
    /// (rule 6). With a `??` mapping entry the done step resolves to a handler; executing it
    /// used to look for the step after the last and crash the worker (and `serve` with it).
    @Test(arguments: TestTransport.allCases)
    func aPushedDoneHeaderIsRefusedNotExecuted(transport: TestTransport) throws {
        let pipeline = try TestPipeline(
            transport: transport, flows: Self.flows,
            mapping: "[actionmapping]\n??Echo = zmanager.builtin.echo\n?? = zmanager.builtin.echo\n",
            options: .init(workers: 2))
        defer { pipeline.stop() }
        try pipeline.subscribe(Topics.resultPrefix(flow: "Echo"))
        for i in 0..<4 {
            try pipeline.client.send(fields: ["Echo", "", "", "", "done"], id: "forged-\(i)", body: Array("x".utf8))
            let error = try #require(try pipeline.receive { $0.id == "forged-\(i)" && $0.errorKind != nil })
            #expect(error.errorKind == .unknownStep)
            #expect(error.source.hasPrefix("Worker "))
            #expect(error.text.contains("ends the flow"))
        }
        try Self.expectStillServing(pipeline)
    }

    @Test(arguments: TestTransport.allCases)
    func garbageFramesAreReportedNotDropped(transport: TestTransport) throws {
        let pipeline = try Self.makePipeline(transport)
        defer { pipeline.stop() }
        var generator = SystemRandomNumberGenerator()
        let garbage: [(frames: [[UInt8]], kind: ErrorKind)] = [
            ([(0..<200).map { _ in UInt8.random(in: 1...255, using: &generator) }.filter { $0 != 0x7E }], .undecodable),
            ([Array("no delimiters at all".utf8)], .undecodable),
            ([Array("Echo~~svc~Echo~Push".utf8)], .undecodable),
            ([Array("Echo~~svc~Echo~Push~id~".utf8), Array("body".utf8), Array("extra".utf8)], .undecodable),
            ([Array("Echo~~svc~Echo~Push~id~trailing".utf8), Array("body".utf8)], .undecodable),
            ([Array("Echo~~svc~Echo~Push~big~".utf8) + Array(repeating: 1, count: 100_000)], .oversized),
            ([[0, 0x7A], Array("x".utf8)], .undecodable),
        ]
        for (index, sample) in garbage.enumerated() {
            try pipeline.client.sendRaw(sample.frames)
            let error = try #require(try pipeline.receive { $0.errorKind != nil }, "sample \(index) is reported")
            #expect(error.errorKind == sample.kind, "sample \(index): \(error.text)")
            try Self.expectStillServing(pipeline)
        }
    }
}
