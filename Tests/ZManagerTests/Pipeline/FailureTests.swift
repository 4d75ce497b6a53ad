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
    func anIDLongerThanTheLimitIsRefusedAsOversized(transport: TestTransport) throws {
        let pipeline = try Self.makePipeline(transport)
        defer { pipeline.stop() }
        let id = String(repeating: "i", count: 300)
        try pipeline.client.push(flow: "Echo", id: id, body: Array("x".utf8))
        let error = try #require(try pipeline.receive { $0.errorKind != nil })
        #expect(error.errorKind == .oversized)
        #expect(error.text.contains("id of 300 bytes exceeds the limit of 256"), "\(error.text)")
        try Self.expectStillServing(pipeline)
    }

    /// Past twice the message limit libzmq itself refuses a tcp or ipc peer's frame
    /// (`ZMQ_MAXMSGSIZE`) before buffering it, and closes that connection; the role serves on.
    @Test(arguments: [TestTransport.ipc, .tcp])
    func aFrameOverTheHardLimitIsRefusedBeforeItIsBuffered(transport: TestTransport) throws {
        let pipeline = try Self.makePipeline(transport)
        defer { pipeline.stop() }
        let context = try Context()
        defer { context.terminate() }
        let sender = try Socket(context, .push)
        defer { sender.close() }
        try sender.connect(pipeline.node.endpoints.subjectFront)
        let received = pipeline.node.statistics.subjectReceived.load(ordering: .relaxed)
        let huge = Array("Echo~~svc~Echo~Push~huge~".utf8) + Array(repeating: 1, count: 3 * (64 << 10))
        _ = try sender.send(multipart: [huge])
        // The same sender, reconnected by libzmq, gets through again with a small message,
        // which comes after the refused one on that path.
        try pipeline.subscribe(Topics.resultPrefix(flow: "Echo"))
        var answered = false
        var errors: [String] = []
        for attempt in 0..<50 where !answered {
            _ = try sender.send(multipart: [Array("Echo~~svc~Echo~Push~small-\(attempt)~x".utf8)])
            let delivery = try pipeline.receive(timeout: .milliseconds(200)) { $0.errorKind != nil || $0.id.hasPrefix("small-") }
            if let delivery, delivery.errorKind != nil { errors.append(delivery.text) }
            answered = delivery?.isResult == true
        }
        #expect(answered, "the Subject serves the sender again")
        // Refused by libzmq, it never reached the Subject's own size check, which would have
        // published an `oversized` error.
        while let delivery = try pipeline.client.receive(timeout: .milliseconds(300)) {
            if delivery.errorKind != nil { errors.append(delivery.text) }
        }
        #expect(errors.isEmpty, "no error for it: \(errors)")
        #expect(pipeline.node.statistics.subjectReceived.load(ordering: .relaxed) > received)
        try Self.expectStillServing(pipeline)
    }

    /// The Integration Manager refuses a message larger than the limit: an `oversized` error
    /// with its flow and id goes out instead, and the message is not published.
    @Test(arguments: TestTransport.allCases)
    func theIntegrationManagerRefusesAnOversizedMessage(transport: TestTransport) throws {
        let pipeline = try Self.makePipeline(transport)
        defer { pipeline.stop() }
        let context = transport == .inproc ? pipeline.node.context : try Context()
        defer { if context !== pipeline.node.context { context.terminate() } }
        let sender = try Socket(context, .push)
        defer { sender.close() }
        try sender.connect(pipeline.node.endpoints.integrationManagerPull)
        let errorsBefore = pipeline.node.statistics.errors.load(ordering: .relaxed)
        _ = try sender.send(multipart: [Array("Echo~~~~done~too-big~".utf8), Array(repeating: 7, count: 100_000)])
        let error = try #require(try pipeline.receive { $0.id == "too-big" })
        #expect(error.errorKind == .oversized && error.source == "Integration Manager" && error.context == "Echo")
        #expect(error.text.contains("100021 bytes"), "\(error.text)")
        #expect(try pipeline.receive(timeout: .milliseconds(200)) { $0.id == "too-big" } == nil, "the result itself is not published")
        #expect(pipeline.node.statistics.errors.load(ordering: .relaxed) == errorsBefore + 1)
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
            // One frame: the next message (the round trips below) must not be taken as its rest.
            ([[0, 0x02]], .undecodable),
        ]
        for (index, sample) in garbage.enumerated() {
            try pipeline.client.sendRaw(sample.frames)
            let error = try #require(try pipeline.receive { $0.errorKind != nil }, "sample \(index) is reported")
            #expect(error.errorKind == sample.kind, "sample \(index): \(error.text)")
            try Self.expectStillServing(pipeline)
        }
    }
}
