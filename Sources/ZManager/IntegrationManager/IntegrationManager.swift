import CZManagerShims
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
public import Logging
public import ZeroMQ

/// The Integration Manager: the single publisher. PULL in, XPUB out.
///
/// It forwards every message exactly as received — each frame moved to the publishing socket,
/// no body copied — so Python subscribers get DigitalPy's bytes and Swift subscribers the
/// split form. It looks at the header to count results and errors, which is how a node knows
/// when every accepted flow has finished (drain), and it drops nothing in silence:
/// - the socket is an XPUB with `ZMQ_XPUB_NODROP`, so a message a subscriber of its topic has
///   no room for is refused rather than lost for that subscriber unseen; the IM counts it
///   (``CoreStatistics/publishDropped``) and publishes ``ErrorKind/subscriberFull`` instead;
/// - the XPUB reports subscriptions, so a step handed to a service (anything but a result, an
///   error or the core's own topics) that nobody subscribes to ends its flow with
///   ``ErrorKind/noSubscriber`` instead of waiting forever. A published copy (``CopyMarker``)
///   may go unheard. With a multicast group (``MulticastOptions``) nobody's subscriptions are
///   known, and every step counts as heard.
public final class IntegrationManager {
    let pull: Socket
    let pub: Socket
    let statistics: CoreStatistics
    let limits: RoleLimits
    /// What the XPUB reported subscribed (the IM's thread only).
    var subscriptions = Subscriptions()
    /// How many messages pass between reads of the XPUB's subscription messages when no step
    /// needs them sooner: they queue inside libzmq until read.
    static let subscriptionReadInterval = 1_024
    /// The flows' deadlines (``RoleLimits/flowTimeout``), shared with the Subject; nil: none.
    let flowDeadlines: FlowDeadlines?
    /// How often, at most, the IM looks for flows past their deadline (the IM's thread only).
    static let deadlineCheckInterval: Duration = .milliseconds(10)
    var nextDeadlineCheck = ContinuousClock.now
    /// The endpoints actually bound (wildcard ports resolved).
    public let pullEndpoint: String
    public let pubEndpoint: String
    /// The multicast group the publication also goes to (``MulticastOptions``); nil: none.
    public let multicastEndpoint: String?
    /// Metadata `role=integration_manager`; cold paths only (``RoleLog``).
    let logger: Logger

