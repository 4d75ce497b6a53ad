public import Synchronization

/// Counters the roles update on their hot paths (relaxed atomics, no locks) and anyone may
/// read: tests, `zmanager serve`'s drain, the harness.
///
/// The counters are grouped by the thread that writes them (Subject, workers, Integration
/// Manager) and the groups are kept 128 bytes apart: on one cache line, three threads
/// incrementing their own counters would bounce the line between cores on every message
/// (false sharing), which measured as a large part of the core's per-message CPU.
public final class CoreStatistics: Sendable {
    private let leadingPadding: CacheLinePadding = .init()

    // Written by the Subject.
    /// Messages the Subject took in.
    public let subjectReceived = Atomic<Int>(0)
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

    private let subjectPadding: CacheLinePadding = .init()

    // Written by the workers.
    /// Messages the workers took in.
    public let workerReceived = Atomic<Int>(0)
    /// Handler executions.
    public let handlerCalls = Atomic<Int>(0)

    private let workerPadding: CacheLinePadding = .init()

    // Written by the Integration Manager.
    /// Messages the Integration Manager published.
    public let published = Atomic<Int>(0)
    /// Flow results (`??done`) the Integration Manager published.
    public let results = Atomic<Int>(0)
    /// Error messages the Integration Manager published.
    public let errors = Atomic<Int>(0)

    private let trailingPadding: CacheLinePadding = .init()

    public init() {}

    /// Flows started and not yet finished by a result or an error. Exact once the roles are
    /// quiet; the drain waits for it to reach zero.
    public var inFlight: Int {
        flowsStarted.load(ordering: .acquiring) - results.load(ordering: .acquiring) - errors.load(ordering: .acquiring)
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
