public import Logging
public import Synchronization
public import ZeroMQ

/// What the authenticator saw: handshakes on the secured (tcp, ipc) endpoints the node bound.
/// Each is counted once, from libzmq's handshake events.
public final class AuthenticationStatistics: Sendable {
    /// Peers whose handshake completed (an allowed CURVE key), the node's own sockets included.
    public let accepted = Atomic<Int>(0)
    /// Peers the ZAP handler refused: a key not on the allowed list, or another ZAP domain.
    public let refused = Atomic<Int>(0)
    /// Handshakes that failed before any key could be checked: a peer without CURVE, one that
    /// was given the wrong server key, or one not speaking ZMTP at all.
    public let failed = Atomic<Int>(0)

    public init() {}
}

/// The ZAP handler of a secured context (ZeroMQ's RFC 27, on `inproc://zeromq.zap.01`), and the
/// reader of its handshake monitors.
///
/// - **Who may connect.** libzmq asks it about every CURVE client of a binding socket; it
///   answers 200 for a key on the allowed list (or the server's own, which the node's internal
///   sockets present) in the configured ZAP domain, and 400 for anything else. The user id of
///   an accepted peer is its certificate's name.
/// - **Counted and logged.** Every handshake on a secured endpoint is counted in
///   ``statistics`` (accepted, refused, failed). A refusal is logged with the peer's address
///   and key, a failure with the endpoint and libzmq's reason, at most ``LogBudget/burst``
///   lines in a row and one a second after that (a refused peer reconnects every 100 ms).
///
/// Create it right after its ``Context`` and before any socket binds (the context refuses a
/// secured bind until then), and run ``run()`` on its own thread; it ends with the context.
public final class Authenticator {
    /// Where libzmq looks for a context's ZAP handler.
    public static let zapEndpoint = "inproc://zeromq.zap.01"

    let context: Context
    let zap: Socket
    let watch: HandshakeWatch
    let domain: String
    let allowed: [CurveKey: String]
    public let statistics: AuthenticationStatistics
    let logger: Logger
    var budget = LogBudget()

    /// Binds the ZAP handler.
    /// - Parameters:
    ///   - context: a context whose ``Context/security`` has a server key pair.
    ///   - allowed: the clients allowed in, each public key with the name logs use.
    /// - Throws: ``ZMQError`` (`EINVAL` for a context without a server key pair; `EADDRINUSE`
    ///   when the context already has a ZAP handler).
    public init(context: Context, allowed: [CurveKey: String], statistics: AuthenticationStatistics = AuthenticationStatistics(),
                logger: Logger = Logger(label: "zmanager")) throws(ZMQError) {
        guard let security = context.security, let server = security.server, let watch = context.handshakes else {
            throw ZMQError(code: .invalidArgument, operation: "Authenticator (a context without a CURVE server key pair)")
        }
        self.context = context
        self.watch = watch
        self.domain = security.zapDomain
        var allowed = allowed
        allowed[server.publicKey] = allowed[server.publicKey] ?? "self"
        self.allowed = allowed
        self.statistics = statistics
        self.logger = RoleLog.logger(logger, role: "authenticator")
        zap = try Socket(context, .rep)
        try zap.bind(Self.zapEndpoint)
        watch.zapHandlerBound = true
    }

    /// Answers ZAP requests and counts handshakes until the context shuts down.
    public func run() {
        var monitors: [(socket: Socket, endpoint: String)] = []
        do {
            var poller = try Poller([(zap, .readable)])
            while true {
                let new = watch.takeMonitors(context: context)
                if !new.isEmpty {
                    monitors += new
                    poller = try Poller([(zap, .readable)] + monitors.map { ($0.socket, .readable) })
                }
                // A bounded wait: a secured bind made meanwhile is picked up within 100 ms (its
                // events queue in the monitor's pipe until then).
                guard try poller.poll(timeout: .milliseconds(100)) > 0 else { continue }
                if poller.isReadable(0) {
                    while let request = try zap.receiveMultipart(dontWait: true) {
                        _ = try zap.send(multipart: answer(request))
                    }
                }
                for (index, monitor) in monitors.enumerated() where poller.isReadable(index + 1) {
                    while let frames = try monitor.socket.receiveMultipart(dontWait: true) {
                        guard frames.count == 2, let event = HandshakeEvent(eventFrame: frames[0], endpointFrame: frames[1]) else {
                            continue
                        }
                        record(event)
                    }
                }
            }
        } catch {
            RoleLog.ended("Authenticator", by: error, logger: logger)
        }
        zap.close()
        for monitor in monitors { monitor.socket.close() }
    }

