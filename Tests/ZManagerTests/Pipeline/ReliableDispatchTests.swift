import Foundation
import Logging
import Synchronization
import Testing
import ZManager
import ZeroMQ

/// Reliable dispatch: a step held by a worker that is lost is dealt again, a service sees one
/// result per request, and a step that loses every worker ends in `worker_lost`.
///
/// The lost workers here are test-driven DEALER sockets speaking the worker channel by hand
/// (docs/PROTOCOL.md, "Reliable dispatch"): they take steps and vanish, or answer late.
/// `ServeCommandTests` kills real worker processes.
@Suite("Reliable dispatch")
struct ReliableDispatchTests {
    static let flows = """
        [Echo]
        ?Echo?Push
        Subject?Echo?Echo
        ??done
        """
    static let mapping = "[actionmapping]\n??Echo = zmanager.builtin.echo\n"

    static func options(workers: Int, maxAttempts: Int = 3) -> ZManagerNode.Options {
        var options = ZManagerNode.Options(workers: workers)
        options.dispatch = DispatchOptions(mode: .reliable, credit: 8, heartbeat: .milliseconds(50),
                                           heartbeatTimeout: .milliseconds(500), maxAttempts: maxAttempts)
        return options
    }

    static func pipeline(_ transport: TestTransport, workers: Int, maxAttempts: Int = 3) throws -> TestPipeline {
        let pipeline = try TestPipeline(transport: transport, flows: flows, mapping: mapping,
                                        options: options(workers: workers, maxAttempts: maxAttempts))
        try pipeline.subscribe(Topics.resultPrefix(flow: "Echo"))
        return pipeline
    }

    /// A worker the test drives: a DEALER on the Subject's worker endpoint.
    final class HandDrivenWorker {
        let socket: Socket
        let context: Context
        let ownsContext: Bool

        init(_ pipeline: TestPipeline, transport: TestTransport) throws {
            ownsContext = transport != .inproc
            context = ownsContext ? try Context() : pipeline.node.context
            socket = try Socket(context, .dealer)
            try socket.connect(pipeline.node.endpoints.subjectWorkers)
        }

        func ready(credit: UInt32) throws {
            var frame: [UInt8] = [0, 0x52]
            withUnsafeBytes(of: credit.littleEndian) { frame += $0 }
            _ = try socket.send(bytes: frame)
        }

        /// The next step dealt, skipping probes: its seq frame and its message frames.
        func nextStep(timeout: Duration = .seconds(10)) throws -> (seq: [UInt8], frames: [[UInt8]])? {
            try socket.setReceiveTimeout(.milliseconds(50))
            let clock = ContinuousClock()
            let deadline = clock.now + timeout
            while clock.now < deadline {
                guard let parts = try socket.receiveMultipart() else { continue }
                if parts.first?.count == 8 { return (parts[0], Array(parts.dropFirst())) }
            }
            return nil
        }

        /// Waits for a control frame with `verb`, skipping everything else.
        func waitForControl(_ verb: UInt8, timeout: Duration = .seconds(10)) throws -> Bool {
            try socket.setReceiveTimeout(.milliseconds(50))
            let clock = ContinuousClock()
            let deadline = clock.now + timeout
            while clock.now < deadline {
                if let parts = try socket.receiveMultipart(), parts.first == [0, verb] { return true }
            }
            return false
        }

        func close() {
            socket.close()
            if ownsContext { context.terminate() }
        }
    }

    /// A real worker in reliable mode, started after the lost one.
    static func startWorker(_ pipeline: TestPipeline, transport: TestTransport, name: String) throws -> Context {
        let context = transport == .inproc ? pipeline.node.context : try Context()
        let worker = try Worker(
            name: name, context: context, subject: pipeline.node.endpoints.subjectWorkers,
            subjectFront: pipeline.node.endpoints.subjectFront,
            integrationManager: pipeline.node.endpoints.integrationManagerPull, routing: pipeline.node.routing,
            mapping: try ActionMapping(parsing: mapping, path: "m.ini"), handlers: .withBuiltins,
            dispatch: options(workers: 0).dispatch, statistics: pipeline.node.statistics)
        _ = SocketThread.start(name: name) { worker.run() }
        return context
    }

