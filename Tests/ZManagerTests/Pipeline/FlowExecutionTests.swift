import Synchronization
import Foundation
import Testing
import ZManager
import ZeroMQ

@Suite("Flows end to end through real sockets")
struct FlowExecutionTests {
    static let echoFlows = """
        [Echo]
        ?Echo?Push
        Subject?Echo?Echo
        ??done
        """

    @Test(arguments: TestTransport.allCases)
    func oneStepEchoAnswersEveryRequestWithItsId(transport: TestTransport) throws {
        let pipeline = try TestPipeline(transport: transport, flows: Self.echoFlows,
                                        mapping: "[actionmapping]\n??Echo = zmanager.builtin.echo\n")
        defer { pipeline.stop() }
        try pipeline.subscribe(Topics.resultPrefix(flow: "Echo"))
        let ids = (0..<50).map { "id-\($0)" }
        for id in ids { try pipeline.client.push(flow: "Echo", id: id, body: Array("body \(id)".utf8)) }
        var answered: [String: String] = [:]
        while answered.count < ids.count {
            let delivery = try #require(try pipeline.receive { $0.isResult })
            #expect(delivery.config == "Echo" && delivery.action == "done")
            answered[delivery.id] = delivery.text
        }
        for id in ids { #expect(answered[id] == "body \(id)") }
    }

    @Test(arguments: TestTransport.allCases)
    func threeConsecutiveWorkerStepsFeedEachOther(transport: TestTransport) throws {
        var handlers = HandlerRegistry.withBuiltins
        handlers.register("test.a", appending("+a"))
        handlers.register("test.b", appending("+b"))
        handlers.register("test.c", appending("+c"))
        let pipeline = try TestPipeline(
            transport: transport,
            flows: """
                [Steps]
                ?Steps?Push
                Subject?Steps?A
                ?Steps?B
                ?Steps?C
                ??done
                """,
            mapping: "[actionmapping]\n??A = test.a\n??B = test.b\n??C = test.c\n",
            handlers: handlers)
        defer { pipeline.stop() }
        try pipeline.subscribe(Topics.resultPrefix(flow: "Steps"))
        for i in 0..<5 {
            let result = try #require(try pipeline.roundTrip(flow: "Steps", body: "x\(i)"))
            #expect(result.isResult, "\(result.text)")
            #expect(result.text == "x\(i)+a+b+c")
        }
    }

    @Test(arguments: TestTransport.allCases)
    func publishAtTheStartIsExecutedByTheSubscribedService(transport: TestTransport) throws {
        let pipeline = try TestPipeline(
            transport: transport,
            flows: """
                [Notify]
                ?Notify?Push
                Subject?Notify@PUBLISH?notify
                ??done
                """,
            mapping: "[actionmapping]\n")
        defer { pipeline.stop() }
        var serviceHandlers = HandlerRegistry()
        serviceHandlers.register("svc.notify") { request, response in
            response.setBody(Array(String(decoding: request.body, as: UTF8.self).uppercased().utf8) + Array(" by \(request.executor)".utf8))
        }
        _ = try pipeline.startService(name: "notifier", mapping: "[actionmapping]\n??notify = svc.notify\n", handlers: serviceHandlers)
        try pipeline.subscribe(Topics.resultPrefix(flow: "Notify"))
        // The service subscribes asynchronously: retry until its first answer, then expect
        // every further request to be answered.
        var first: ZManagerClient.Delivery?
        for attempt in 0..<50 where first == nil {
            try pipeline.client.push(flow: "Notify", id: "warm-\(attempt)", body: Array("warm".utf8))
            first = try pipeline.receive(timeout: .milliseconds(200)) { $0.isResult }
        }
        try #require(first != nil, "the service answered")
        let result = try #require(try pipeline.roundTrip(flow: "Notify", body: "hello"))
        #expect(result.text == "HELLO by notifier")
    }

    /// A publication a service cannot read is counted (a publication reaches every
    /// subscriber, so an error from each would multiply), and the service keeps serving.
    @Test func aServiceCountsWhatItCannotReadAndKeepsServing() throws {
        let pipeline = try TestPipeline(
            transport: .inproc,
            flows: "[Notify]\n?Notify?Push\nSubject?Notify@PUBLISH?notify\n??done\n",
            mapping: "[actionmapping]\n")
        defer { pipeline.stop() }
        var serviceHandlers = HandlerRegistry()
        serviceHandlers.register("svc.notify", appending("+svc"))
        let statistics = try pipeline.startService(name: "notifier", mapping: "[actionmapping]\n??notify = svc.notify\n",
                                                handlers: serviceHandlers)
        try pipeline.subscribe(Topics.resultPrefix(flow: "Notify"))
        var first: ZManagerClient.Delivery?
        for attempt in 0..<50 where first == nil {
            try pipeline.client.push(flow: "Notify", id: "warm-\(attempt)", body: Array("warm".utf8))
            first = try pipeline.receive(timeout: .milliseconds(200)) { $0.isResult }
        }
        try #require(first != nil, "the service answered")

        // The service's subscription prefix, but no id field: not a ZManager message.
        let push = try Socket(pipeline.node.context, .push)
        defer { push.close() }
        try push.connect(pipeline.node.endpoints.integrationManagerPull)
        var frame = Message(copying: Array("Notify~PUBLISH~Subject~Notify~notify~".utf8))
        _ = try push.send(&frame)
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(10)
        while statistics.malformedDeliveries.load(ordering: .relaxed) == 0 && clock.now < deadline {
            Thread.sleep(forTimeInterval: 0.005)
        }
        #expect(statistics.malformedDeliveries.load(ordering: .relaxed) == 1)
        #expect(statistics.ignoredDeliveries.load(ordering: .relaxed) == 0)
        let result = try #require(try pipeline.roundTrip(flow: "Notify", body: "after"))
        #expect(result.text == "after+svc")
    }

    @Test(arguments: TestTransport.allCases)
    func publishMidFlowPublishesAndTheFlowGoesOn(transport: TestTransport) throws {
        var handlers = HandlerRegistry.withBuiltins
        handlers.register("test.first", appending("+first"))
        handlers.register("test.last", appending("+last"))
        let pipeline = try TestPipeline(
            transport: transport,
            flows: """
                [Mid]
                ?Mid?Push
                Subject?Mid?first
                ?Mid@PUBLISH?tell
                ?Mid?last
                ??done
                """,
            mapping: "[actionmapping]\n??first = test.first\n??last = test.last\n",
            handlers: handlers)
        defer { pipeline.stop() }
        var serviceHandlers = HandlerRegistry()
        serviceHandlers.register("svc.tell", appending("+svc"))
        _ = try pipeline.startService(name: "teller", mapping: "[actionmapping]\n??tell = svc.tell\n", handlers: serviceHandlers)
        try pipeline.subscribe("Mid~PUBLISH~")
        try pipeline.subscribe(Topics.resultPrefix(flow: "Mid"))

        var done: ZManagerClient.Delivery?
        for attempt in 0..<50 where done == nil {
            let id = "mid-\(attempt)"
            try pipeline.client.push(flow: "Mid", id: id, body: Array("x".utf8))
            done = try pipeline.receive(timeout: .milliseconds(200)) { $0.id == id && $0.isResult }
        }
        try #require(done != nil, "the service subscribed and the flow completed")
        let id = "mid-checked"
        try pipeline.client.push(flow: "Mid", id: id, body: Array("x".utf8))
        let published = try #require(try pipeline.receive { $0.id == id && $0.decorator == "PUBLISH" })
        #expect(published.action == "tell")
        #expect(published.text == "x+first", "the intermediate result is published")
        let result = try #require(try pipeline.receive { $0.id == id && $0.isResult })
        #expect(result.text == "x+first+svc+last")
    }

    @Test func publishStepMappedInTheWorkerIsPublishedAndExecutedInLine() throws {
        var handlers = HandlerRegistry.withBuiltins
        handlers.register("test.tell", appending("+told"))
        let pipeline = try TestPipeline(
            transport: .inproc,
            flows: """
                [Inline]
                ?Inline?Push
                Subject?Inline?Echo
                ?Inline@PUBLISH?tell
                ??done
                """,
            mapping: "[actionmapping]\n??Echo = zmanager.builtin.echo\n??tell = test.tell\n",
            handlers: handlers)
        defer { pipeline.stop() }
        try pipeline.subscribe("Inline~PUBLISH~")
        try pipeline.subscribe(Topics.resultPrefix(flow: "Inline"))
        try pipeline.client.push(flow: "Inline", id: "i1", body: Array("x".utf8))
        let published = try #require(try pipeline.receive { $0.id == "i1" && $0.decorator == "PUBLISH" })
        #expect(published.text == "x")
        let result = try #require(try pipeline.receive { $0.id == "i1" && $0.isResult })
        #expect(result.text == "x+told")
    }

    @Test(arguments: [WireForm.single, .split])
    func repliesTravelInTheFormOfTheRequest(form: WireForm) throws {
        var handlers = HandlerRegistry.withBuiltins
        handlers.register("test.a", appending("+a"))
        let pipeline = try TestPipeline(transport: .tcp,
                                        flows: "[F]\n?F?Push\nSubject?F?A\n??done\n",
                                        mapping: "[actionmapping]\n??A = test.a\n", handlers: handlers, form: form)
        defer { pipeline.stop() }
        try pipeline.subscribe(Topics.resultPrefix(flow: "F"))
        let result = try #require(try pipeline.roundTrip(flow: "F", body: "body~with~tildes", id: "form-1"))
        #expect(result.form == form)
        #expect(result.text == "body~with~tildes+a")
        #expect(result.id == "form-1")
    }

    /// A drain under continuous load: intake closes, every request pushed gets exactly one
    /// answer (a result, or `draining` once intake closed), and the drain completes.
    @Test(arguments: [TestTransport.inproc, .tcp])
    func aDrainUnderContinuousLoadClosesIntakeAndLosesNothing(transport: TestTransport) throws {
        let pipeline = try TestPipeline(transport: transport, flows: "[Echo]\n?Echo?Push\nSubject?Echo?Echo\n??done\n",
                                        mapping: "[actionmapping]\n??Echo = zmanager.builtin.echo\n")
        try pipeline.subscribe(Topics.resultPrefix(flow: "Echo"))
        let node = pipeline.node
        // The load: a second client on its own thread, pushing (about 20k/s) until told to
        // stop, and closed only when told to: closing drops what it has not sent (LINGER 0).
        let pusherContext = transport == .inproc ? node.context : try Context()
        let endpoints = node.endpoints
        let stop = Atomic<Bool>(false)
        let release = DispatchSemaphore(value: 0)
        let sent = Atomic<Int>(0)
        let finished = Atomic<Bool>(false)
        let pushing = SocketThread.start(name: "pusher") { [pusherContext] in
            guard let pusher = try? ZManagerClient(context: pusherContext, subject: endpoints.subjectFront,
                                                   integrationManager: endpoints.integrationManagerPub) else { return }
            var i = 0
            while !stop.load(ordering: .relaxed) && i < 1_000_000 {
                guard (try? pusher.push(flow: "Echo", id: "c\(i)", body: Array("x".utf8))) != nil else { break }
                i += 1
                sent.store(i, ordering: .relaxed)
                if i % 100 == 0 { Thread.sleep(forTimeInterval: 0.005) }  // pacing the load
            }
            finished.store(true, ordering: .releasing)
            _ = release.wait(timeout: .seconds(60))
            pusher.close()
        }
        var answers: [String: Int] = [:]
        var refused = 0
        func take(_ delivery: ZManagerClient.Delivery) {
            guard delivery.id.hasPrefix("c") else { return }
            if delivery.isResult { answers[delivery.id, default: 0] += 1 }
            if delivery.errorKind == .draining { answers[delivery.id, default: 0] += 1; refused += 1 }
        }
        let clock = ContinuousClock()
        let warm = clock.now + .seconds(20)
        while answers.count < 2_000 && clock.now < warm {
            if let delivery = try pipeline.client.receive(timeout: .milliseconds(50)) { take(delivery) }
        }
        // Drain while the load goes on, on a thread of its own; keep taking answers meanwhile.
        let drained = Atomic<Int>(0)  // 0 running, 1 completed, 2 timed out
        let draining = SocketThread.start(name: "drain") { [node] in
            drained.store(node.drain(timeout: .seconds(20)) ? 1 : 2, ordering: .releasing)
        }
        while drained.load(ordering: .acquiring) == 0 && clock.now < warm + .seconds(30) {
            if let delivery = try pipeline.client.receive(timeout: .milliseconds(10)) { take(delivery) }
        }
        draining.join()
        #expect(drained.load(ordering: .acquiring) == 1, "the drain completed under load")
        #expect(node.intake.isClosed)
        stop.store(true, ordering: .relaxed)
        #expect(NoWorkerTests.eventually { finished.load(ordering: .acquiring) }, "the pusher stopped")
        let total = sent.load(ordering: .relaxed)
        let deadline = clock.now + .seconds(20)
        while answers.count < total && clock.now < deadline {
            if let delivery = try pipeline.client.receive(timeout: .milliseconds(50)) { take(delivery) }
        }
        #expect(answers.count == total, "every request answered: \(total - answers.count) of \(total) missing")
        #expect(answers.values.allSatisfy { $0 == 1 }, "each once")
        #expect(refused > 0, "the load went on after intake closed")
        #expect(node.statistics.inFlight == 0)
        release.signal()
        pushing.join()
        pipeline.stop()
        if pusherContext !== node.context { pusherContext.terminate() }
    }

    @Test func drainingStopWaitsForInFlightFlows() throws {
        let pipeline = try TestPipeline(
            transport: .tcp, flows: "[Slow]\n?Slow?Push\nSubject?Slow?Wait\n??done\n",
            mapping: "[actionmapping]\n??Wait = zmanager.builtin.stall_20ms_every_1\n")
        try pipeline.subscribe(Topics.resultPrefix(flow: "Slow"))
        for i in 0..<20 { try pipeline.client.push(flow: "Slow", id: "s\(i)", body: []) }
        // 20 × 20 ms over 2 workers: stop() is called while most are still in flight.
        let first = try pipeline.receive { $0.isResult }
        #expect(first != nil)
        #expect(pipeline.node.stop(drainTimeout: .seconds(10)), "the drain completed")
        #expect(pipeline.node.statistics.results.load(ordering: .relaxed) == 20)
        #expect(pipeline.node.statistics.inFlight == 0)
        pipeline.client.close()
        pipeline.clientContext.terminate()
    }
}