    /// - Parameters:
    ///   - multicastEndpoint: a PGM group (`epgm://INTERFACE;GROUP:PORT`) the publication also
    ///     goes to, sent with `multicast`'s rate, recovery interval and hops; nil: none.
    public init(context: Context, pullEndpoint: String, pubEndpoint: String,
                limits: RoleLimits = RoleLimits(), statistics: CoreStatistics, flowDeadlines: FlowDeadlines? = nil,
                multicastEndpoint: String? = nil, multicast: MulticastOptions = MulticastOptions(),
                logger: Logger = Logger(label: "zmanager")) throws(ZMQError) {
        self.logger = RoleLog.logger(logger, role: "integration_manager")
        self.flowDeadlines = flowDeadlines
        pull = try Socket(context, .pull)
        try pull.applyReceiveLimits(limits)
        // Idle, the IM wakes up to read subscription messages (and, with deadlines, to end
        // the flows past theirs).
        try pull.setReceiveTimeout(flowDeadlines == nil ? .milliseconds(100) : Self.deadlineCheckInterval)
        try pull.bind(pullEndpoint)
        pub = try Socket(context, .xpub)
        try pub.setSendHighWaterMark(limits.highWaterMark)
        try pub.setXPubNoDrop(true)
        try pub.bind(pubEndpoint)
        self.pullEndpoint = try pull.lastEndpoint
        self.pubEndpoint = try pub.lastEndpoint
        if let multicastEndpoint {
            // Options first: libzmq reads them when it opens the PGM socket, at bind (which for
            // PGM is the same as connect).
            try pub.applyMulticast(multicast)
            try pub.bind(multicastEndpoint)
            subscriptions.everything = true
        }
        self.multicastEndpoint = multicastEndpoint
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
        var scratch = Message()
        var untilSubscriptions = Self.subscriptionReadInterval
        var results = ResultKeyMemo()
        do {
            while true {
                untilSubscriptions -= 1
                if untilSubscriptions == 0 {
                    untilSubscriptions = Self.subscriptionReadInterval
                    try readSubscriptions(&scratch)
                }
                // No clock value lives in this loop: `ContinuousClock.Instant` is resilient, and
                // holding one here cost the path without deadlines about 65 instructions per
                // message (callgrind). The deadline paths read the clock themselves.
                if flowDeadlines != nil { expireFlows() }
                guard try pull.receive(into: &frame) == .received else {
                    try readSubscriptions(&scratch)
                    continue
                }
                statistics.integrationManagerReceived.wrappingAdd(1, ordering: .relaxed)
                // One look at the first frame gives its size and what it ends (each libzmq
                // accessor is a call).
                var bytes = frame.withUnsafeBytes { $0 }
                var (firstSize, outcome) = (bytes.count, results.outcome(of: bytes))
                var copy = false
                if firstSize == 2, outcome == nil, frame.more, frame.withUnsafeBytes({ $0[0] == 0 && $0[1] == CopyMarker.verb }) {
                    copy = true
                    _ = try pull.receive(into: &frame)
                    bytes = frame.withUnsafeBytes { $0 }
                    (firstSize, outcome) = (bytes.count, results.outcome(of: bytes))
                }
                let two = frame.more
                if two { _ = try pull.receive(into: &second) }
                let size = two ? firstSize + second.count : firstSize
                if size > limits.maxMessageSize {
                    try refuseOversized(&frame, size, more: two && second.more)
                    continue
                }
                // With deadlines the IM knows which flows are open: an end of none is published but
                // not counted as an end (``CoreStatistics/endsOutsideFlows``).
                var endsOpenFlow = true
                if flowDeadlines != nil, outcome != nil, outcome != .refusal {
                    switch try end(&frame, step: outcome == .step, result: outcome == .result, more: two && second.more, &scratch) {
                    case .late: continue
                    case .outsideFlow: endsOpenFlow = false
                    case .open: break
                    }
                }
                switch outcome {
                case .result?:
                    if endsOpenFlow { statistics.results.wrappingAdd(1, ordering: .releasing) } else { statistics.endsOutsideFlows.wrappingAdd(1, ordering: .relaxed) }
                case .error(let kind)?:
                    if endsOpenFlow { statistics.errors.wrappingAdd(1, ordering: .releasing) } else { statistics.endsOutsideFlows.wrappingAdd(1, ordering: .relaxed) }
                    if let kind { statistics.errorsByKind.add(kind) }
                case .refusal?: statistics.errorsByKind.add(.draining)
                case .step?:
                    if !copy, try !heard(frame, &scratch) {
                        try endUnpublished(.noSubscriber, &frame, split: two, more: two && second.more, &scratch)
                        continue
                    }
                case nil: break
                }
                // NODROP: a full subscriber of this topic refuses the whole message. Once the
                // first frame is taken, the rest are (libzmq checks the high-water mark per
                // message), so they are sent without DONTWAIT.
                guard try pub.send(&frame, more: two, dontWait: true) == .sent else {
                    try endUnpublished(.subscriberFull, &frame, split: two, more: two && second.more, &scratch,
                                       endsFlow: outcome == .step)
                    continue
                }
                if two {
                    var more = second.more
                    _ = try pub.send(&second, more: more)
                    while more {
                        _ = try pull.receive(into: &frame)
                        more = frame.more
                        _ = try pub.send(&frame, more: more)
                    }
                }
                statistics.published.wrappingAdd(1, ordering: .relaxed)
            }
        } catch {
            RoleLog.ended("Integration Manager", by: error, logger: logger)
        }
        pull.close()
        pub.close()
    }

    /// With deadlines: what the message ends. A result or an error ends its open flow here, or
    /// ends none (``FlowDeadlines/End/outsideFlow``); a step is `.open` unless its flow was ended
    /// by its deadline. A late message's other frames are read, and it is dropped and counted.
    private func end(_ first: inout Message, step: Bool, result: Bool, more: Bool,
                     _ scratch: inout Message) throws(ZMQError) -> FlowDeadlines.End {
        guard let flowDeadlines else { return .open }
        let end: FlowDeadlines.End = first.withUnsafeBytes { bytes in
            let id = (try? WireHeader.parse(bytes)).map { $0.bytes(.id, in: bytes) } ?? UnsafeRawBufferPointer(start: nil, count: 0)
            return step ? (flowDeadlines.isTimedOut(id: id) ? .late : .open) : flowDeadlines.ended(id: id, result: result)
        }
        guard end == .late else { return end }
        try dropRest(more: more, &scratch)
        statistics.lateMessagesDropped.wrappingAdd(1, ordering: .relaxed)
        return end
    }

