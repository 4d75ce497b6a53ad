public import Synchronization
public import ZeroMQ

/// Counters the roles update on their hot paths (relaxed atomics, no locks) and anyone may
/// read: tests, `zmanager serve`'s drain, the harness.
///
/// The counters are grouped by the thread that writes them (Subject, workers, Integration
/// Manager) and the groups are kept 128 bytes apart: on one cache line, three threads
/// incrementing their own counters would bounce the line between cores on every message
/// (false sharing), which measured as a large part of the core's per-message CPU.
///
/// The roles add with `wrappingAdd`: `add` traps on overflow, which compiles to a
/// compare-and-swap loop with an overflow check, where `wrappingAdd` is one `lock xadd` (a
/// 64-bit count does not wrap in practice). Messages sent are counted by the sockets
/// (``MessageCounter``).
public final class CoreStatistics: Sendable {
    private let leadingPadding: CacheLinePadding = .init()

    // Written by the Subject.
    /// Messages the Subject took in.
    public let subjectReceived = Atomic<Int>(0)
    /// Messages the Subject sent whole, to the workers and to the Integration Manager
    /// (reliable dispatch's probes and receipts included); its sockets count them.
    public let subjectSent = MessageCounter()
    /// Flows the Subject started (`Push` accepted).
    public let flowsStarted = Atomic<Int>(0)
    /// Flows parked at an ASYNC step right now.
    public let parked = Atomic<Int>(0)
    /// Steps waiting at the Subject for a worker to take them right now.
    public let waitingForWorkers = Atomic<Int>(0)
    /// ASYNC answers that arrived before their park and continued the flow when it came.
    public let earlyAnswersUsed = Atomic<Int>(0)
    /// Reliable dispatch: steps dealt again because the worker holding them was lost.
    public let redelivered = Atomic<Int>(0)
    /// Reliable dispatch: workers found gone (process died, host silent, socket closed).
    public let workersLost = Atomic<Int>(0)
    /// Reliable dispatch: outputs of a step dealt again since, dropped so that services see one.
    public let staleOutputsDropped = Atomic<Int>(0)
    /// Reliable dispatch: workers registered (said `ready`) and not lost since. Fast dispatch
    /// deals through a PUSH socket, which has no list of its peers: there it stays 0.
    public let workersConnected = Atomic<Int>(0)
    /// Whether the Subject has stopped reading its front because every place a step can wait
    /// is taken (the backlog, or reliable dispatch's slots, by count or bytes): backpressure.
    /// Written on a change only.
    public let intakePaused = Atomic<Bool>(false)

    private let subjectPadding: CacheLinePadding = .init()

    // Written by the workers.
    /// Messages the workers took in.
    public let workerReceived = Atomic<Int>(0)
    /// Messages the workers sent whole (results, steps, errors; with reliable dispatch also
    /// ready, receipts and heartbeat answers); their sockets count them.
    public let workerSent = MessageCounter()
    /// Handler executions.
    public let handlerCalls = Atomic<Int>(0)

    private let workerPadding: CacheLinePadding = .init()

    // Written by the Integration Manager.
    /// Messages the Integration Manager published.
    public let published = Atomic<Int>(0)
    /// Messages the Integration Manager took in (each counted once, whatever its frames).
    public let integrationManagerReceived = Atomic<Int>(0)
    /// Flow results (`??done`) the Integration Manager published.
    public let results = Atomic<Int>(0)
    /// Error messages the Integration Manager published that end a flow (every kind but
    /// `draining`, whose flow never started), and the steps it could not publish
    /// (``ErrorKind/noSubscriber``, ``ErrorKind/subscriberFull``), which end theirs.
    public let errors = Atomic<Int>(0)
    /// Error messages the Integration Manager published, by kind (`draining` included):
    /// counted on the error path only.
    public let errorsByKind = ErrorCounts()
    /// Messages the Integration Manager could not publish because a subscriber of their topic
    /// was at its high-water mark (``ErrorKind/subscriberFull``). Written on that path only.
    public let publishDropped = Atomic<Int>(0)
    /// Results and errors that end no open flow, published but not counted as ends (in
    /// ``results`` or ``errors``), so that ``inFlight`` stays exact: a flow finished a second
    /// time, an error for a message no `Push` started. Only the deadlines' table
    /// (``RoleLimits/flowTimeout``) tells them apart; without it they count as ends.
    public let endsOutsideFlows = Atomic<Int>(0)
    /// Messages of flows that had ended with ``ErrorKind/flowTimeout`` (a late result, error or
    /// step), which the Integration Manager dropped.
    public let lateMessagesDropped = Atomic<Int>(0)
    /// Error messages a role (Subject, worker, Integration Manager) could not send: the send
    /// threw (or, at the Integration Manager, a subscriber of the error topic was full), so no
    /// service will see them. Written on error paths only, by any role thread.
    public let errorsNotSent = Atomic<Int>(0)
    /// `serve`'s reloads of the flows and mappings (SIGHUP) that took effect, and those refused
    /// for an error in the files (the running ones kept). Written by serve's main thread.
    public let reloads = Atomic<Int>(0)
    public let reloadsRefused = Atomic<Int>(0)

