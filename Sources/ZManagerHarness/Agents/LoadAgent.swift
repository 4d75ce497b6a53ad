import Dispatch
import Synchronization
import ZeroMQ

/// `zmanager agent`: this host's load generator, driven by a `zmanager run` on another host
/// (``AgentCoordinator``) through the conversation ``AgentMessage`` describes.
///
/// It serves one coordinator at a time, measurement after measurement, on the thread that
/// calls ``serve(sessions:log:)`` (a socket loop: never a Swift concurrency task). Each
/// measurement runs on the load generator's own threads and a libzmq context of its own, as
/// a separate service would.
public final class LoadAgent {
    /// Where it listens, as bound (a `*` port resolved).
    public let endpoint: String
    private let context: Context
    private let control: Socket
    /// How long it waits for the coordinator's start once it said ready.
    static let startTimeout: Duration = .seconds(120)

    /// Binds the control socket, so that a coordinator may connect at once.
    public init(listen: String) throws {
        context = try Context()
        do {
            control = try Socket(context, .rep)
            try control.setLinger(.zero)
            try control.bind(listen)
            endpoint = try control.lastEndpoint
        } catch {
            context.terminate()
            throw HarnessError("zmanager agent could not listen on \(listen): \(error)")
        }
    }

    /// Ends ``serve(sessions:log:)`` from any thread: its receive returns at once.
    public var stopper: Stopper { Stopper(context: context) }

    public struct Stopper: Sendable {
        let context: Context
        public func stop() { context.shutdown() }
    }

    /// Serves measurements until `sessions` were served (nil: until stopped), then closes.
    public func serve(sessions: Int? = nil, log: (String) -> Void = { _ in }) throws {
        defer {
            control.close()
            context.terminate()
        }
        var served = 0
        while sessions.map({ served < $0 }) ?? true {
            guard let (message, peer) = try receive(timeout: nil) else { return }
            guard case .prepare(let job) = message else {
                try reply(.failed("expected prepare, got \(message.name)"))
                continue
            }
            served += 1
            log("measurement \(served): \(job.point.id), \(ScenarioPlan.describe(job.point.load)), agent \(job.tag), from \(peer ?? "a local peer")")
            try session(job, peer: peer, log: log)
        }
    }

    /// One measurement: prepare, wait for the start, run, report.
    private func session(_ job: AgentJob, peer: String?, log: (String) -> Void) throws {
        let host = job.connect ?? peer ?? "127.0.0.1"
        let front: String, publish: String
        do {
            front = try AgentJob.endpoint(job.frontEndpoint, at: host)
            publish = try AgentJob.endpoint(job.publishEndpoint, at: host)
        } catch {
            return try reply(.failed("\(error)"))
        }
        let generatorContext = try Context(threadNamePrefix: StageCPU.generatorContextPrefix)
        defer { generatorContext.terminate() }
        let target = LoadTarget(frontEndpoint: front, publishEndpoint: publish, context: generatorContext,
                                wire: job.wire, idTag: job.tag)
        let gate = StartGate()
        let box = AgentOutcomeBox()
        let point = job.point
        let runner = SocketThread.start(name: "agent-run") {
            let generator = LoadGenerator(point: point, target: target)
            box.result = Result { try generator.run(connected: { try gate.connectedAwaitingStart() }) }
            gate.finished()
        }
        guard gate.awaitConnection() else {
            runner.join()
            let why = (box.result.map { result -> String in
                if case .failure(let error) = result { return "\(error)" }
                return "the load generator ended before it connected"
            }) ?? "the load generator ended before it connected"
            log("  failed: \(why)")
            return try reply(.failed("\(why) (connecting to \(front) and \(publish))"))
        }
        try reply(.ready)
        let next = try receive(timeout: Self.startTimeout)
        let start: Bool
        if case .start? = next?.message { start = true } else { start = false }
        gate.decide(start: start)
        runner.join()
        guard start else {
            log("  not started: \(next.map { "got \($0.message.name)" } ?? "no start within \(Self.startTimeout)")")
            if next != nil { try reply(.aborted) }
            return
        }
        switch box.result! {
        case .success(let outcome):
            let measurement = Measurement(outcome, point: point, childRSS: nil)
            log("  sent \(measurement.sent), received \(measurement.received), lost \(measurement.lost), p99 \(measurement.latency.p99) ns")
            try reply(.report(AgentReport(measurement: measurement, recorder: RecorderCounts(outcome.recorder),
                                          sendDelay: outcome.sendDelay.map(HistogramCounts.init))))
        case .failure(let error):
            log("  failed: \(error)")
            try reply(.failed("\(error)"))
        }
    }

    /// The next request and the address it came from; nil when the agent was stopped (or
    /// `timeout` passed). A frame that is not the protocol's is answered `failed` and skipped.
    private func receive(timeout: Duration?) throws -> (message: AgentMessage, peer: String?)? {
        try control.setReceiveTimeout(timeout)
        var frame = Message()
        while true {
            let result: ReceiveResult
            do {
                result = try control.receive(into: &frame)
            } catch {
                if error.code == .contextTerminated { return nil }
                throw error
            }
            guard result == .received else { return nil }
            let peer = frame.property("Peer-Address")
            do {
                return (try AgentMessage.decode(frame.bytes), peer)
            } catch {
                try reply(.failed("\(error)"))
            }
        }
    }

    private func reply(_ message: AgentMessage) throws {
        do {
            _ = try control.send(bytes: message.encoded())
        } catch {
            if error.code != .contextTerminated { throw error }
        }
    }
}

/// Between the agent's control thread and its load generator: the generator says it
/// connected (or ended), and waits until the control thread says start or abort.
final class StartGate: Sendable {
    private enum State { case connecting, connected, ended, started, aborted }
    private let state = Mutex(State.connecting)
    private let changed = DispatchSemaphore(value: 0)
    private let decided = DispatchSemaphore(value: 0)

    /// The generator's thread, once the pipeline answered a probe: waits for the decision and
    /// throws unless it is start.
    func connectedAwaitingStart() throws {
        state.withLock { $0 = .connected }
        changed.signal()
        decided.wait()
        guard state.withLock({ $0 }) == .started else { throw HarnessError("the coordinator did not start the measurement") }
    }

    /// The generator's thread, when its run ended (connected or not).
    func finished() {
        state.withLock { if $0 == .connecting { $0 = .ended } }
        changed.signal()
    }

    /// The control thread: true once the generator connected, false when it ended first.
    func awaitConnection() -> Bool {
        changed.wait()
        return state.withLock { $0 == .connected }
    }

    func decide(start: Bool) {
        state.withLock { $0 = start ? .started : .aborted }
        decided.signal()
    }
}

/// The agent's load generator result. `@unchecked Sendable`: written on its thread and read
/// only after `join()` (semaphore + `pthread_join`), which orders the two.
private final class AgentOutcomeBox: @unchecked Sendable {
    var result: Result<LoadGenerator.Outcome, any Error>?
}