    /// Ends the flows past their deadline with ``ErrorKind/flowTimeout`` (at most every
    /// ``deadlineCheckInterval``: one clock read per message while deadlines are on).
    private func expireFlows() {
        guard let flowDeadlines else { return }
        let now = ContinuousClock.now
        guard now >= nextDeadlineCheck else { return }
        nextDeadlineCheck = now + Self.deadlineCheckInterval
        for flow in flowDeadlines.expire(now: now) {
            statistics.errors.wrappingAdd(1, ordering: .releasing)
            statistics.errorsByKind.add(.flowTimeout)
            if Outbound.sendError(.flowTimeout, role: "Integration Manager", flow: flow.flow, id: flow.id,
                                  text: "the flow did not end within \(flowDeadlines.timeout) of its start", form: flow.form,
                                  to: pub, encodeBody: formAwareErrorBody, dontWait: true) {
                statistics.published.wrappingAdd(1, ordering: .relaxed)
            } else {
                statistics.errorsNotSent.wrappingAdd(1, ordering: .relaxed)
            }
        }
    }

    /// Reads and drops the rest of a message whose last frame read had MORE set (`more`).
    private func dropRest(more: Bool, _ scratch: inout Message) throws(ZMQError) {
        var rest = more
        while rest {
            _ = try pull.receive(into: &scratch)
            rest = scratch.more
        }
    }

    /// Reads every subscription message the XPUB holds into ``subscriptions``.
    private func readSubscriptions(_ scratch: inout Message) throws(ZMQError) {
        while try pub.receive(into: &scratch, dontWait: true) == .received {
            scratch.withUnsafeBytes { subscriptions.apply($0) }
        }
    }

    /// Whether anyone subscribes to the message's topic, with every subscription reported so
    /// far applied first. (A subscription still on its way is not seen: a PUB would have
    /// dropped the message for that subscriber too.)
    private func heard(_ frame: borrowing Message, _ scratch: inout Message) throws(ZMQError) -> Bool {
        try readSubscriptions(&scratch)
        return frame.withUnsafeBytes { subscriptions.matches($0) }
    }

    /// A message the IM does not publish (`no_subscriber`, `subscriber_full`): its other frames
    /// are read and dropped, it is counted, and an error with its flow and id is published in
    /// its place (with DONTWAIT: a subscriber of the error topic may be full too, and the IM
    /// must not wait for it). A step handed to a service ends its flow here; a result or an
    /// error was counted as the end of its flow already.
    private func endUnpublished(_ kind: ErrorKind, _ first: inout Message, split: Bool, more: Bool,
                                _ scratch: inout Message, endsFlow: Bool = true) throws(ZMQError) {
        let (flow, id, topic) = first.withUnsafeBytes { bytes in
            guard let fields = try? WireHeader.parse(bytes) else { return ("", "", "") }
            return (fields.string(.config, in: bytes), fields.string(.id, in: bytes),
                    String(decoding: bytes[..<fields.id.lowerBound], as: UTF8.self))
        }
        try dropRest(more: more, &scratch)
        if endsFlow {
            // A step pushed straight to the IM outside any flow (a broadcast nobody hears) ends
            // none; only the deadlines' table can tell.
            let open = flowDeadlines.map { $0.ended(id: id) == .open } ?? true
            if open { statistics.errors.wrappingAdd(1, ordering: .releasing) } else { statistics.endsOutsideFlows.wrappingAdd(1, ordering: .relaxed) }
        }
        statistics.errorsByKind.add(kind)
        let text: String
        if kind == .noSubscriber {
            text = "nobody subscribes to \(topic): the step would reach no service"
        } else {
            let dropped = statistics.publishDropped.wrappingAdd(1, ordering: .relaxed).newValue
            text = "a subscriber to \(topic) is at its high-water mark (\(limits.highWaterMark) messages): the message was dropped"
            // Powers of two: the first drop and then ever fewer lines under sustained overload.
            if dropped & (dropped - 1) == 0 {
                logger.warning("dropped a message for a full subscriber",
                               metadata: ["flow": .string(flow), "id": .string(id), "dropped_total": .stringConvertible(dropped)])
            }
        }
        if Outbound.sendError(kind, role: "Integration Manager", flow: flow, id: id, text: text,
                              form: split ? .split : .single, to: pub, encodeBody: formAwareErrorBody, dontWait: true) {
            statistics.published.wrappingAdd(1, ordering: .relaxed)
        } else {
            statistics.errorsNotSent.wrappingAdd(1, ordering: .relaxed)
        }
    }