    private let trailingPadding: CacheLinePadding = .init()

    public init() {}

    /// Flows started and not yet finished by a result or an error; never negative. The drain
    /// waits for it to reach zero.
    ///
    /// Exact once the roles are quiet when ``RoleLimits/flowTimeout`` is set: the Integration
    /// Manager then counts only the ends of open flows (``endsOutsideFlows``). Without it, an end
    /// of a flow no `Push` started (docs/PROTOCOL.md, known gaps) counts against the started
    /// ones, and the count is low by as many.
    public var inFlight: Int {
        // Ends are read before starts: a flow that starts and ends between the two loads then
        // adds to the count (the drain waits a little longer) instead of taking from it.
        let ended = results.load(ordering: .acquiring) + errors.load(ordering: .acquiring)
        return max(0, flowsStarted.load(ordering: .acquiring) - ended)
    }
}

/// Error messages by ``ErrorKind``, one relaxed atomic per kind. Written by the Integration
/// Manager's thread on its error path, read by anyone.
public final class ErrorCounts: @unchecked Sendable {
    // Atomics cannot live in an Array (they are ~Copyable): one fixed block, indexed by the
    // kind's position in `ErrorKind.allCases`, allocated once and freed in deinit.
    // @unchecked Sendable: the pointer is written once, in init; afterwards threads touch only
    // the atomics it points to.
    private let counts: UnsafeMutablePointer<Atomic<Int>>
    private static let kinds = ErrorKind.allCases

    init() {
        counts = .allocate(capacity: Self.kinds.count)
        for index in Self.kinds.indices { (counts + index).initialize(to: Atomic(0)) }
    }

    deinit {
        counts.deinitialize(count: Self.kinds.count)
        counts.deallocate()
    }

    func add(_ kind: ErrorKind) {
        guard let index = Self.kinds.firstIndex(of: kind) else { return }
        counts[index].wrappingAdd(1, ordering: .relaxed)
    }

    /// The count of `kind`.
    public subscript(kind: ErrorKind) -> Int {
        guard let index = Self.kinds.firstIndex(of: kind) else { return 0 }
        return counts[index].load(ordering: .relaxed)
    }
}

/// The node's request to close the Subject's intake (the first step of a drain), and the
/// Subject's answer that it has. Shared between the node and the Subject's thread.
public final class IntakeControl: Sendable {
    /// Set by the drain: stop starting flows once the messages queued at the front are taken.
    let closeRequested = Atomic<Bool>(false)
    /// Set by the Subject once it refuses every new `Push` with ``ErrorKind/draining``.
    let closed = Atomic<Bool>(false)
    /// How long, at most, the Subject goes on starting flows queued at its front after the
    /// request (it closes at once when the front is empty).
    let grace: Duration

    public init(grace: Duration = .milliseconds(500)) { self.grace = grace }

    public var isClosed: Bool { closed.load(ordering: .acquiring) }
}

/// 128 bytes of nothing: two cache lines, because x86's adjacent-line prefetcher fetches
/// lines in pairs.
struct CacheLinePadding: Sendable {
    private let words: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
                        UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)
        = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
}
