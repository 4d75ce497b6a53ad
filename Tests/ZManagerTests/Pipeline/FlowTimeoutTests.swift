import Dispatch
import Foundation
import Testing
@testable import ZManager
import ZeroMQ

/// `limits.flow_timeout`: a flow that does not end in time ends with `flow_timeout` from the
/// Integration Manager, and what it sends later is dropped, so a service sees one end per flow.
@Suite("Flow deadlines: every flow ends in a result or an error")
struct FlowTimeoutTests {
    static let flows = """
        [Echo]
        ?Echo?Push
        Subject?Echo?Echo
        ??done

        [Slow]
        ?Slow?Push
        Subject?Slow?Wait
        ??done
        """

    /// A handler that holds its step until the test opens the gate (bounded: 10 s at most).
    /// `entered` is signalled when the handler has the step.
    static func pipeline(_ transport: TestTransport, timeout: Duration, gate: DispatchSemaphore,
                         entered: DispatchSemaphore? = nil) throws -> TestPipeline {
        var handlers = HandlerRegistry.withBuiltins
        handlers.register("test.wait") { _, _ in
            entered?.signal()
            _ = gate.wait(timeout: .now() + 10)
        }
        var options = ZManagerNode.Options()
        options.limits.flowTimeout = timeout
        let pipeline = try TestPipeline(transport: transport, flows: flows,
                                        mapping: "[actionmapping]\n??Echo = zmanager.builtin.echo\n??Wait = test.wait\n",
                                        handlers: handlers, options: options)
        try pipeline.subscribe(Topics.resultPrefix(flow: "Echo"))
        try pipeline.subscribe(Topics.resultPrefix(flow: "Slow"))
        return pipeline
    }

    @Test(arguments: [TestTransport.inproc, .tcp])
    func aFlowPastItsDeadlineEndsWithFlowTimeoutAndItsLateResultIsDropped(transport: TestTransport) throws {
        let gate = DispatchSemaphore(value: 0)
        let pipeline = try Self.pipeline(transport, timeout: .milliseconds(300), gate: gate)
        defer { pipeline.stop() }
        let statistics = pipeline.node.statistics

        // A flow that ends in time is not touched by its deadline.
        let quick = try #require(try pipeline.roundTrip(flow: "Echo", body: "in time"))
        #expect(quick.isResult && quick.text == "in time")

        // The slow one: its handler holds the step past the deadline.
        let id = "slow-\(transport)"
        try pipeline.client.push(flow: "Slow", id: id, body: Array("late".utf8))
        let timedOut = try #require(try pipeline.receive { $0.id == id }, "the flow ends")
        #expect(timedOut.errorKind == .flowTimeout, "\(timedOut.text)")
        #expect(statistics.errorsByKind[.flowTimeout] == 1, "only the slow flow timed out, not the quick one before it")
        #expect(statistics.inFlight == 0)

        // Released, the handler's result reaches the IM, which drops it.
        gate.signal()
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(10)
        while statistics.lateMessagesDropped.load(ordering: .relaxed) == 0, clock.now < deadline {
            try #require(try pipeline.client.waitUntilConnected())
        }
        #expect(statistics.lateMessagesDropped.load(ordering: .relaxed) == 1)
        try #require(try pipeline.client.waitUntilConnected())
        while let delivery = try pipeline.client.receive(timeout: .milliseconds(10)) {
            #expect(delivery.id != id, "the late result reached the service")
        }
        #expect(statistics.inFlight == 0)
        #expect(statistics.results.load(ordering: .relaxed) == 1)
    }

