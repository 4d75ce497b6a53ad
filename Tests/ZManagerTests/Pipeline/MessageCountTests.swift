import Foundation
import Testing
import ZManager
import ZeroMQ

/// The per-role message counters `/metrics` exports (`zmanager_messages_received_total`,
/// `zmanager_messages_sent_total`, `zmanager_messages_published_total`): each message counted
/// once by the role that handles it, whatever its frames, on every transport.
@Suite("Messages received and sent, per role")
struct MessageCountTests {
    struct Counts: Equatable, CustomStringConvertible {
        var subjectReceived = 0, subjectSent = 0, workerReceived = 0, workerSent = 0, imReceived = 0, published = 0

        init() {}

        init(_ s: CoreStatistics) {
            subjectReceived = s.subjectReceived.load(ordering: .relaxed)
            subjectSent = s.subjectSent.value
            workerReceived = s.workerReceived.load(ordering: .relaxed)
            workerSent = s.workerSent.value
            imReceived = s.integrationManagerReceived.load(ordering: .relaxed)
            published = s.published.load(ordering: .relaxed)
        }

        static func - (a: Counts, b: Counts) -> Counts {
            var d = Counts()
            d.subjectReceived = a.subjectReceived - b.subjectReceived
            d.subjectSent = a.subjectSent - b.subjectSent
            d.workerReceived = a.workerReceived - b.workerReceived
            d.workerSent = a.workerSent - b.workerSent
            d.imReceived = a.imReceived - b.imReceived
            d.published = a.published - b.published
            return d
        }

        var description: String {
            "subject \(subjectReceived) in / \(subjectSent) out, workers \(workerReceived) / \(workerSent), "
                + "IM \(imReceived) / \(published) published"
        }
    }

    /// The roles count right after their sends return, which can be just after the client
    /// has the answer: wait (bounded) until the counts settle at `expected`.
    static func settle(_ statistics: CoreStatistics, from start: Counts, to expected: Counts) -> Counts {
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(5)
        var delta = Counts(statistics) - start
        while delta != expected && clock.now < deadline {
            Thread.sleep(forTimeInterval: 0.001)
            delta = Counts(statistics) - start
        }
        return delta
    }

    /// Waits (bounded) until every message a role sent has been taken in by the next one and
    /// the IM published all it took: the pings of `waitUntilConnected` are then counted too.
    static func quiescent(_ statistics: CoreStatistics) -> Counts {
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(5)
        var counts = Counts(statistics)
        while (counts.subjectSent + counts.workerSent != counts.workerReceived + counts.imReceived
               || counts.published != counts.imReceived) && clock.now < deadline {
            Thread.sleep(forTimeInterval: 0.001)
            counts = Counts(statistics)
        }
        return counts
    }

    @Test(arguments: TestTransport.allCases, [WireForm.split, .single])
    func eachMessageIsCountedOnceByEachRoleItPasses(transport: TestTransport, form: WireForm) throws {
        // Fast dispatch: reliable dispatch adds its control messages (probes, receipts) to the counts.
        let pipeline = try TestPipeline(transport: transport, flows: "[Echo]\n?Echo?Push\nSubject?Echo?Echo\n??done\n",
                                        mapping: "[actionmapping]\n??Echo = zmanager.builtin.echo\n",
                                        options: .init(workers: 1, dispatch: DispatchOptions(mode: .fast)), form: form)
        defer { pipeline.stop() }
        try pipeline.subscribe(Topics.resultPrefix(flow: "Echo"))
        let statistics = pipeline.node.statistics
        var start = Self.quiescent(statistics)

        // A request: the Subject takes it and deals one step, the worker takes the step and sends
        // the result, the IM takes the result and publishes it.
        let count = 25
        for i in 0..<count {
            let answer = try #require(try pipeline.roundTrip(flow: "Echo", body: "m\(i)"))
            #expect(answer.isResult)
        }
        var expected = Counts()
        (expected.subjectReceived, expected.subjectSent) = (count, count)
        (expected.workerReceived, expected.workerSent) = (count, count)
        (expected.imReceived, expected.published) = (count, count)
        #expect(Self.settle(statistics, from: start, to: expected) == expected)

        // A request of no flow: the Subject answers it with an error to the IM, no worker sees it.
        start = Self.quiescent(statistics)
        let refused = try #require(try pipeline.roundTrip(flow: "NoSuchFlow", body: "x"))
        #expect(refused.errorKind == .unknownFlow)
        expected = Counts()
        (expected.subjectReceived, expected.subjectSent, expected.imReceived, expected.published) = (1, 1, 1, 1)
        #expect(Self.settle(statistics, from: start, to: expected) == expected)
    }

    /// A socket counts a message when its last frame goes, and only sockets told to count do.
    @Test func aSocketCountsWholeMessagesOnlyWhenAsked() throws {
        let context = try Context()
        defer { context.terminate() }
        let push = try Socket(context, .push)
        let pull = try Socket(context, .pull)
        defer { push.close(); pull.close() }
        try pull.bind("inproc://message-counter")
        try push.connect("inproc://message-counter")
        let counter = MessageCounter()
        _ = try push.send(multipart: [Array("not counted".utf8)])
        push.countSentMessages(in: counter)
        _ = try push.send(multipart: [Array("head".utf8), Array("body".utf8)])
        _ = try push.send(bytes: Array("one frame".utf8))
        #expect(counter.value == 2)
        for _ in 0..<3 { _ = try pull.receiveMultipart() }
        pull.countSentMessages(in: counter)
        #expect(counter.value == 2, "receiving counts nothing")
    }
}