    /// Publishes an `oversized` error in place of a message larger than the limit (its flow and
    /// id when its first frame is a header), drops the rest of its frames, and counts the error:
    /// it ends the message's flow.
    private func refuseOversized(_ first: inout Message, _ size: Int, more: Bool) throws(ZMQError) {
        let fields = first.withUnsafeBytes { bytes in (try? WireHeader.parse(bytes)).map { ($0, bytes) } }
        let flow = fields.map { $0.0.string(.config, in: $0.1) } ?? ""
        let id = fields.map { $0.0.string(.id, in: $0.1) } ?? ""
        let form: WireForm = first.more ? .split : .single
        var scratch = Message()
        try dropRest(more: more, &scratch)
        let end = flowDeadlines?.ended(id: id) ?? .open
        if end == .late {
            // Its flow ended by its deadline already: a second end would reach the service.
            statistics.lateMessagesDropped.wrappingAdd(1, ordering: .relaxed)
            return
        }
        // Without waiting, as every send of the IM's own: with NODROP a full subscriber of the
        // error topic would block the IM.
        if Outbound.sendError(.oversized, role: "Integration Manager", flow: flow, id: id,
                              text: "message of \(size) bytes exceeds the limit of \(limits.maxMessageSize)", form: form,
                              to: pub, encodeBody: formAwareErrorBody, dontWait: true) {
            statistics.published.wrappingAdd(1, ordering: .relaxed)
        } else {
            statistics.errorsNotSent.wrappingAdd(1, ordering: .relaxed)
        }
        if end == .open { statistics.errors.wrappingAdd(1, ordering: .releasing) } else { statistics.endsOutsideFlows.wrappingAdd(1, ordering: .relaxed) }
        statistics.errorsByKind.add(.oversized)
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
        /// A whole header that is none of the above and not one of the core's own topics
        /// (`zmanager_control`, `zmanager_async`, `completed_command`): a step handed to a
        /// service, which must have a subscriber.
        case step
    }

    private static let emptySourceContextDone = StaticBytes("~~~done~")
    private static let errorConfig = StaticBytes(Topics.errorConfig)
    private static let errorDecorator = StaticBytes(Topics.errorDecorator)
    private static let completedCommand = StaticBytes(Topics.completedCommandConfig)
    private static let controlConfig = StaticBytes(Topics.controlConfig)
    private static let asyncConfig = StaticBytes(Topics.asyncConfig)
    private static let draining = StaticBytes(ErrorKind.draining.rawValue)

    /// Whether a published frame ends a flow or is a step for a service; nil for everything
    /// else, and for a frame that is not a whole header (fewer than six `~`).
    ///
    /// Every message passes here, so it reads only what it needs: the first two `~` (config and
    /// decorator), then one word (`~~~done~`: empty source and context, action `done`), then
    /// one more `~` (the id's). A full header parse cost about 200 instructions per message;
    /// only steps, which are not on the result path, pay for one.
    static func outcome(of frame: UnsafeRawBufferPointer) -> Outcome? { classify(frame).outcome }

    /// ``outcome(of:)``, and for a result the length of its key part (the bytes before the
    /// id, `config~decorator~~~done~`), which ``ResultKeyMemo`` remembers; 0 otherwise.
    static func classify(_ frame: UnsafeRawBufferPointer) -> (outcome: Outcome?, resultKeyCount: Int) {
        guard let base = frame.baseAddress else { return (nil, 0) }
        var tildes: (Int64, Int64) = (0, 0)
        let found = withUnsafeMutablePointer(to: &tildes) {
            $0.withMemoryRebound(to: Int64.self, capacity: 2) {
                zm_find_tildes(base.assumingMemoryBound(to: UInt8.self), frame.count, 2, $0)
            }
        }
        guard found == 2 else { return (nil, 0) }
        let configEnd = Int(tildes.0), decoratorEnd = Int(tildes.1)
        let config = UnsafeRawBufferPointer(start: base, count: configEnd)
        if errorConfig.equals(config) {
            let decorator = UnsafeRawBufferPointer(start: base + configEnd + 1, count: decoratorEnd - configEnd - 1)
            guard errorDecorator.equals(decorator), let fields = try? WireHeader.parse(frame) else { return (nil, 0) }
            let kind = fields.bytes(.action, in: frame)
            // A `draining` refusal ends no flow: the Subject started none.
            if draining.equals(kind) { return (.refusal, 0) }
            return (.error(ErrorKind(rawValue: String(decoding: kind, as: UTF8.self))), 0)
        }
        // `~~~done~` from the decorator's `~` on: the decorator's, source's and context's
        // terminators, `done`, and the action's terminator.
        let pattern = emptySourceContextDone.bytes.count
        let afterPattern = decoratorEnd + pattern
        if afterPattern < frame.count,
           emptySourceContextDone.equals(UnsafeRawBufferPointer(start: base + decoratorEnd, count: pattern)),
           memchr(base + afterPattern, Int32(WireHeader.delimiter), frame.count - afterPattern) != nil {
            return completedCommand.equals(config) ? (nil, 0) : (.result, afterPattern)
        }
        if completedCommand.equals(config) || controlConfig.equals(config) || asyncConfig.equals(config) { return (nil, 0) }
        return ((try? WireHeader.parse(frame)) != nil ? .step : nil, 0)
    }
}