    /// PROTOCOL gap 10: ends of flows no `Push` started (here a result pushed straight to the IM,
    /// as a peer finishing a flow a second time would) must not hide a flow still in flight from
    /// the drain. With deadlines the IM publishes them but does not count them as ends; without,
    /// they still count, but the count never goes below zero.
    @Test(arguments: [TestTransport.inproc, .tcp])
    func endsOfNoStartedFlowLeaveInFlightExact(transport: TestTransport) throws {
        let gate = DispatchSemaphore(value: 0), entered = DispatchSemaphore(value: 0)
        let pipeline = try Self.pipeline(transport, timeout: .seconds(30), gate: gate, entered: entered)
        defer { pipeline.stop() }
        let statistics = pipeline.node.statistics
        let sender = try Socket(pipeline.clientContext, .push)
        defer { sender.close() }
        try sender.connect(pipeline.node.endpoints.integrationManagerPull)

        let id = "held-\(transport)"
        try pipeline.client.push(flow: "Slow", id: id, body: Array("held".utf8))
        try #require(entered.wait(timeout: .now() + 10) == .success, "the handler has the step")
        #expect(statistics.inFlight == 1)
        // A result for an id no flow is open under: published all the same, not an end.
        _ = try sender.send(multipart: [Array("Slow~~~~done~ghost~".utf8), Array("ghost".utf8)])
        let ghost = try #require(try pipeline.receive { $0.id == "ghost" })
        #expect(ghost.isResult && ghost.text == "ghost")
        #expect(statistics.endsOutsideFlows.load(ordering: .relaxed) == 1)
        #expect(statistics.results.load(ordering: .relaxed) == 0)
        #expect(statistics.inFlight == 1, "the held flow is still in flight for the drain")

        gate.signal()
        let result = try #require(try pipeline.receive { $0.id == id })
        #expect(result.isResult && result.text == "held")
        #expect(statistics.results.load(ordering: .relaxed) == 1)
        #expect(statistics.inFlight == 0)
    }

    /// Without deadlines an end of no started flow still counts, but in-flight stays at zero
    /// instead of going negative (and hiding the next flow from a drain by one).
    @Test func withoutDeadlinesInFlightNeverGoesNegative() throws {
        let pipeline = try TestPipeline(transport: .inproc, flows: Self.flows,
                                        mapping: "[actionmapping]\n??Echo = zmanager.builtin.echo\n??Wait = zmanager.builtin.echo\n")
        defer { pipeline.stop() }
        try pipeline.subscribe(Topics.resultPrefix(flow: "Echo"))
        let sender = try Socket(pipeline.clientContext, .push)
        defer { sender.close() }
        try sender.connect(pipeline.node.endpoints.integrationManagerPull)
        _ = try sender.send(multipart: [Array("Echo~~~~done~ghost~".utf8), Array("ghost".utf8)])
        _ = try #require(try pipeline.receive { $0.id == "ghost" })
        #expect(pipeline.node.statistics.results.load(ordering: .relaxed) == 1)
        #expect(pipeline.node.statistics.flowsStarted.load(ordering: .relaxed) == 0)
        #expect(pipeline.node.statistics.inFlight == 0)
    }

