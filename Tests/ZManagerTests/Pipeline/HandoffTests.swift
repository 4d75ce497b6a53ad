import Foundation
import Testing
import ZManager
import ZeroMQ

/// The node's own workers take steps from the Subject and give outputs to the IM through
/// in-process rings (the default) or inproc sockets (`inProcessRings: false`): the same flows,
/// answers and counts either way, and workers in other processes share the work with the
/// ring-fed ones.
@Suite("Handoff between the roles: rings and sockets")
struct HandoffTests {
    static let flows = "[Steps]\n?Steps?Push\nSubject?Steps?A\n?Steps?B\n??done\n"
    static let mapping = "[actionmapping]\n??A = test.a\n??B = test.b\n"
    static var handlers: HandlerRegistry {
        var handlers = HandlerRegistry.withBuiltins
        handlers.register("test.a", appending("+a"))
        handlers.register("test.b", appending("+b"))
        return handlers
    }

    @Test(arguments: TestTransport.allCases, [true, false])
    func aBurstIsAnsweredOnceEachAndCountedOnceByEachRole(transport: TestTransport, rings: Bool) throws {
        let pipeline = try TestPipeline(transport: transport, flows: Self.flows, mapping: Self.mapping, handlers: Self.handlers,
                                        options: .init(workers: 2, dispatch: DispatchOptions(mode: .fast), inProcessRings: rings),
                                        form: .single)
        defer { pipeline.stop() }
        try pipeline.subscribe(Topics.resultPrefix(flow: "Steps"))
        let statistics = pipeline.node.statistics
        let start = MessageCountTests.quiescent(statistics)
        // Far more than the rings' and the pipes' bounds would let a slow consumer hold at once
        // with a small high-water mark, all sent before the first answer is read.
        let count = 2_000
        for i in 0..<count { try pipeline.client.push(flow: "Steps", id: "id-\(i)", body: Array("m\(i)".utf8)) }
        var answers: [String: String] = [:]
        while answers.count < count {
            let delivery = try #require(try pipeline.receive { $0.isResult || $0.errorKind != nil }, "\(answers.count) answered")
            #expect(delivery.isResult, "\(delivery.text)")
            #expect(answers.updateValue(delivery.text, forKey: delivery.id) == nil, "\(delivery.id) answered twice")
        }
        for i in 0..<count { #expect(answers["id-\(i)"] == "m\(i)+a+b") }
        var expected = MessageCountTests.Counts()
        (expected.subjectReceived, expected.subjectSent) = (count, count)
        (expected.workerReceived, expected.workerSent) = (count, count)
        (expected.imReceived, expected.published) = (count, count)
        #expect(MessageCountTests.settle(statistics, from: start, to: expected) == expected)
    }

    /// A worker connected over tcp (as `zmanager worker` on another host is) gets a share of the
    /// steps besides the node's ring-fed worker, and its results reach the IM.
    @Test func aWorkerElsewhereSharesTheWorkWithTheRingFedOnes() throws {
        let pipeline = try TestPipeline(transport: .tcp, flows: Self.flows, mapping: Self.mapping, handlers: Self.handlers,
                                        options: .init(workers: 1, dispatch: DispatchOptions(mode: .fast)), form: .single)
        defer { pipeline.stop() }
        try pipeline.subscribe(Topics.resultPrefix(flow: "Steps"))
        let elsewhere = try Context()
        defer { elsewhere.terminate() }
        let remoteStatistics = CoreStatistics()
        let endpoints = pipeline.node.endpoints
        let remote = try Worker(name: "remote", context: elsewhere, subject: endpoints.subjectWorkers,
                                subjectFront: endpoints.subjectFront, integrationManager: endpoints.integrationManagerPull,
                                routing: pipeline.node.routing,
                                mapping: try ActionMapping(parsing: Self.mapping, path: "remote.ini"),
                                handlers: Self.handlers, statistics: remoteStatistics)
        let thread = SocketThread.start(name: "remote-worker") { remote.run() }
        defer {
            elsewhere.shutdown()
            thread.join()
        }
        // The remote worker connects on its own time: rounds of requests until it has taken some
        // (bounded), every request answered.
        var sent = 0
        for round in 0..<50 where remoteStatistics.workerReceived.load(ordering: .relaxed) == 0 || round < 2 {
            for i in 0..<100 { try pipeline.client.push(flow: "Steps", id: "r\(round)-\(i)", body: Array("x".utf8)) }
            sent += 100
            for _ in 0..<100 {
                let delivery = try #require(try pipeline.receive { $0.isResult || $0.errorKind != nil })
                #expect(delivery.isResult && delivery.text == "x+a+b", "\(delivery.text)")
            }
        }
        let remoteTook = remoteStatistics.workerReceived.load(ordering: .relaxed)
        let localTook = pipeline.node.statistics.workerReceived.load(ordering: .relaxed)
        #expect(remoteTook > 0, "the tcp worker got steps")
        #expect(localTook > sent / 4, "the ring-fed worker got its share: \(localTook) of \(sent)")
    }
}
