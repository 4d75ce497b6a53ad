public import Pickle
public import ZeroMQ

/// The service side of ZManager: push requests into flows, receive what the Integration
/// Manager publishes, correlate by id.
///
/// A client owns a PUSH to the Subject and a SUB to the Integration Manager. Like its
/// sockets it belongs to one thread. Subscriptions take effect asynchronously in libzmq;
/// ``waitUntilConnected(timeout:)`` pings the core through both paths so that nothing
/// published after it returns is missed.
public final class ZManagerClient {
    let push: Socket
    let sub: Socket
    /// The form requests are sent in; the core answers each request in its form. `nil`
    /// (the default) picks it per request by body size, ``WireForm/preferred(forBodyCount:)``:
    /// one frame for small bodies, two from ``WireForm/splitThreshold`` up.
    public let form: WireForm?
    /// The `source` field of requests (DigitalPy's service id).
    public let sender: String
    private var receiveFrame = Message()
    private var bodyFrame = Message()

    /// - Parameters:
    ///   - integrationManager: the Integration Manager's PUB, or its multicast group
    ///     (`epgm://`, ``MulticastOptions``: then `multicast` sizes the receive window and must
    ///     match the sender's rate and recovery interval).
    public init(context: Context, subject: String, integrationManager: String,
                form: WireForm? = nil, sender: String = "client", highWaterMark: Int = 10_000,
                multicast: MulticastOptions = MulticastOptions()) throws(ZMQError) {
        push = try Socket(context, .push)
        try push.setSendHighWaterMark(highWaterMark)
        try push.connect(subject)
        sub = try Socket(context, .sub)
        try sub.setReceiveHighWaterMark(highWaterMark)
        if MulticastOptions.isMulticast(integrationManager) { try sub.applyMulticast(multicast) }
        try sub.connect(integrationManager)
        self.form = form
        self.sender = sender
    }

    public func close() {
        push.close()
        sub.close()
    }

    // MARK: Subscriptions

    /// Receives everything whose header starts with `prefix`.
    public func subscribe(_ prefix: String) throws(ZMQError) { try sub.subscribe(prefix) }
    public func unsubscribe(_ prefix: String) throws(ZMQError) { try sub.unsubscribe(prefix) }
    /// Results of `flow` (`<flow>~~~~done~`).
    public func subscribeResults(flow: String) throws(ZMQError) { try sub.subscribe(Topics.resultPrefix(flow: flow)) }
    /// Every error message (`zmanager_error~`).
    public func subscribeErrors() throws(ZMQError) { try sub.subscribe(Topics.errorPrefix) }
    /// The ASYNC requests of `flow` (for the external party that answers them).
    public func subscribeParked(flow: String) throws(ZMQError) { try sub.subscribe(Topics.parkedPrefix(flow: flow)) }

    /// Pings the Subject until its PONG comes back through the Integration Manager: both
    /// the request path and this client's subscription path are then live, and so is every
    /// subscription made before the call (they travel to the publisher in order, ahead of
    /// the PONG's). Call it after subscribing. Returns false if that did not happen within
    /// `timeout`.
    public func waitUntilConnected(timeout: Duration = .seconds(10)) throws(ZMQError) -> Bool {
        // The PONG topic carries this call's token, and so does the subscription: a
        // subscription left over from an earlier call cannot let this PONG through early.
        let token = "ping-\(UInt64.random(in: 0...UInt64.max))"
        let topic = Topics.pongPrefix + "~~~" + token + "~"
        try sub.subscribe(topic)
        defer { try? sub.unsubscribe(topic) }
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while clock.now < deadline {
            var verb = Message(copying: ControlVerb.ping.frame)
            _ = try push.send(&verb, more: true)
            _ = try push.send(string: token)
            let retry = clock.now + .milliseconds(100)
            while clock.now < retry {
                if let delivery = try receive(timeout: .milliseconds(20)),
                   delivery.config == Topics.controlConfig, delivery.id == token {
                    return true
                }
            }
        }
        return false
    }

    // MARK: Sending

    /// Starts `flow` with `body`: sends `<flow>~~<sender>~~Push~<id>~`. The empty context
    /// matches the flow's `?Context?Push` first step whatever its context is.
    public func push(flow: String, id: String, body: [UInt8]) throws(ZMQError) {
        try send(fields: [flow, "", sender, "", "Push"], id: id, body: body)
    }

