/// How the Subject hands steps to its workers.
///
/// - ``Mode/fast``: a bound PUSH that libzmq round-robins, DigitalPy's wire. A step dealt to a
///   worker that dies is lost with it (up to a high-water mark of them); nobody is told.
/// - ``Mode/reliable``: the Subject knows which worker holds which step (credit-based
///   ROUTER/DEALER, ``ReliableDispatch``); a step whose worker dies or goes silent is dealt
///   again to another, a result reaches services once, and a step that keeps losing its
///   workers ends in ``ErrorKind/workerLost``. Every output of a worker then travels back
///   through the Subject (docs/PROTOCOL.md, "Reliable dispatch"), which costs throughput:
///   docs/PERFORMANCE.md has the figures.
///
/// Workers and the Subject must use the same mode: `zmanager worker` reads it from the same
/// configuration file as `serve`.
public struct DispatchOptions: Sendable, Equatable {
    public enum Mode: String, Sendable, CaseIterable, Codable {
        case fast
        case reliable
    }

    public var mode = Mode.fast
    /// Reliable mode: steps one worker holds at once (its queue and the step it runs). A
    /// worker asks for this many when it connects and gets one back per step it finishes, so
    /// a slow worker is not dealt more than this, and at most this many are redelivered
    /// when it dies.
    public var credit = 64
    /// Reliable mode: how often the Subject checks that each worker is still connected, and
    /// the ZMTP heartbeat interval on tcp and ipc.
    public var heartbeat: Duration = .milliseconds(250)
    /// Reliable mode: a peer silent this long (no ZMTP heartbeat answered: a host gone, a
    /// process stopped) is disconnected, and its steps are dealt again.
    public var heartbeatTimeout: Duration = .seconds(2)
    /// Reliable mode: how many workers may lose the same step before it fails with
    /// ``ErrorKind/workerLost`` (a step that kills every worker it reaches stops there).
    public var maxAttempts = 3

    public init(mode: Mode = .fast, credit: Int = 64, heartbeat: Duration = .milliseconds(250),
                heartbeatTimeout: Duration = .seconds(2), maxAttempts: Int = 3) {
        self.mode = mode
        self.credit = credit
        self.heartbeat = heartbeat
        self.heartbeatTimeout = heartbeatTimeout
        self.maxAttempts = maxAttempts
    }
}