    /// The ZAP reply to `request` (RFC 27: version, request id, domain, address, identity,
    /// mechanism, credentials…): version, request id, status code, status text, user id,
    /// metadata.
    func answer(_ request: [[UInt8]]) -> [[UInt8]] {
        let version = Array("1.0".utf8)
        func reply(_ id: [UInt8], _ code: String, _ text: String, user: String = "") -> [[UInt8]] {
            [version, id, Array(code.utf8), Array(text.utf8), Array(user.utf8), []]
        }
        guard request.count >= 6, request[0] == version else {
            return reply(request.count > 1 ? request[1] : [], "500", "malformed ZAP request")
        }
        let id = request[1]
        let requestDomain = String(decoding: request[2], as: UTF8.self)
        let address = String(decoding: request[3], as: UTF8.self)
        let mechanism = String(decoding: request[5], as: UTF8.self)
        guard mechanism == "CURVE", request.count == 7, let key = CurveKey(bytes: request[6]) else {
            refuse(address: address, key: nil, reason: "mechanism \(mechanism) is not allowed")
            return reply(id, "400", "CURVE required")
        }
        guard requestDomain == domain else {
            refuse(address: address, key: key, reason: "ZAP domain \"\(requestDomain)\" is not \"\(domain)\"")
            return reply(id, "400", "unknown domain")
        }
        guard let name = allowed[key] else {
            refuse(address: address, key: key, reason: "key not allowed")
            return reply(id, "400", "key not allowed")
        }
        logger.debug("CURVE client accepted", metadata: ["client": .string(name), "address": .string(address)])
        return reply(id, "200", "OK", user: name)
    }

    private func refuse(address: String, key: CurveKey?, reason: String) {
        guard let suppressed = budget.take(ContinuousClock.now) else { return }
        var metadata: Logger.Metadata = ["address": .string(address), "reason": .string(reason)]
        if let key { metadata["key"] = .string(key.z85) }
        if suppressed > 0 { metadata["suppressed"] = .stringConvertible(suppressed) }
        logger.warning("CURVE client refused", metadata: metadata)
    }

    func record(_ event: HandshakeEvent) {
        switch event.kind {
        case .succeeded:
            statistics.accepted.add(1, ordering: .relaxed)
        case .refused:
            statistics.refused.add(1, ordering: .relaxed)  // logged with its key by `answer`
        case .protocolError(let code):
            statistics.failed.add(1, ordering: .relaxed)
            logFailure(event.endpoint, HandshakeEvent.protocolErrorName(code))
        case .failed(let errno):
            statistics.failed.add(1, ordering: .relaxed)
            logFailure(event.endpoint, "errno \(errno)")
        }
    }

    private func logFailure(_ endpoint: String, _ reason: String) {
        guard let suppressed = budget.take(ContinuousClock.now) else { return }
        var metadata: Logger.Metadata = ["endpoint": .string(endpoint), "reason": .string(reason)]
        if suppressed > 0 { metadata["suppressed"] = .stringConvertible(suppressed) }
        logger.warning("handshake failed", metadata: metadata)
    }
}

/// A token bucket for log lines about peers: ``burst`` lines at once, then one per second; the
/// line that follows a quiet spell says how many were left out.
struct LogBudget {
    static let burst = 10
    private var tokens = Double(burst)
    private var last: ContinuousClock.Instant?
    private var suppressed = 0

    /// nil: do not log this one. Otherwise how many were suppressed since the last line.
    mutating func take(_ now: ContinuousClock.Instant) -> Int? {
        if let last {
            let elapsed = now - last
            tokens = min(Double(Self.burst), tokens + Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
        }
        last = now
        guard tokens >= 1 else {
            suppressed += 1
            return nil
        }
        tokens -= 1
        let left = suppressed
        suppressed = 0
        return left
    }
}