    @Test("deadlines in start order, repeated ids, late ends, forgetting and compaction")
    func theTable() {
        let deadlines = FlowDeadlines(timeout: .seconds(1))
        let start = ContinuousClock.now
        deadlines.started(id: "a", flow: "F", form: .single, now: start)
        deadlines.started(id: "b", flow: "F", form: .split, now: start + .milliseconds(100))
        deadlines.started(id: "a", flow: "G", form: .split, now: start + .milliseconds(200))
        #expect(deadlines.openCount == 3)
        #expect(deadlines.expire(now: start + .milliseconds(999)).isEmpty)
        #expect(deadlines.ended(id: "b") == .open)
        // "a" is open twice: the oldest start expires first, as the flow that ran longest.
        #expect(deadlines.expire(now: start + .milliseconds(1_150)) == [.init(id: "a", flow: "F", form: .single)])
        #expect(deadlines.ended(id: "a") == .open, "the second flow under the id is still open")
        #expect(deadlines.ended(id: "a") == .late, "a late end of the flow that timed out")
        #expect(deadlines.isTimedOut(id: "a"))
        #expect(deadlines.expire(now: start + .milliseconds(1_300)).isEmpty, "nothing open is left")
        #expect(deadlines.ended(id: "unknown") == .outsideFlow, "an end no start was recorded for ends no flow")
        #expect(deadlines.ended(id: "b") == .outsideFlow, "a second end of a flow that ended already")
        // One timeout after its end, the timed-out id is forgotten.
        _ = deadlines.expire(now: start + .milliseconds(2_200))
        #expect(!deadlines.isTimedOut(id: "a"))
        #expect(deadlines.openCount == 0)

        // Ended flows' starts do not pile up for a whole timeout.
        let busy = FlowDeadlines(timeout: .seconds(60))
        for i in 0..<10_000 {
            busy.started(id: "f\(i)", flow: "F", form: .single, now: start)
            if i % 100 != 0 { #expect(busy.ended(id: "f\(i)") == .open) }
        }
        #expect(busy.openCount == 100)
        #expect(busy.keptStarts <= 2 * 1_024 + 200, "kept \(busy.keptStarts)")
        let expired = busy.expire(now: start + .seconds(61))
        #expect(expired.count == 100 && expired.first?.id == "f0" && expired.last?.id == "f9900")
    }

    @Test func idsAreMatchedAsErrorsCarryThem() {
        let long = String(repeating: "x", count: 250)
        #expect(FlowKey.id(long) == FlowKey(Outbound.sanitize(long)))
        #expect(FlowKey.id(long) != FlowKey.id(String(repeating: "x", count: 199)))
        #expect(FlowKey.id("uuid") == FlowKey("uuid"))
    }

    /// A flow under an id longer than a key keeps times out with its whole id in the error.
    @Test func aLongIdTimesOutUnderItsWholeText() {
        let deadlines = FlowDeadlines(timeout: .seconds(1))
        let start = ContinuousClock.now
        let id = String(repeating: "0123456789", count: 8), flow = String(repeating: "F", count: 60)
        deadlines.started(id: id, flow: flow, form: .split, now: start)
        #expect(deadlines.expire(now: start + .seconds(2)) == [.init(id: id, flow: flow, form: .split)])
        #expect(deadlines.ended(id: id) == .late)
    }

    @Test func keysInlineAndSpilledCompareByTheirBytes() {
        let inline = String(repeating: "a", count: FlowKey.inlineCapacity)
        let spilled = inline + "b"
        #expect(FlowKey(inline) == FlowKey(inline) && FlowKey(inline).hashValue == FlowKey(inline).hashValue)
        #expect(FlowKey(spilled) == FlowKey(spilled) && FlowKey(spilled).description == inline, "a long key's text is its first 48 bytes")
        #expect(FlowKey(inline + "c") != FlowKey(spilled), "long keys differing past byte 48 differ")
        #expect(FlowKey(inline) != FlowKey(spilled))
        #expect(FlowKey(inline + "") != FlowKey(String(inline.dropLast()) + "b"), "the last inline byte counts")
        #expect(FlowKey("ab") != FlowKey("ab\0"), "lengths count, not only the zero-padded words")
        #expect(FlowKey("").description == "" && FlowKey("550e8400-e29b-41d4-a716-446655440000").description == "550e8400-e29b-41d4-a716-446655440000")
        let set: Set = [FlowKey("a"), FlowKey("b"), FlowKey(spilled), FlowKey("a")]
        #expect(set.count == 3)
    }

    /// The Subject's starts reach the IM in order, whether the ring has room or not.
    @Test func theStartRingKeepsOrderThroughItsOverflow() {
        let ring = FlowStartRing()
        func start(_ n: Int) -> FlowStartRing.Start { .init(id: FlowKey("f\(n)"), flow: FlowKey("F"), form: .single, started: Int64(n)) }
        var taken: [String] = []
        let total = FlowStartRing.capacity + 500
        for n in 0..<total { ring.push(start(n)) }
        ring.drain { taken.append($0.id.description) }
        #expect(taken == (0..<total).map { "f\($0)" })
        // Drained, the ring takes starts again.
        taken.removeAll()
        for n in total..<(total + 10) { ring.push(start(n)) }
        ring.drain { taken.append($0.id.description) }
        #expect(taken == (total..<(total + 10)).map { "f\($0)" })
    }

    @Test func theStartRingHandsOverAcrossThreadsInOrder() {
        let ring = FlowStartRing()
        let total = 200_000
        let producer = Thread {
            for n in 0..<total { ring.push(.init(id: FlowKey("f\(n)"), flow: FlowKey("F"), form: .split, started: Int64(n))) }
        }
        producer.start()
        var next = 0, outOfOrder = 0
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(30)
        while next < total, clock.now < deadline {
            ring.drain { start in
                if start.id != FlowKey("f\(next)") { outOfOrder += 1 }
                next += 1
            }
        }
        #expect(next == total && outOfOrder == 0)
    }
}
