public import ZeroMQ

/// The Integration Manager: the single publisher. PULL in, PUB out.
///
/// It forwards every message exactly as received — each frame moved to the PUB socket, no
/// body copied — so Python subscribers get DigitalPy's bytes and Swift subscribers the
/// split form. Its only logic is counting: it looks at the header to count results and
/// errors, which is how a node knows when every accepted flow has finished (drain).
public final class IntegrationManager {
    let pull: Socket
    let pub: Socket
    let statistics: CoreStatistics
    /// The endpoints actually bound (wildcard ports resolved).
    public let pullEndpoint: String
    public let pubEndpoint: String

    public init(context: Context, pullEndpoint: String, pubEndpoint: String,
                limits: RoleLimits = RoleLimits(), statistics: CoreStatistics) throws(ZMQError) {
        pull = try Socket(context, .pull)
        try pull.setReceiveHighWaterMark(limits.highWaterMark)
        try pull.bind(pullEndpoint)
        pub = try Socket(context, .pub)
        try pub.setSendHighWaterMark(limits.highWaterMark)
        try pub.bind(pubEndpoint)
        self.pullEndpoint = try pull.lastEndpoint
        self.pubEndpoint = try pub.lastEndpoint
        self.statistics = statistics
    }

    private static let done = StaticBytes("done")
    private static let errorConfig = StaticBytes(Topics.errorConfig)
    private static let errorDecorator = StaticBytes(Topics.errorDecorator)
    private static let completedCommand = StaticBytes(Topics.completedCommandConfig)

    /// Runs until the context shuts down.
    public func run() {
        var frame = Message()
        do {
            while true {
                guard try pull.receive(into: &frame) == .received else { continue }
                countIfFinal(frame)
                var more = frame.more
                _ = try pub.send(&frame, more: more)
                while more {
                    _ = try pull.receive(into: &frame)
                    more = frame.more
                    _ = try pub.send(&frame, more: more)
                }
                statistics.published.add(1, ordering: .relaxed)
            }
        } catch {
            RoleLog.ended("Integration Manager", by: error)
        }
        pull.close()
        pub.close()
    }

    private func countIfFinal(_ frame: borrowing Message) {
        frame.withUnsafeBytes { bytes in
            guard let fields = try? WireHeader.parse(bytes) else { return }
            let action = fields.bytes(.action, in: bytes)
            if Self.errorConfig.equals(fields.bytes(.config, in: bytes)) {
                if Self.errorDecorator.equals(fields.bytes(.decorator, in: bytes)) {
                    statistics.errors.add(1, ordering: .releasing)
                }
            } else if Self.done.equals(action), fields.source.isEmpty, fields.context.isEmpty,
                      !Self.completedCommand.equals(fields.bytes(.config, in: bytes)) {
                // A DigitalPy party's `completed_command~~~~done~` answers a parked flow,
                // which goes on: it is not that flow's result.
                statistics.results.add(1, ordering: .releasing)
            }
        }
    }
}
