public import Synchronization

/// Counters the roles update on their hot paths (relaxed atomics, no locks) and anyone may
/// read: tests, `zmanager serve`'s drain, the harness.
public final class CoreStatistics: Sendable {
    /// Messages the Subject took in.
    public let subjectReceived = Atomic<Int>(0)
    /// Flows the Subject started (`Push` accepted).
    public let flowsStarted = Atomic<Int>(0)
    /// Messages the workers took in.
    public let workerReceived = Atomic<Int>(0)
    /// Handler executions.
    public let handlerCalls = Atomic<Int>(0)
    /// Messages the Integration Manager published.
    public let published = Atomic<Int>(0)
    /// Flow results (`??done`) the Integration Manager published.
    public let results = Atomic<Int>(0)
    /// Error messages the Integration Manager published.
    public let errors = Atomic<Int>(0)
    /// Flows parked at an ASYNC step right now.
    public let parked = Atomic<Int>(0)

    public init() {}

    /// Flows started and not yet finished by a result or an error. Exact once the roles are
    /// quiet; the drain waits for it to reach zero.
    public var inFlight: Int {
        flowsStarted.load(ordering: .acquiring) - results.load(ordering: .acquiring) - errors.load(ordering: .acquiring)
    }
}
