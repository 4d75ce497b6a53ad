import Foundation
import Testing
@testable import ZManager
import ZeroMQ

/// The Integration Manager publishes through an XPUB with `ZMQ_XPUB_NODROP`: a step nobody
/// subscribes to ends its flow with `no_subscriber`, a message a full subscriber cannot take is
/// dropped, counted and replaced by `subscriber_full`, and a published copy may go unheard.
@Suite("Integration Manager: nothing it cannot publish vanishes")
struct UnpublishedMessageTests {
    static let flows = """
        [Handoff]
        ?Handoff?Push
        ?Handoff@PUBLISH?Note
        ??done

        [Copy]
        ?Copy?Push
        Subject?Copy?Tag
        ?Copy@PUBLISH?Audit
        ??done

        [Echo]
        ?Echo?Push
        Subject?Echo?Echo
        ??done
        """
    static let mapping = "[actionmapping]\n??Tag = zmanager.builtin.tag\n??Audit = zmanager.builtin.tag\n??Echo = zmanager.builtin.echo\n"

    @Test(arguments: TestTransport.allCases)
    func aStepNobodySubscribesToEndsItsFlowAndACopyMayGoUnheard(transport: TestTransport) throws {
        let pipeline = try TestPipeline(transport: transport, flows: Self.flows, mapping: Self.mapping)
        defer { pipeline.stop() }
        try pipeline.subscribe(Topics.resultPrefix(flow: "Handoff"))
        try pipeline.subscribe(Topics.resultPrefix(flow: "Copy"))
        let statistics = pipeline.node.statistics

        // The Subject hands the PUBLISH step to the IM for a service; there is none.
        let unheard = try #require(try pipeline.roundTrip(flow: "Handoff", body: "x"))
        #expect(unheard.errorKind == .noSubscriber, "\(unheard.text)")
        #expect(unheard.text.contains("Handoff~PUBLISH~~Handoff~Note~"), "\(unheard.text)")
        #expect(statistics.errorsByKind[.noSubscriber] == 1)
        #expect(statistics.inFlight == 0, "the flow ended")

        // The worker publishes a copy of the PUBLISH step it runs itself: nobody hears it,
        // and the flow goes on to its result.
        let copied = try #require(try pipeline.roundTrip(flow: "Copy", body: "y"))
        #expect(copied.isResult, "\(copied.errorKind.map { "\($0)" } ?? "") \(copied.text)")
        #expect(statistics.errorsByKind[.noSubscriber] == 1)

        // Once a service subscribes to the step, the same flow runs to its result. The service
        // subscribes asynchronously: until the IM has its subscription, a try gets
        // `no_subscriber`, never silence.
        try pipeline.startService(name: "notes", mapping: "[actionmapping]\n??Note = zmanager.builtin.tag\n",
                                  handlers: .withBuiltins)
        var answered: ZManagerClient.Delivery?
        for _ in 0..<100 {
            let answer = try #require(try pipeline.roundTrip(flow: "Handoff", body: "z"), "every try is answered")
            if answer.isResult { answered = answer; break }
            #expect(answer.errorKind == .noSubscriber)
        }
        #expect(answered?.text == "z@notes")
        #expect(statistics.inFlight == 0)
    }

    /// inproc only: its pipes have no kernel buffers, so a subscriber that never reads is full
    /// after its high-water marks (the IM's and its own) and the test stays small.
    @Test
    func aFullSubscriberCostsDropsThatAreCountedAndAnswered() throws {
        var options = ZManagerNode.Options()
        options.limits.highWaterMark = 20
        let pipeline = try TestPipeline(transport: .inproc, flows: Self.flows, mapping: Self.mapping, options: options)
        defer { pipeline.stop() }
        try pipeline.subscribe(Topics.resultPrefix(flow: "Echo"))
        let stuck = try Socket(pipeline.node.context, .sub)
        defer { stuck.close() }
        try stuck.setReceiveHighWaterMark(1)
        try stuck.subscribe(Topics.resultPrefix(flow: "Echo"))
        try stuck.connect(pipeline.node.endpoints.integrationManagerPub)
        let statistics = pipeline.node.statistics

        // One request at a time: each gets exactly one answer, its result or, once the stuck
        // subscriber is full, `subscriber_full` (the error topic is not the stuck one's).
        let requests = 200
        var results = 0, dropped = 0
        for i in 0..<requests {
            let answer = try #require(try pipeline.roundTrip(flow: "Echo", body: "m\(i)"), "request \(i) is answered")
            if answer.isResult {
                results += 1
            } else {
                #expect(answer.errorKind == .subscriberFull, "\(answer.text)")
                dropped += 1
            }
        }
        // Everything before the PONG has been published: no second answer is on its way.
        try #require(try pipeline.client.waitUntilConnected())
        while let late = try pipeline.client.receive(timeout: .milliseconds(10)) {
            #expect(!late.isResult && late.errorKind == nil, "a second answer: \(late.id)")
        }
        #expect(results + dropped == requests)
        #expect(dropped > 0, "the stuck subscriber filled up")
        #expect(results >= 20, "the first results fit in its pipe")
        #expect(statistics.publishDropped.load(ordering: .relaxed) == dropped)
        #expect(statistics.errorsByKind[.subscriberFull] == dropped)
        #expect(statistics.errorsNotSent.load(ordering: .relaxed) == 0)
        #expect(statistics.inFlight == 0)
    }

    @Test("the subscription set follows the XPUB's subscribe and unsubscribe messages")
    func subscriptionSet() {
        var set = Subscriptions()
        func apply(_ verb: UInt8, _ prefix: String) { ([verb] + Array(prefix.utf8)).withUnsafeBytes { set.apply($0) } }
        func matches(_ topic: String) -> Bool { Array(topic.utf8).withUnsafeBytes { set.matches($0) } }
        #expect(!matches("Echo~~~~done~id~"))
        apply(1, "Echo~~~~done~")
        #expect(matches("Echo~~~~done~id~"))
        #expect(!matches("Echo~~~~don"))
        #expect(!matches("Other~~~~done~id~"))
        apply(1, "Echo~~~~done~")
        #expect(set.prefixes.count == 1)
        apply(2, "Other")
        apply(0, "Nobody")
        #expect(set.prefixes.count == 1)
        apply(0, "Echo~~~~done~")
        #expect(!matches("Echo~~~~done~id~"))
        apply(1, "")
        #expect(matches("anything at all"))
        #expect(matches(""))
        Array<UInt8>().withUnsafeBytes { set.apply($0) }
        #expect(set.prefixes == [[]])

        // A multicast group hears everything, whatever the XPUB reports.
        var group = Subscriptions()
        group.everything = true
        #expect(Array("Handoff~PUBLISH~~Handoff~Note~id~".utf8).withUnsafeBytes { group.matches($0) })
        ([0] + Array("Handoff".utf8)).withUnsafeBytes { group.apply($0) }
        #expect(Array("Handoff~PUBLISH~~Handoff~Note~id~".utf8).withUnsafeBytes { group.matches($0) })
    }
}