    /// Collects results and errors until `count` distinct ids have one, then a little longer
    /// (until nothing more arrives for 300 ms) to catch duplicates.
    static func collect(_ pipeline: TestPipeline, count: Int, timeout: Duration = .seconds(20))
        throws -> (results: [String: Int], errors: [ZManagerClient.Delivery]) {
        var results: [String: Int] = [:]
        var errors: [ZManagerClient.Delivery] = []
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while results.count + errors.count < count && clock.now < deadline {
            guard let delivery = try pipeline.client.receive(timeout: .milliseconds(50)) else { continue }
            if delivery.isResult { results[delivery.id, default: 0] += 1 } else if delivery.errorKind != nil { errors.append(delivery) }
        }
        while let delivery = try pipeline.client.receive(timeout: .milliseconds(300)) {
            if delivery.isResult { results[delivery.id, default: 0] += 1 } else if delivery.errorKind != nil { errors.append(delivery) }
        }
        return (results, errors)
    }

    /// The Subject logs workers registered and lost through the node's logger, with
    /// metadata, and keeps the connected-worker gauge the health check reads.
    @Test func aLostWorkerIsLoggedWithItsMetadataAndLeavesTheConnectedCount() throws {
        let records = CapturedLog()
        var options = Self.options(workers: 0)
        options.logger = Logger(label: "test") { _ in CapturingLogHandler(records: records) }
        let pipeline = try TestPipeline(transport: .inproc, flows: Self.flows, mapping: Self.mapping, options: options)
        defer { pipeline.stop() }
        try pipeline.subscribe(Topics.resultPrefix(flow: "Echo"))
        let lost = try HandDrivenWorker(pipeline, transport: .inproc)
        try lost.ready(credit: 8)
        for i in 0..<3 { try pipeline.client.push(flow: "Echo", id: "l\(i)", body: Array("x".utf8)) }
        for _ in 0..<3 { _ = try #require(try lost.nextStep()) }
        #expect(pipeline.node.statistics.workersConnected.load(ordering: .relaxed) == 1)
        lost.close()
        let record = try #require(records.wait { $0.message == "worker lost" }, "\(records.all)")
        #expect(record.level == .warning)
        #expect(record.metadata["role"] == "subject")
        #expect(record.metadata["steps_dealt_again"] == "3" && record.metadata["steps_failed"] == "0")
        let registered = try #require(records.all.first { $0.message == "worker registered" })
        #expect(registered.metadata["credit"] == "8" && registered.metadata["worker"] == record.metadata["worker"])
        #expect(pipeline.node.statistics.workersConnected.load(ordering: .relaxed) == 0)
    }

    @Test(arguments: TestTransport.allCases)
    func stepsHeldByALostWorkerAreDealtAgainAndAnsweredOnce(transport: TestTransport) throws {
        let pipeline = try Self.pipeline(transport, workers: 0)
        defer { pipeline.stop() }
        let lost = try HandDrivenWorker(pipeline, transport: transport)
        try lost.ready(credit: 8)
        let count = 20
        for i in 0..<count { try pipeline.client.push(flow: "Echo", id: "r\(i)", body: Array("body \(i)".utf8)) }
        // It is dealt exactly its credit; the rest wait at the Subject.
        var held: [String] = []
        for _ in 0..<8 {
            let step = try #require(try lost.nextStep())
            held.append(String(decoding: step.frames[0], as: UTF8.self))
        }
        #expect(held.allSatisfy { $0.hasPrefix("Echo~~Subject~Echo~Echo~r") })
        #expect(NoWorkerTests.eventually { pipeline.node.statistics.waitingForWorkers.load(ordering: .relaxed) == count - 8 })
        lost.close()
        #expect(NoWorkerTests.eventually { pipeline.node.statistics.workersLost.load(ordering: .relaxed) == 1 },
                "the closed worker is found gone")

        let context = try Self.startWorker(pipeline, transport: transport, name: "survivor")
        defer { if context !== pipeline.node.context { context.terminate() } }
        let (results, errors) = try Self.collect(pipeline, count: count)
        #expect(errors.isEmpty, "\(errors.map(\.text))")
        #expect(results.count == count, "every request answered")
        #expect(results.values.allSatisfy { $0 == 1 }, "each once: \(results.filter { $0.value != 1 })")
        #expect(pipeline.node.statistics.redelivered.load(ordering: .relaxed) == 8)
        #expect(pipeline.node.statistics.waitingForWorkers.load(ordering: .relaxed) == 0)
        #expect(NoWorkerTests.eventually { pipeline.node.statistics.inFlight == 0 })
    }

