import CZManagerShims
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
public import Logging
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
    let limits: RoleLimits
    /// The endpoints actually bound (wildcard ports resolved).
    public let pullEndpoint: String
    public let pubEndpoint: String
    /// Metadata `role=integration_manager`; cold paths only (``RoleLog``).
    let logger: Logger

    public init(context: Context, pullEndpoint: String, pubEndpoint: String,
                limits: RoleLimits = RoleLimits(), statistics: CoreStatistics,
                logger: Logger = Logger(label: "zmanager")) throws(ZMQError) {
        self.logger = RoleLog.logger(logger, role: "integration_manager")
        pull = try Socket(context, .pull)
        try pull.applyReceiveLimits(limits)
        try pull.bind(pullEndpoint)
        pub = try Socket(context, .pub)
        try pub.setSendHighWaterMark(limits.highWaterMark)
        try pub.bind(pubEndpoint)
        self.pullEndpoint = try pull.lastEndpoint
        self.pubEndpoint = try pub.lastEndpoint
        self.statistics = statistics
        self.limits = limits
    }

    /// Runs until the context shuts down.
    ///
    /// A ZManager message is one frame or two; both are received before anything is published,
    /// so that one larger than ``RoleLimits/maxMessageSize`` is refused whole (an `oversized`
    /// error instead, ``refuseOversized(_:_:)``). Further frames are published as they come, as
    /// before: the IM forwards what it is given.
    public func run() {
        var frame = Message()
        var second = Message()
        do {
            while true {
                guard try pull.receive(into: &frame) == .received else { continue }
                let two = frame.more
                if two { _ = try pull.receive(into: &second) }
                // One look at the first frame gives its size and what it ends (each libzmq
                // accessor is a call).
                let (firstSize, outcome) = frame.withUnsafeBytes { ($0.count, Self.outcome(of: $0)) }
                let size = two ? firstSize + second.count : firstSize
                if size > limits.maxMessageSize {
                    try refuseOversized(&frame, size, more: two && second.more)
                    continue
                }
                switch outcome {
                case .result?: statistics.results.add(1, ordering: .releasing)
                case .error(let kind)?:
                    statistics.errors.add(1, ordering: .releasing)
                    if let kind { statistics.errorsByKind.add(kind) }
                case .refusal?: statistics.errorsByKind.add(.draining)
                case nil: break
                }
                _ = try pub.send(&frame, more: two)
                if two {
                    var more = second.more
                    _ = try pub.send(&second, more: more)
                    while more {
                        _ = try pull.receive(into: &frame)
                        more = frame.more
                        _ = try pub.send(&frame, more: more)
                    }
                }
                statistics.published.add(1, ordering: .relaxed)
            }
        } catch {
            RoleLog.ended("Integration Manager", by: error, logger: logger)
        }
        pull.close()
        pub.close()
    }

    /// Publishes an `oversized` error in place of a message larger than the limit (its flow and
    /// id when its first frame is a header), drops the rest of its frames, and counts the error:
    /// it ends the message's flow.
    private func refuseOversized(_ first: inout Message, _ size: Int, more: Bool) throws(ZMQError) {
        let fields = first.withUnsafeBytes { bytes in (try? WireHeader.parse(bytes)).map { ($0, bytes) } }
        let flow = fields.map { $0.0.string(.config, in: $0.1) } ?? ""
        let id = fields.map { $0.0.string(.id, in: $0.1) } ?? ""
        let form: WireForm = first.more ? .split : .single
        var rest = more
        var scratch = Message()
        while rest {
            _ = try pull.receive(into: &scratch)
            rest = scratch.more
        }
        if !Outbound.sendError(.oversized, role: "Integration Manager", flow: flow, id: id,
                               text: "message of \(size) bytes exceeds the limit of \(limits.maxMessageSize)", form: form,
                               to: pub, encodeBody: formAwareErrorBody) {
            statistics.errorsNotSent.add(1, ordering: .relaxed)
        }
        statistics.errors.add(1, ordering: .releasing)
        statistics.errorsByKind.add(.oversized)
        statistics.published.add(1, ordering: .relaxed)
    }

    /// What ends a flow, as the drain counts it.
    enum Outcome: Equatable {
        /// `<flow>~<any>~~~done~<id>~`: a flow's result (not DigitalPy's `completed_command`
        /// answer, which continues a parked flow).
        case result
        /// `zmanager_error~ERROR~…`: an error that ends its flow (a `NOTICE` does not), with
        /// its kind (nil: a kind this build does not know, from a newer peer).
        case error(ErrorKind?)
        /// `zmanager_error~ERROR~…~draining~…`: a refusal, which ends no flow (the Subject
        /// started none) but is an error message all the same.
        case refusal
    }

    private static let emptySourceContextDone = StaticBytes("~~~done~")
    private static let errorConfig = StaticBytes(Topics.errorConfig)
    private static let errorDecorator = StaticBytes(Topics.errorDecorator)
    private static let completedCommand = StaticBytes(Topics.completedCommandConfig)
    private static let draining = StaticBytes(ErrorKind.draining.rawValue)

    /// Whether a published frame ends a flow; nil for everything else, and for a frame that is
    /// not a whole header (fewer than six `~`).
    ///
    /// Every message passes here, so it reads only what it needs: the first two `~` (config and
    /// decorator), then one word (`~~~done~`: empty source and context, action `done`), then
    /// one more `~` (the id's). A full header parse cost about 200 instructions per message.
    static func outcome(of frame: UnsafeRawBufferPointer) -> Outcome? {
        guard let base = frame.baseAddress else { return nil }
        var tildes: (Int64, Int64) = (0, 0)
        let found = withUnsafeMutablePointer(to: &tildes) {
            $0.withMemoryRebound(to: Int64.self, capacity: 2) {
                zm_find_tildes(base.assumingMemoryBound(to: UInt8.self), frame.count, 2, $0)
            }
        }
        guard found == 2 else { return nil }
        let configEnd = Int(tildes.0), decoratorEnd = Int(tildes.1)
        let config = UnsafeRawBufferPointer(start: base, count: configEnd)
        if errorConfig.equals(config) {
            let decorator = UnsafeRawBufferPointer(start: base + configEnd + 1, count: decoratorEnd - configEnd - 1)
            guard errorDecorator.equals(decorator), let fields = try? WireHeader.parse(frame) else { return nil }
            let kind = fields.bytes(.action, in: frame)
            // A `draining` refusal ends no flow: the Subject started none.
            if draining.equals(kind) { return .refusal }
            return .error(ErrorKind(rawValue: String(decoding: kind, as: UTF8.self)))
        }
        // `~~~done~` from the decorator's `~` on: the decorator's, source's and context's
        // terminators, `done`, and the action's terminator.
        let pattern = emptySourceContextDone.bytes.count
        let afterPattern = decoratorEnd + pattern
        guard afterPattern < frame.count,
              emptySourceContextDone.equals(UnsafeRawBufferPointer(start: base + decoratorEnd, count: pattern)),
              memchr(base + afterPattern, Int32(WireHeader.delimiter), frame.count - afterPattern) != nil,
              !completedCommand.equals(config)
        else { return nil }
        return .result
    }
}
