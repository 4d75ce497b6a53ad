import ZManager
import ZeroMQ
import ZeroMQBenchmarkKit

/// What the client drives: a PULL endpoint that takes the split-form request and a PUB
/// endpoint that publishes the answer, with the context the client's sockets must be made in
/// (inproc endpoints exist only inside one context).
protocol Topology: AnyObject {
    var context: Context { get }
    var frontEndpoint: String { get }
    var publishEndpoint: String { get }
    /// The subscription that lets the answers through (and nothing else).
    var answerPrefix: String { get }
    /// Counters to print when an answer does not come back.
    var diagnostics: String { get }
    /// Stops every thread and terminates the context; the client's sockets must be closed.
    func stop()
}

/// The header the client sends: `Echo~~bench~~Push~<id>~`, 55 bytes (more than the 33 that
/// fit inside a `zmq_msg_t`, as every real header with a uuid4 id).
let requestHeader = "Echo~~bench~~Push~" + "3f2a9c1e-7b4d-4e8a-9f61-0c5d2b7e8a14" + "~"
/// What the ZManager publishes for it: the `??done` step's header, `Echo~~~~done~<id>~`.
let zmanagerAnswerPrefix = "Echo~~~~done~"

/// The whole ZManager: Integration Manager, Subject, one worker (and the node's
/// completed-command bridge, idle here) on their threads in this process, running the echo
/// flow `?Echo?Push → Subject?Echo?Echo → ??done` with the built-in echo handler, which
/// passes the body frame on without copying it.
///
/// Per request: Subject receives header + body, sends a new header (step `Subject?Echo?Echo`)
/// and moves the body to the worker; the worker runs the handler and sends a new header
/// (`Echo~~~~done~<id>~`) and moves the body to the Integration Manager; the IM moves both
/// frames to its PUB.
final class ZManagerTopology: Topology {
    let node: ZManagerNode

    init(transport: Transport) throws {
        node = try ZManagerNode(
            endpoints: .ephemeral(transport: transport.rawValue),
            flows: try FlowTable(parsing: "[Echo]\n?Echo?Push\nSubject?Echo?Echo\n??done\n"),
            mapping: try ActionMapping(parsing: "[actionmapping]\n??Echo = zmanager.builtin.echo\n"),
            handlers: .withBuiltins,
            options: .init(workers: 1))
    }

    var context: Context { node.context }
    var frontEndpoint: String { node.endpoints.subjectFront }
    var publishEndpoint: String { node.endpoints.integrationManagerPub }
    var answerPrefix: String { zmanagerAnswerPrefix }
    var diagnostics: String {
        let s = node.statistics
        return "subject received \(s.subjectReceived.load(ordering: .relaxed)), worker received "
            + "\(s.workerReceived.load(ordering: .relaxed)), published \(s.published.load(ordering: .relaxed)), "
            + "results \(s.results.load(ordering: .relaxed)), errors \(s.errors.load(ordering: .relaxed))"
    }

    func stop() { node.stop(drainTimeout: .seconds(2)) }
}

/// The same sockets and hops with nothing but frame forwarding, each hop a
/// `Socket.forward(to:using:)` loop on its own `SocketThread` (moves every frame, copies no
/// body, allocates nothing on the Swift side):
///
///     client PUSH → [PULL → PUSH]  "subject"   (front bound, workers endpoint bound)
///                 → [PULL → PUSH]  "worker"    (both connected)
///                 → [PULL → PUB]   "integration manager" (both bound) → client SUB
///
/// The HWMs are the ZManager roles' default (`RoleLimits().highWaterMark`). The request header
/// arrives unchanged, so the client subscribes to its own prefix.
final class BareTopology: Topology {
    let context: Context
    let frontEndpoint: String
    let publishEndpoint: String
    let answerPrefix = "Echo~~bench~~Push~"
    private var threads: [SocketThread] = []
    private let counters = ForwardCounters()

    init(transport: Transport) throws {
        let context = try Context()
        self.context = context
        let endpoints = Endpoints.ephemeral(transport: transport.rawValue)
        let hwm = RoleLimits().highWaterMark
        let imPull = try Self.socket(context, hwm, .pull)
        try imPull.bind(endpoints.integrationManagerPull)
        let imPub = try Self.socket(context, hwm, .pub)
        try imPub.bind(endpoints.integrationManagerPub)
        let front = try Self.socket(context, hwm, .pull)
        try front.bind(endpoints.subjectFront)
        let toWorkers = try Self.socket(context, hwm, .push)
        try toWorkers.bind(endpoints.subjectWorkers)
        let workerIn = try Self.socket(context, hwm, .pull)
        try workerIn.connect(try toWorkers.lastEndpoint)
        let workerOut = try Self.socket(context, hwm, .push)
        try workerOut.connect(try imPull.lastEndpoint)
        frontEndpoint = try front.lastEndpoint
        publishEndpoint = try imPub.lastEndpoint
        for (name, hop, input, output) in [("bare-im", ForwardCounters.Hop.im, imPull, imPub),
                                           ("bare-subject", .subject, front, toWorkers),
                                           ("bare-w0", .worker, workerIn, workerOut)] {
            let forwarder = Forwarder(input: input, output: output, counters: counters, hop: hop)
            threads.append(SocketThread.start(name: name) { forwarder.run() })
        }
    }

    private static func socket(_ context: Context, _ hwm: Int, _ type: SocketType) throws -> Socket {
        let socket = try Socket(context, type)
        try socket.setSendHighWaterMark(hwm)
        try socket.setReceiveHighWaterMark(hwm)
        return socket
    }

    var diagnostics: String {
        "subject forwarded \(counters.subject.load(ordering: .relaxed)), worker \(counters.worker.load(ordering: .relaxed)), "
            + "im \(counters.im.load(ordering: .relaxed))"
    }

    func stop() {
        context.shutdown()
        for thread in threads { thread.join() }
        context.terminate()
    }
}

import Synchronization

/// One bare hop: moves every frame from `input` to `output` until the context shuts down.
/// `@unchecked Sendable`: made on the setup thread and from then on used only by the
/// forwarder thread it is handed to (libzmq sockets may migrate between threads with a full
/// barrier, which starting the thread is).
final class Forwarder: @unchecked Sendable {
    let input: Socket
    let output: Socket
    let counters: ForwardCounters
    let hop: ForwardCounters.Hop

    init(input: Socket, output: Socket, counters: ForwardCounters, hop: ForwardCounters.Hop) {
        self.input = input
        self.output = output
        self.counters = counters
        self.hop = hop
    }

    func run() {
        var scratch = Message()
        do {
            while true {
                if try input.forward(to: output, using: &scratch) == .received { counters.count(hop) }
            }
        } catch {}
        input.close()
        output.close()
    }
}

/// Messages each bare hop forwarded (relaxed atomics, like the ZManager's `CoreStatistics`,
/// so both sides pay a counter per hop).
final class ForwardCounters: Sendable {
    let subject = Atomic<Int>(0)
    let worker = Atomic<Int>(0)
    let im = Atomic<Int>(0)

    enum Hop: Sendable { case subject, worker, im }

    @inline(__always)
    func count(_ hop: Hop) {
        switch hop {
        case .subject: subject.add(1, ordering: .relaxed)
        case .worker: worker.add(1, ordering: .relaxed)
        case .im: im.add(1, ordering: .relaxed)
        }
    }
}