    @Test(arguments: [TestTransport.inproc, .tcp])
    func aLateOutputOfALostWorkerIsDroppedAndItIsAskedToSayReady(transport: TestTransport) throws {
        let pipeline = try Self.pipeline(transport, workers: 0)
        defer { pipeline.stop() }
        let first = try HandDrivenWorker(pipeline, transport: transport)
        try first.ready(credit: 1)
        try pipeline.client.push(flow: "Echo", id: "late", body: Array("x".utf8))
        let step = try #require(try first.nextStep())
        first.close()
        #expect(NoWorkerTests.eventually { pipeline.node.statistics.workersLost.load(ordering: .relaxed) == 1 })

        // The step is dealt again, to a worker that answers it.
        let context = try Self.startWorker(pipeline, transport: transport, name: "survivor")
        defer { if context !== pipeline.node.context { context.terminate() } }
        let answer = try #require(try pipeline.receive { $0.id == "late" })
        #expect(answer.isResult && answer.text == "x")

        // The lost worker comes back (a new connection) and answers the old dealing: dropped.
        let back = try HandDrivenWorker(pipeline, transport: transport)
        defer { back.close() }
        var receipt = step.seq
        receipt.append(1)  // final, for the Integration Manager
        _ = try back.socket.send(multipart: [receipt, Array("Echo~~~~done~late~".utf8), Array("x".utf8)])
        #expect(try back.waitForControl(0x51), "the Subject asks the unknown worker to say ready")
        #expect(NoWorkerTests.eventually { pipeline.node.statistics.staleOutputsDropped.load(ordering: .relaxed) == 1 })
        #expect(try pipeline.receive(timeout: .milliseconds(300)) { $0.id == "late" } == nil, "one result, not two")
    }

    @Test(arguments: [TestTransport.inproc, .ipc])
    func aStepThatLosesEveryWorkerEndsInWorkerLost(transport: TestTransport) throws {
        let pipeline = try Self.pipeline(transport, workers: 0, maxAttempts: 2)
        defer { pipeline.stop() }
        try pipeline.client.push(flow: "Echo", id: "doomed", body: Array("x".utf8))
        for attempt in 0..<2 {
            let worker = try HandDrivenWorker(pipeline, transport: transport)
            try worker.ready(credit: 4)
            let step = try #require(try worker.nextStep(), "attempt \(attempt) dealt")
            #expect(String(decoding: step.frames[0], as: UTF8.self).hasSuffix("~doomed~"))
            worker.close()
            #expect(NoWorkerTests.eventually { pipeline.node.statistics.workersLost.load(ordering: .relaxed) == attempt + 1 })
        }
        let error = try #require(try pipeline.receive { $0.id == "doomed" })
        #expect(error.errorKind == .workerLost)
        #expect(error.source == "Subject" && error.context == "Echo")
        #expect(pipeline.node.statistics.redelivered.load(ordering: .relaxed) == 1)
        #expect(NoWorkerTests.eventually { pipeline.node.statistics.inFlight == 0 })
    }

