import Foundation
import Testing
import ZManager
import ZeroMQ

/// The Subject never blocks on a send to the workers: with no worker able to take work it
/// keeps serving PONG, PUBLISH flows and flows with no work, holds plain steps until a worker
/// takes them, and fails them with `no_workers` at their deadline.
@Suite("The Subject without workers")
struct NoWorkerTests {
    static let flows = """
        [Echo]
        ?Echo?Push
        Subject?Echo?Echo
        ??done

        [Empty]
        ?Empty?Push
        ??done

        [Notify]
        ?Notify?Push
        Subject?Notify@PUBLISH?notify
        ??done
        """

    static func pipeline(_ transport: TestTransport, dispatchTimeout: Duration, highWaterMark: Int = 10_000,
                         heldBytes: Int = RoleLimits().heldBytes) throws -> TestPipeline {
        var limits = RoleLimits()
        limits.heldBytes = heldBytes
        limits.dispatchTimeout = dispatchTimeout
        limits.highWaterMark = highWaterMark
        let pipeline = try TestPipeline(transport: transport, flows: flows, mapping: "[actionmapping]\n??Echo = zmanager.builtin.echo\n",
                                        options: .init(workers: 0, limits: limits))
        for flow in ["Echo", "Empty", "Notify"] { try pipeline.subscribe(Topics.resultPrefix(flow: flow)) }
        return pipeline
    }

    /// Waits, bounded, until `condition` holds.
    static func eventually(_ timeout: Duration = .seconds(10), _ condition: () -> Bool) -> Bool {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while !condition() {
            if clock.now >= deadline { return false }
            Thread.sleep(forTimeInterval: 0.002)
        }
        return true
    }

    @Test(arguments: TestTransport.allCases)
    func everythingElseIsServedAndTheStepFailsAtItsDeadline(transport: TestTransport) throws {
        let pipeline = try Self.pipeline(transport, dispatchTimeout: .milliseconds(400))
        defer { pipeline.stop() }
        var handlers = HandlerRegistry()
        handlers.register("svc.notify", appending("+svc"))
        try pipeline.startService(name: "notifier", mapping: "[actionmapping]\n??notify = svc.notify\n", handlers: handlers)

        let clock = ContinuousClock()
        let pushed = clock.now
        try pipeline.client.push(flow: "Echo", id: "waiting", body: Array("x".utf8))
        #expect(Self.eventually { pipeline.node.statistics.waitingForWorkers.load(ordering: .relaxed) == 1 })
        // While the step waits: PONG, a flow with no work, and a PUBLISH flow are answered.
        #expect(try pipeline.client.waitUntilConnected(timeout: .seconds(5)))
        let empty = try #require(try pipeline.roundTrip(flow: "Empty", body: "e"))
        #expect(empty.isResult && empty.text == "e")
        var notified: ZManagerClient.Delivery?
        for attempt in 0..<50 where notified == nil {  // the service subscribes asynchronously
            try pipeline.client.push(flow: "Notify", id: "n-\(attempt)", body: Array("n".utf8))
            notified = try pipeline.receive(timeout: .milliseconds(100)) { $0.isResult && $0.id.hasPrefix("n-") }
        }
        #expect(notified?.text == "n+svc")

        let error = try #require(try pipeline.receive { $0.id == "waiting" })
        #expect(error.errorKind == .noWorkers)
        #expect(error.source == "Subject" && error.context == "Echo")
        #expect(error.text.contains("within"))
        #expect(clock.now - pushed >= .milliseconds(400), "not before its deadline")
        #expect(pipeline.node.statistics.waitingForWorkers.load(ordering: .relaxed) == 0)
        #expect(pipeline.node.statistics.inFlight == 0)
    }

