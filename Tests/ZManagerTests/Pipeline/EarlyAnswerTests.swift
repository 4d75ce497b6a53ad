import Foundation
import Testing
@testable import ZManager
import ZeroMQ

/// ASYNC answers that overtake their park, and the parking table's expiry in park order.
@Suite("ASYNC: early answers and expiry in park order")
struct EarlyAnswerTests {
    // MARK: The parking table

    @Test func expiryTakesFlowsInParkOrderAndSkipsResumedOnes() {
        var parked = ParkedFlows(capacity: 10, timeout: .seconds(1))
        let start = ContinuousClock.now
        let position = FlowPosition(flow: 0, step: 1)
        for i in 0..<5 { #expect(parked.park(id: "f\(i)", at: position, form: .split, now: start + .milliseconds(i)) == .parked) }
        #expect(parked.resume(id: "f1") != nil)
        // f3 is resumed and parked again later: its old record must not expire the new park.
        #expect(parked.resume(id: "f3") != nil)
        #expect(parked.park(id: "f3", at: position, form: .split, now: start + .milliseconds(500)) == .parked)
        #expect(parked.expire(now: start + .milliseconds(999)).isEmpty, "nothing is due before its deadline")
        #expect(parked.expire(now: start + .milliseconds(1_004)).map(\.id) == ["f0", "f2", "f4"])
        #expect(parked.count == 1)
        #expect(parked.expire(now: start + .milliseconds(1_500)).map(\.id) == ["f3"])
        #expect(parked.count == 0 && parked.recordCount == 0)
    }

    @Test func recordsOfResumedFlowsStayBoundedByTheCapacity() {
        var parked = ParkedFlows(capacity: 100, timeout: .seconds(30))
        let now = ContinuousClock.now
        let position = FlowPosition(flow: 0, step: 1)
        for i in 0..<20_000 {
            #expect(parked.park(id: "r\(i)", at: position, form: .single, now: now) == .parked)
            if i % 100 != 0 { _ = parked.resume(id: "r\(i)") }  // most answered at once
            if parked.count == 100 { _ = parked.resume(id: "r\(i)") }
        }
        #expect(parked.recordCount <= 2 * 100 + 1024 + 1)
        let live = parked.count
        #expect(live > 0)
        #expect(parked.expire(now: now + .seconds(31)).count == live, "every live flow still expires")
        #expect(parked.count == 0 && parked.recordCount == 0)
    }

    // MARK: The early-answer table

    static func frame(_ text: String) -> Message { Message(string: text) }

    @Test func anAnswerIsHeldTakenOnceAndItsSlotComesBack() {
        var early = EarlyAnswers(capacity: 2, window: .milliseconds(100))
        let now = ContinuousClock.now
        let position = FlowPosition(flow: 0, step: 2)
        var head = Self.frame("F~ASYNC~~~finish~a1~"), body = Self.frame("answer")
        #expect(early.hold(id: "a1", kind: .stepHeader(position), form: .split, head: &head, body: &body, now: now))
        #expect(head.count == 0 && body.count == 0, "the frames were moved in")
        var second = Self.frame("x"), none = Message()
        #expect(!early.hold(id: "a1", kind: .completedCommand, form: .single, head: &second, body: &none, now: now),
                "one answer per id")
        #expect(early.answers(id: "a1", at: position) && !early.answers(id: "a1", at: FlowPosition(flow: 0, step: 1)))
        var takenHead = Message(), takenBody = Message()
        let answer = early.take(id: "a1", head: &takenHead, body: &takenBody)
        #expect(answer?.id == "a1" && takenHead.bodyEquals(Array("F~ASYNC~~~finish~a1~".utf8)) && takenBody.bodyEquals(Array("answer".utf8)))
        #expect(early.take(id: "a1", head: &takenHead, body: &takenBody) == nil, "taken once")
        // Fill it: the taken slot is freed by the next expiry pass, and nothing taken expires.
        var h1 = Self.frame("b"), b1 = Message(), h2 = Self.frame("c"), b2 = Message()
        #expect(early.hold(id: "b", kind: .completedCommand, form: .single, head: &h1, body: &b1, now: now))
        var h3 = Self.frame("d"), b3 = Message()
        #expect(!early.hold(id: "d", kind: .completedCommand, form: .single, head: &h3, body: &b3, now: now), "full")
        var expired: [String] = []
        early.expire(now: now + .milliseconds(50)) { expired.append($0.id) }
        #expect(expired.isEmpty)
        #expect(early.hold(id: "c", kind: .completedCommand, form: .single, head: &h2, body: &b2, now: now),
                "the taken answer's slot is free again")
        early.expire(now: now + .milliseconds(100)) { expired.append($0.id) }
        #expect(expired == ["b", "c"])
        #expect(early.count == 0 && !early.needsExpiry)
    }

    // MARK: Through the pipeline

    static let flows = """
        [Ext]
        ?Ext?Push
        Subject?Ext?start
        ?Ext@ASYNC?finish
        ??done
        """

    static func pipeline(_ transport: TestTransport, window: Duration = .seconds(2)) throws -> TestPipeline {
        var options = ZManagerNode.Options(workers: 1)
        options.async.earlyAnswerWindow = window
        let pipeline = try TestPipeline(transport: transport, flows: Self.flows,
                                        mapping: "[actionmapping]\n??start = test.start\n??finish = test.finish\n",
                                        handlers: AsyncTests.workerHandlers(), options: options)
        try pipeline.subscribe(Topics.parkedPrefix(flow: "Ext"))
        try pipeline.subscribe(Topics.resultPrefix(flow: "Ext"))
        return pipeline
    }

    @Test(arguments: TestTransport.allCases)
    func anAnswerThatOvertakesItsParkContinuesTheFlow(transport: TestTransport) throws {
        let pipeline = try Self.pipeline(transport)
        defer { pipeline.stop() }
        // The answer first, then the request whose flow parks at that step.
        try pipeline.client.resume(flow: "Ext", action: "finish", id: "early-1", body: Array("approved".utf8))
        #expect(NoWorkerTests.eventually { pipeline.node.statistics.subjectReceived.load(ordering: .relaxed) >= 2 })
        try pipeline.client.push(flow: "Ext", id: "early-1", body: Array("go".utf8))
        let delivery = try #require(try pipeline.receive { $0.id == "early-1" && ($0.isResult || $0.errorKind != nil || $0.decorator == "PARKED") })
        #expect(delivery.isResult, "\(delivery)")
        #expect(delivery.text == "approved;finished@w0", "the answer's body is the ASYNC step's input")
        #expect(pipeline.node.statistics.earlyAnswersUsed.load(ordering: .relaxed) == 1)
        #expect(pipeline.node.statistics.parked.load(ordering: .relaxed) == 0)
        #expect(try pipeline.receive(timeout: .milliseconds(300)) { $0.id == "early-1" } == nil, "no PARKED request, no second answer")
    }

    @Test func aCompletedCommandThatOvertakesItsParkContinuesTheFlow() throws {
        let pipeline = try Self.pipeline(.inproc)
        defer { pipeline.stop() }
        try pipeline.client.send(fields: [Topics.completedCommandConfig, "", "", "", "done"], id: "early-2", body: Array("ok".utf8))
        #expect(NoWorkerTests.eventually { pipeline.node.statistics.subjectReceived.load(ordering: .relaxed) >= 2 })
        try pipeline.client.push(flow: "Ext", id: "early-2", body: Array("go".utf8))
        let delivery = try #require(try pipeline.receive { $0.id == "early-2" && ($0.isResult || $0.errorKind != nil) })
        #expect(delivery.isResult && delivery.text == "ok;finished@w0", "\(delivery)")
    }

    @Test func anAnswerNobodyParksForGetsItsNoticeWhenTheWindowEnds() throws {
        let pipeline = try Self.pipeline(.inproc, window: .milliseconds(300))
        defer { pipeline.stop() }
        let clock = ContinuousClock()
        let sent = clock.now
        try pipeline.client.resume(flow: "Ext", action: "finish", id: "orphan", body: Array("x".utf8))
        let notice = try #require(try pipeline.receive { $0.id == "orphan" })
        #expect(notice.errorKind == .asyncUnknown && notice.decorator == "NOTICE")
        #expect(notice.text.contains("within"), "\(notice.text)")
        #expect(clock.now - sent >= .milliseconds(300), "not before its window ends")
        #expect(pipeline.node.statistics.earlyAnswersUsed.load(ordering: .relaxed) == 0)
    }
}
