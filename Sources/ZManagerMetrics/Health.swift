public import ZManager

/// A readiness verdict: `/health` answers 200 with `ok`, or 503 with the one-line reason.
public struct Health: Sendable, Equatable {
    public var isReady: Bool
    public var reason: String

    public static let ready = Health(isReady: true, reason: "ok")
    public static func notReady(_ reason: String) -> Health { Health(isReady: false, reason: reason) }

    /// A serve node is ready when its Subject and Integration Manager (and, with CURVE, its
    /// authenticator) run, it is not
    /// draining, the Subject reads its front (no backpressure), and at least one worker is
    /// there to take steps.
    ///
    /// - Parameters:
    ///   - workerProcesses: `zmanager worker` processes that serve started and that run.
    ///   - reliable: whether dispatch is reliable; then the Subject's count of registered
    ///     workers decides (it sees every worker, wherever it runs). With fast dispatch the
    ///     Subject's PUSH socket has no list of its peers, so only the workers this serve
    ///     runs (threads, processes) are counted.
    public static func node(roles: ZManagerNode.RoleStatus, statistics: CoreStatistics, intake: IntakeControl,
                            workerProcesses: Int, reliable: Bool) -> Health {
        guard roles.subject else { return .notReady("the Subject is not running") }
        guard roles.integrationManager else { return .notReady("the Integration Manager is not running") }
        if roles.authenticator == false { return .notReady("the authenticator (ZAP handler) is not running: no CURVE peer can connect") }
        if intake.isClosed { return .notReady("draining: the Subject takes no new flows") }
        if statistics.intakePaused.load(ordering: .relaxed) {
            let waiting = statistics.waitingForWorkers.load(ordering: .relaxed)
            return .notReady("the Subject is blocked: \(waiting) steps wait for a worker and it stopped reading its front")
        }
        let workers = reliable ? statistics.workersConnected.load(ordering: .relaxed) : roles.workerThreads + workerProcesses
        guard workers > 0 else {
            return .notReady(reliable ? "no worker is connected" : "no worker is running (fast dispatch counts only the workers serve runs)")
        }
        return .ready
    }
}