    @Test(arguments: TestTransport.allCases)
    func aWorkerThatConnectsLaterTakesTheWaitingSteps(transport: TestTransport) throws {
        let pipeline = try Self.pipeline(transport, dispatchTimeout: .seconds(30))
        defer { pipeline.stop() }
        let ids = (0..<20).map { "late-\($0)" }
        for id in ids { try pipeline.client.push(flow: "Echo", id: id, body: Array(id.utf8)) }
        #expect(Self.eventually { pipeline.node.statistics.waitingForWorkers.load(ordering: .relaxed) == ids.count })

        let node = pipeline.node
        let worker = try Worker(name: "late", context: node.context, subject: node.endpoints.subjectWorkers,
                                subjectFront: node.endpoints.subjectFront,
                                integrationManager: node.endpoints.integrationManagerPull, routing: node.routing,
                                mapping: try ActionMapping(parsing: "[actionmapping]\n??Echo = zmanager.builtin.echo\n"),
                                handlers: .withBuiltins, dispatch: node.dispatch, statistics: CoreStatistics())
        _ = SocketThread.start(name: "late-worker") { worker.run() }

        var answered = Set<String>()
        while answered.count < ids.count {
            guard let delivery = try pipeline.receive(where: { $0.id.hasPrefix("late-") }) else { break }
            #expect(delivery.isResult && delivery.text == delivery.id)
            #expect(answered.insert(delivery.id).inserted, "answered once: \(delivery.id)")
        }
        #expect(answered == Set(ids))
        #expect(node.statistics.waitingForWorkers.load(ordering: .relaxed) == 0)
    }

    /// With the backlog full the Subject stops reading (backpressure) until the oldest steps
    /// expire; every step is answered exactly once, none is lost.
    @Test func aFullBacklogPausesIntakeAndLosesNothing() throws {
        let pipeline = try Self.pipeline(.inproc, dispatchTimeout: .milliseconds(150), highWaterMark: 4)
        defer { pipeline.stop() }
        let ids = (0..<12).map { "full-\($0)" }
        for id in ids { try pipeline.client.push(flow: "Echo", id: id, body: Array("x".utf8)) }
        var failed = Set<String>()
        while failed.count < ids.count {
            guard let delivery = try pipeline.receive(where: { $0.id.hasPrefix("full-") }) else { break }
            #expect(delivery.errorKind == .noWorkers)
            // At its deadline, not refused for want of room: intake paused instead.
            #expect(delivery.text.contains("within"), "\(delivery.text)")
            #expect(failed.insert(delivery.id).inserted, "answered once: \(delivery.id)")
        }
        #expect(failed == Set(ids))
        #expect(pipeline.node.statistics.waitingForWorkers.load(ordering: .relaxed) == 0)
    }

    /// The backlog is bounded in bytes too (`limits.held_bytes`): past the budget the Subject
    /// stops reading, as at the message bound, and loses nothing.
    @Test func aByteBudgetPausesIntakeLikeAFullBacklog() throws {
        let pipeline = try Self.pipeline(.inproc, dispatchTimeout: .milliseconds(200), heldBytes: 10_000)
        defer { pipeline.stop() }
        let ids = (0..<30).map { "bytes-\($0)" }
        for id in ids { try pipeline.client.push(flow: "Echo", id: id, body: Array(repeating: 0x61, count: 1_000)) }
        var failed = Set<String>()
        var mostWaiting = 0
        var sawPaused = false
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(20)
        while failed.count < ids.count && clock.now < deadline {
            mostWaiting = max(mostWaiting, pipeline.node.statistics.waitingForWorkers.load(ordering: .relaxed))
            sawPaused = sawPaused || pipeline.node.statistics.intakePaused.load(ordering: .relaxed)
            guard let delivery = try pipeline.client.receive(timeout: .milliseconds(5)), delivery.id.hasPrefix("bytes-") else { continue }
            #expect(delivery.errorKind == .noWorkers)
            #expect(delivery.text.contains("within"), "at its deadline, not refused: \(delivery.text)")
            #expect(failed.insert(delivery.id).inserted, "answered once: \(delivery.id)")
        }
        #expect(failed == Set(ids))
        // Each held step is about 1,050 bytes: at most ten fit under the budget, plus the one
        // that crossed it.
        #expect(mostWaiting >= 1 && mostWaiting <= 11, "held at most: \(mostWaiting)")
        // The health check's backpressure flag: set while the budget was full (30 steps of
        // 1,000 bytes against 10,000, each waiting 200 ms), cleared once nothing waits.
        #expect(sawPaused, "the Subject said it stopped reading")
        #expect(NoWorkerTests.eventually { !pipeline.node.statistics.intakePaused.load(ordering: .relaxed) })
    }
}