    /// A worker that hears nothing from its Subject for the heartbeat timeout says ready again
    /// (a restarted Subject would not know it otherwise); while probes come, it does not.
    @Test func aWorkerThatHearsNothingSaysReadyAgain() throws {
        let context = try Context()
        let subject = try Socket(context, .router)  // the test plays the Subject
        try subject.bind("tcp://127.0.0.1:*")
        let endpoint = try subject.lastEndpoint
        let worker = try Worker(
            name: "quiet", context: context, subject: endpoint, subjectFront: endpoint, integrationManager: endpoint,
            routing: RoutingTable(flows: try FlowTable(parsing: Self.flows, path: "f.ini")),
            mapping: try ActionMapping(parsing: Self.mapping, path: "m.ini"), handlers: .withBuiltins,
            dispatch: DispatchOptions(mode: .reliable, credit: 3, heartbeat: .milliseconds(50), heartbeatTimeout: .milliseconds(300)),
            statistics: CoreStatistics())
        let thread = SocketThread.start(name: "quiet") { worker.run() }
        defer {
            subject.close()
            context.shutdown()
            thread.join()
            context.terminate()
        }
        let ready: [UInt8] = [0, 0x52, 3, 0, 0, 0]
        try subject.setReceiveTimeout(.seconds(5))
        let first = try #require(try subject.receiveMultipart(), "the worker says ready when it starts")
        #expect(first.count == 2 && first[1] == ready)
        let identity = first[0]

        // Probed every 50 ms (the receive timeout is the interval) for 900 ms, three heartbeat
        // timeouts: no second ready.
        let clock = ContinuousClock()
        let probing = clock.now
        try subject.setReceiveTimeout(.milliseconds(50))
        while clock.now - probing < .milliseconds(900) {
            _ = try subject.send(multipart: [identity, [0, 0x48]])
            if let extra = try subject.receiveMultipart() { Issue.record("unexpected while probed: \(extra)") }
        }
        // Silence: ready again, within a bound.
        try subject.setReceiveTimeout(.seconds(5))
        let again = try #require(try subject.receiveMultipart(), "the worker says ready again after the silence")
        #expect(again == [identity, ready])
    }

    /// The reliable path carries every routing case the fast one does: results, errors,
    /// continuations through the Subject, ASYNC parks. (The whole pipeline suite also runs in
    /// reliable mode: `ZMANAGER_TEST_DISPATCH=reliable`, see scripts/test.)
    @Test(arguments: TestTransport.allCases)
    func aBurstIsAnsweredOnceEachWithTwoWorkers(transport: TestTransport) throws {
        let pipeline = try Self.pipeline(transport, workers: 2)
        defer { pipeline.stop() }
        let count = 3_000
        for i in 0..<count { try pipeline.client.push(flow: "Echo", id: "b\(i)", body: Array("b".utf8)) }
        let (results, errors) = try Self.collect(pipeline, count: count)
        #expect(errors.isEmpty, "\(errors.prefix(3).map(\.text))")
        #expect(results.count == count && results.values.allSatisfy { $0 == 1 })
        #expect(pipeline.node.statistics.redelivered.load(ordering: .relaxed) == 0)
    }
}

/// Log records a test handler captured, and a bounded wait for one.
final class CapturedLog: Sendable {
    struct Record: Sendable {
        var level: Logger.Level
        var message: String
        var metadata: [String: String]
    }
    private let records = Mutex<[Record]>([])
    private let added = DispatchSemaphore(value: 0)

    func append(_ record: Record) {
        records.withLock { $0.append(record) }
        added.signal()
    }

    var all: [Record] { records.withLock { $0 } }

    /// The first record matching `predicate`, waiting up to `timeout` for it (woken by each new record).
    func wait(timeout: Duration = .seconds(10), _ predicate: (Record) -> Bool) -> Record? {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while true {
            if let found = all.first(where: predicate) { return found }
            let left = deadline - clock.now
            guard left > .zero else { return nil }
            let ms = Int(left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000)
            _ = added.wait(timeout: .now() + .milliseconds(max(1, ms)))
        }
    }
}

/// A swift-log handler that keeps what it is given.
struct CapturingLogHandler: LogHandler {
    let records: CapturedLog
    var logLevel: Logger.Level = .trace
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged = metadata
        for (key, value) in event.metadata ?? [:] { merged[key] = value }
        records.append(.init(level: event.level, message: "\(event.message)",
                             metadata: merged.mapValues { "\($0)" }))
    }
}