    /// ``push(flow:id:body:)`` with DigitalPy values pickled at protocol 4, as a Python
    /// service's body would be.
    public func push(flow: String, id: String, values: PickleValue) throws(ZMQError) {
        try push(flow: flow, id: id, body: PickleEncoder.encode(values, protocol: PythonBodies.pickleProtocol))
    }

    /// Answers the flow parked at ASYNC step `action` of `flow`: the flow goes on at that
    /// step with `body` as the step's input.
    public func resume(flow: String, action: String, id: String, body: [UInt8]) throws(ZMQError) {
        try send(fields: [flow, Decorator.async, sender, "", action], id: id, body: body)
    }

    /// Sends a message with an explicit header (config, decorator, source, context, action).
    public func send(fields: [String], id: String, body: [UInt8]) throws(ZMQError) {
        precondition(fields.count == 5)
        let prefix = HeaderPrefix(fields: fields)
        let idBytes = Array(id.utf8)
        var outbox = Outbox()
        let result: Result<Void, ZMQError> = idBytes.withUnsafeBytes { idBuffer in
            Result { () throws(ZMQError) in
                try prefix.withBytes { (prefix) throws(ZMQError) in
                    try outbox.send(prefix: prefix, id: idBuffer, body: body, form: form ?? .preferred(forBodyCount: body.count),
                                    to: push, pool: .shared)
                }
            }
        }
        try result.get()
    }

    /// Sends raw frames to the Subject as they are (for tests of malformed input).
    public func sendRaw(_ frames: [[UInt8]]) throws(ZMQError) {
        _ = try push.send(multipart: frames)
    }

    // MARK: Receiving

    /// Something the Integration Manager published.
    public struct Delivery: Sendable, Equatable {
        public var config: String
        public var decorator: String
        public var source: String
        public var context: String
        public var action: String
        public var id: String
        public var body: [UInt8]
        public var form: WireForm

        /// The error kind, when this is an error message.
        public var errorKind: ErrorKind? {
            config == Topics.errorConfig ? ErrorKind(rawValue: action) : nil
        }
        /// Whether this is a flow's result (`??done`). A DigitalPy party's
        /// `completed_command~~~~done~` is not: it continues a parked flow.
        public var isResult: Bool {
            action == "done" && source.isEmpty && context.isEmpty && config != Topics.errorConfig
                && config != Topics.completedCommandConfig
        }
        /// The body as text (error messages in split form carry UTF-8 text).
        public var text: String { String(decoding: body, as: UTF8.self) }

        /// The body decoded as a pickle (DigitalPy's values in single form).
        public func values() throws(PickleBodyError) -> PickleValue {
            let result: Result<PickleValue, PickleBodyError> = body.withUnsafeBytes { buffer in
                Result { () throws(PickleBodyError) in try PythonBodies.decode(buffer) }
            }
            return try result.get()
        }

        /// An error message's sentence in either form: the UTF-8 body in split form, the
        /// `error` value of the pickled dict in single form (the whole body as text if it
        /// does not decode).
        public var errorText: String {
            guard form == .single, let text = (try? values())?["error"]?.stringValue else { return text }
            return text
        }
    }

    /// The next published message, or nil if none arrived within `timeout`.
    public func receive(timeout: Duration?) throws(ZMQError) -> Delivery? {
        try sub.setReceiveTimeout(timeout)
        guard try sub.receive(into: &receiveFrame) == .received else { return nil }
        var form = WireForm.single
        if receiveFrame.more {
            _ = try sub.receive(into: &bodyFrame)
            form = .split
            if bodyFrame.more {  // not a ZManager message: skip the rest
                while bodyFrame.more { _ = try sub.receive(into: &bodyFrame) }
            }
        }
        return receiveFrame.withUnsafeBytes { head -> Delivery? in
            guard let fields = try? WireHeader.parse(head) else { return nil }
            let body = form == .split ? bodyFrame.bytes : Array(head[fields.bodyOffset...])
            return Delivery(
                config: fields.string(.config, in: head), decorator: fields.string(.decorator, in: head),
                source: fields.string(.source, in: head), context: fields.string(.context, in: head),
                action: fields.string(.action, in: head), id: fields.string(.id, in: head), body: body, form: form)
        }
    }
}
