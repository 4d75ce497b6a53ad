// Public: the inlinable hot-path accessors below call libzmq directly from client modules.
public import CZeroMQ
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The ZeroMQ socket types the project uses.
public enum SocketType: Sendable, CaseIterable {
    case push, pull, pub, sub, xpub, xsub, dealer, router, req, rep, pair

    var raw: CInt {
        switch self {
        case .push: ZMQ_PUSH
        case .pull: ZMQ_PULL
        case .pub: ZMQ_PUB
        case .sub: ZMQ_SUB
        case .xpub: ZMQ_XPUB
        case .xsub: ZMQ_XSUB
        case .dealer: ZMQ_DEALER
        case .router: ZMQ_ROUTER
        case .req: ZMQ_REQ
        case .rep: ZMQ_REP
        case .pair: ZMQ_PAIR
        }
    }
}

/// What a send did. `EAGAIN` is an ordinary outcome here, not an error.
public enum SendResult: Sendable, Equatable {
    /// The message was queued; the ``Message`` passed in is now empty.
    case sent
    /// The socket could not take the message (high-water mark reached with `dontWait`,
    /// or the send timeout expired). The ``Message`` is unchanged and can be retried.
    case wouldBlock
}

/// What a receive did. `EAGAIN` is an ordinary outcome here, not an error.
public enum ReceiveResult: Sendable, Equatable {
    /// A frame was received into the ``Message``.
    case received
    /// Nothing arrived: immediately with `dontWait`, or before the receive timeout
    /// (``Socket/receiveTimeout``) expired.
    case wouldBlock
}

/// A ZeroMQ socket.
///
/// Not thread-safe, like libzmq's sockets: a socket is used by one thread at a time. It is
/// not `Sendable`; hand it to the thread that runs its loop with ``SocketThread`` (a
/// `sending` closure), and use it only there.
///
/// The socket keeps its ``Context`` alive and closes itself on `deinit` (or explicitly
/// with ``close()``), so ``Context/terminate()`` never waits on a forgotten socket.
public final class Socket {
    public let context: Context
    public let type: SocketType
    // Unchecked: read on every send and receive, where a dynamic exclusivity check (a
    // thread-local access set) cost more than the call it guards. Only `close()` writes it,
    // on the socket's own thread, like every other use (a socket is single-threaded).
    @usableFromInline @exclusivity(unchecked) var handle: UnsafeMutableRawPointer?
    // Unchecked for the same reason: read on every send. Written once, by
    // `countSentMessages(in:)`, on the socket's own thread before it sends. A raw pointer to
    // the counter's atomic: reading a class reference would retain and release it on every
    // send; `sentMessagesOwner` keeps the counter alive as long as the socket.
    @exclusivity(unchecked) private var sentMessages: UnsafeMutablePointer<Atomic<Int>>?
    private var sentMessagesOwner: MessageCounter?
    // Unchecked for the same reason, read on every send and receive; written once, by
    // `attach(_:)`, on the socket's own thread before it is used. Unmanaged: an optional
    // class reference would be retained and released per call; `portOwner` keeps it alive.
    @usableFromInline @exclusivity(unchecked) var port: Unmanaged<RingPort>?
    private var portOwner: RingPort?

    public init(_ context: Context, _ type: SocketType) throws(ZMQError) {
        guard let handle = zmq_socket(context.handle, type.raw) else {
            throw ZMQError.last("zmq_socket")
        }
        self.context = context
        self.type = type
        self.handle = handle
    }

    /// Takes over a socket this package created with `zmq_socket` (a handshake monitor's
    /// reading end); it is closed like any other.
    package init(adopting handle: UnsafeMutableRawPointer, context: Context, type: SocketType) {
        self.context = context
        self.type = type
        self.handle = handle
    }

    deinit { close() }

    /// The libzmq socket pointer, for C code of this package that runs a socket loop itself
    /// (the harness's bare calibration stages). Valid until ``close()``; use it on the thread
    /// that owns the socket only.
    package var unsafeHandle: UnsafeMutableRawPointer? { handle }

    /// Closes the socket (`zmq_close`). Idempotent. Any unsent messages are dropped
    /// (LINGER 0 by default); see ``Context`` on why linger is never relied upon.
    public func close() {
        portOwner?.close()
        if let handle {
            zmq_close(handle)
            self.handle = nil
        }
    }

    @inlinable @inline(__always)
    func open(_ operation: String) throws(ZMQError) -> UnsafeMutableRawPointer {
        guard let handle else { throw ZMQError(code: .init(rawValue: ENOTSOCK), operation: operation) }
        return handle
    }

    // MARK: Endpoints

    /// Binds to `endpoint` (`inproc://name`, `ipc:///path`, `tcp://127.0.0.1:port`; a port
    /// of `*` picks a free one, read it back with ``lastEndpoint``).
    ///
    /// In a context with ``Context/security`` and a server key pair, a tcp or ipc bind makes
    /// the socket a CURVE server whose clients the context's ZAP handler checks, and attaches a
    /// handshake monitor (``HandshakeWatch``).
    /// - Throws: ``ZMQError/Code/permissionDenied`` for such a bind before the ZAP handler is
    ///   bound (libzmq would accept every client).
    public func bind(_ endpoint: String) throws(ZMQError) {
        let h = try open("zmq_bind")
        if let security = context.security, let server = security.server, CurveSecurity.covers(endpoint) {
            guard let watch = context.handshakes, watch.zapHandlerBound else {
                throw ZMQError(code: .permissionDenied, operation: "zmq_bind (CURVE without a ZAP handler)", endpoint: endpoint)
            }
            try applyCurveServer(server, zapDomain: security.zapDomain)
            // The monitor goes first, so no handshake happens unseen.
            let reader = try attachHandshakeMonitor(watch)
            do {
                _ = try retryingInterrupts("zmq_bind", endpoint: endpoint) { zmq_bind(h, endpoint) }
            } catch {
                zmq_socket_monitor(h, nil, 0)
                zmq_close(reader)
                throw error
            }
            watch.add(.init(handle: reader, endpoint: (try? lastEndpoint) ?? endpoint))
            return
        }
        _ = try retryingInterrupts("zmq_bind", endpoint: endpoint) { zmq_bind(h, endpoint) }
    }

    /// Connects to `endpoint`. In a context with ``Context/security``, a tcp or ipc connect is
    /// a CURVE client of the configured server key.
    public func connect(_ endpoint: String) throws(ZMQError) {
        let h = try open("zmq_connect")
        if let security = context.security, CurveSecurity.covers(endpoint) {
            try applyCurveClient(serverKey: security.serverKey, keyPair: security.client)
        }
        _ = try retryingInterrupts("zmq_connect", endpoint: endpoint) { zmq_connect(h, endpoint) }
    }

    public func unbind(_ endpoint: String) throws(ZMQError) {
        let h = try open("zmq_unbind")
        _ = try retryingInterrupts("zmq_unbind", endpoint: endpoint) { zmq_unbind(h, endpoint) }
    }

    public func disconnect(_ endpoint: String) throws(ZMQError) {
        let h = try open("zmq_disconnect")
        _ = try retryingInterrupts("zmq_disconnect", endpoint: endpoint) { zmq_disconnect(h, endpoint) }
    }

    /// The endpoint this socket last bound to, with wildcards resolved
    /// (`tcp://127.0.0.1:*` becomes `tcp://127.0.0.1:41234`).
    public var lastEndpoint: String {
        get throws(ZMQError) {
            var buffer = [CChar](repeating: 0, count: 1024)
            var size = buffer.count
            let h = try open("zmq_getsockopt(ZMQ_LAST_ENDPOINT)")
            _ = try retryingInterrupts("zmq_getsockopt(ZMQ_LAST_ENDPOINT)") {
                zmq_getsockopt(h, ZMQ_LAST_ENDPOINT, &buffer, &size)
            }
            return String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }

    // MARK: Sending and receiving

    /// Sends one frame. On ``SendResult/sent`` the message is empty and can be reused;
    /// the body is not copied (libzmq takes ownership of it).
    /// - Throws: ``ZMQError`` (e.g. ``ZMQError/Code/contextTerminated`` when the context
    ///   shuts down; `EINTR` is retried).
    public func send(_ message: inout Message, more: Bool = false, dontWait: Bool = false) throws(ZMQError) -> SendResult {
        let h = try open("zmq_msg_send")
        let code = if let port {
            port._withUnsafeGuaranteedRef { $0.send(&message, more: more, dontWait: dontWait, handle: h) }
        } else {
            Self.sendFrame(&message, h, more: more, dontWait: dontWait)
        }
        if code == 0 {
            // wrappingAdd is one `lock xadd`; add checks for overflow in a compare-and-swap loop.
            if !more, let sentMessages { sentMessages.pointee.wrappingAdd(1, ordering: .relaxed) }
            return .sent
        }
        if code == EAGAIN { return .wouldBlock }
        throw ZMQError(code: .init(rawValue: code), operation: "zmq_msg_send")
    }

    /// Receives one frame into `message`, replacing its previous content. Check
    /// ``Message/more`` for further frames of the same multipart message.
    @inlinable
    public func receive(into message: inout Message, dontWait: Bool = false) throws(ZMQError) -> ReceiveResult {
        let h = try open("zmq_msg_recv")
        let code = if let port {
            port._withUnsafeGuaranteedRef { $0.receive(into: &message, dontWait: dontWait, handle: h) }
        } else {
            Self.receiveFrame(&message, h, dontWait: dontWait)
        }
        if code == 0 { return .received }
        if code == EAGAIN { return .wouldBlock }
        throw ZMQError(code: .init(rawValue: code), operation: "zmq_msg_recv")
    }

    /// libzmq's send of one frame on socket `handle`: 0, or the errno it failed with (`EINTR`
    /// is retried). An errno rather than a throw, because ``RingPort`` calls it inside
    /// `_withUnsafeGuaranteedRef`, whose closure cannot throw a typed error.
    @inlinable
    static func sendFrame(_ message: inout Message, _ handle: UnsafeMutableRawPointer, more: Bool, dontWait: Bool) -> CInt {
        let flags = (more ? ZMQ_SNDMORE : 0) | (dontWait ? ZMQ_DONTWAIT : 0)
        while true {
            if zmq_msg_send(message.msg, handle, flags) >= 0 { return 0 }
            let code = zmq_errno()
            if code != EINTR { return code }
        }
    }

    /// libzmq's receive of one frame on socket `handle` into `message`: 0, or the errno it
    /// failed with (`EINTR` is retried). The frame's `more` is libzmq's own.
    @inlinable
    static func receiveFrame(_ message: inout Message, _ handle: UnsafeMutableRawPointer, dontWait: Bool) -> CInt {
        while true {
            if zmq_msg_recv(message.msg, handle, dontWait ? ZMQ_DONTWAIT : 0) >= 0 {
                message.ringMore = -1
                return 0
            }
            let code = zmq_errno()
            if code != EINTR { return code }
        }
    }

    /// Sends and receives through in-process rings from now on (``RingPort``), and through
    /// this socket's libzmq peers only where the port says ``RingPort/alsoSocket``. Its
    /// timeouts still apply (``setSendTimeout(_:)``, ``setReceiveTimeout(_:)``), and a
    /// context that shuts down still ends a wait. Call it on the socket's thread (or before
    /// handing the socket to it), before the socket is used; ``close()`` closes the port's rings.
    public func attach(_ port: RingPort) {
        portOwner = port
        self.port = Unmanaged.passUnretained(port)
    }

    /// The ring port attached with ``attach(_:)``, if any.
    public var ringPort: RingPort? { portOwner }

    /// From now on, every message this socket sends whole (its last frame) adds one to
    /// `counter`; ``send(_:more:dontWait:)`` and everything built on it count. Call it on the
    /// socket's thread, before the socket sends.
    public func countSentMessages(in counter: MessageCounter) {
        sentMessagesOwner = counter
        sentMessages = counter.slot
    }

    /// Sends a copy of `bytes` as one frame (convenience; allocates).
    @discardableResult
    public func send(bytes: some Sequence<UInt8>, more: Bool = false, dontWait: Bool = false) throws(ZMQError) -> SendResult {
        var message = Message(copying: bytes)
        return try send(&message, more: more, dontWait: dontWait)
    }

    /// Sends the UTF-8 of `string` as one frame (convenience; allocates).
    @discardableResult
    public func send(string: String, more: Bool = false, dontWait: Bool = false) throws(ZMQError) -> SendResult {
        var message = Message(string: string)
        return try send(&message, more: more, dontWait: dontWait)
    }

    /// Sends several frames as one multipart message (convenience; allocates).
    @discardableResult
    public func send(multipart parts: [[UInt8]], dontWait: Bool = false) throws(ZMQError) -> SendResult {
        precondition(!parts.isEmpty, "a multipart message has at least one frame")
        for (index, part) in parts.enumerated() {
            var message = Message(copying: part)
            let result = try send(&message, more: index < parts.count - 1, dontWait: dontWait && index == 0)
            if result == .wouldBlock { return .wouldBlock }  // only the first frame can block
        }
        return .sent
    }

    /// Receives a whole multipart message as arrays (convenience; allocates). `nil` when
    /// nothing arrived before the timeout.
    public func receiveMultipart(dontWait: Bool = false) throws(ZMQError) -> [[UInt8]]? {
        var message = Message()
        guard try receive(into: &message, dontWait: dontWait) == .received else { return nil }
        var parts = [message.bytes]
        while message.more {
            _ = try receive(into: &message)
            parts.append(message.bytes)
        }
        return parts
    }

    /// Receives one frame as an array (convenience; allocates). `nil` on timeout.
    public func receiveBytes(dontWait: Bool = false) throws(ZMQError) -> [UInt8]? {
        var message = Message()
        guard try receive(into: &message, dontWait: dontWait) == .received else { return nil }
        return message.bytes
    }

    /// Moves every frame of one multipart message from this socket to `destination`
    /// without copying bodies, using `scratch` as the carrier (no allocation).

    public func forward(to destination: Socket, using scratch: inout Message, dontWait: Bool = false) throws(ZMQError) -> ReceiveResult {
        guard try receive(into: &scratch, dontWait: dontWait) == .received else { return .wouldBlock }
        while true {
            let more = scratch.more
            _ = try destination.send(&scratch, more: more)
            if !more { return .received }
            _ = try receive(into: &scratch)
        }
    }

    // MARK: Options

    func setOption(_ option: CInt, _ value: CInt, _ name: String) throws(ZMQError) {
        let h = try open("zmq_setsockopt(\(name))")
        var value = value
        _ = try retryingInterrupts("zmq_setsockopt(\(name))") {
            zmq_setsockopt(h, option, &value, MemoryLayout<CInt>.size)
        }
    }

    func setOption(_ option: CInt, bytes: [UInt8], _ name: String) throws(ZMQError) {
        let h = try open("zmq_setsockopt(\(name))")
        _ = try retryingInterrupts("zmq_setsockopt(\(name))") {
            bytes.withUnsafeBytes { zmq_setsockopt(h, option, $0.baseAddress, $0.count) }
        }
    }

    func option(_ option: CInt, _ name: String) throws(ZMQError) -> CInt {
        let h = try open("zmq_getsockopt(\(name))")
        var value: CInt = 0
        var size = MemoryLayout<CInt>.size
        _ = try retryingInterrupts("zmq_getsockopt(\(name))") { zmq_getsockopt(h, option, &value, &size) }
        return value
    }

    /// Milliseconds for libzmq: `nil` means "forever" (-1).
    static func milliseconds(_ duration: Duration?) -> CInt {
        guard let duration else { return -1 }
        let (seconds, attoseconds) = duration.components
        return CInt(clamping: seconds * 1000 + attoseconds / 1_000_000_000_000_000)
    }

    static func duration(_ milliseconds: CInt) -> Duration? {
        milliseconds < 0 ? nil : .milliseconds(milliseconds)
    }

    /// Outgoing queue bound in messages (`ZMQ_SNDHWM`); 0 means unlimited, which the
    /// project never uses by default (unbounded memory under overload).
    public func setSendHighWaterMark(_ messages: Int) throws(ZMQError) {
        try setOption(ZMQ_SNDHWM, CInt(clamping: messages), "ZMQ_SNDHWM")
    }

    /// Incoming queue bound in messages (`ZMQ_RCVHWM`); 0 means unlimited.
    public func setReceiveHighWaterMark(_ messages: Int) throws(ZMQError) {
        try setOption(ZMQ_RCVHWM, CInt(clamping: messages), "ZMQ_RCVHWM")
    }

    public var sendHighWaterMark: Int { get throws(ZMQError) { Int(try option(ZMQ_SNDHWM, "ZMQ_SNDHWM")) } }
    public var receiveHighWaterMark: Int { get throws(ZMQError) { Int(try option(ZMQ_RCVHWM, "ZMQ_RCVHWM")) } }

    /// How long `close` keeps unsent messages (`ZMQ_LINGER`); `nil` is forever.
    public func setLinger(_ duration: Duration?) throws(ZMQError) {
        try setOption(ZMQ_LINGER, Self.milliseconds(duration), "ZMQ_LINGER")
    }

    public var linger: Duration? { get throws(ZMQError) { Self.duration(try option(ZMQ_LINGER, "ZMQ_LINGER")) } }

    /// Longest a receive waits before returning ``ReceiveResult/wouldBlock``; `nil` is forever.
    public func setReceiveTimeout(_ duration: Duration?) throws(ZMQError) {
        try setOption(ZMQ_RCVTIMEO, Self.milliseconds(duration), "ZMQ_RCVTIMEO")
    }

    public var receiveTimeout: Duration? { get throws(ZMQError) { Self.duration(try option(ZMQ_RCVTIMEO, "ZMQ_RCVTIMEO")) } }

    /// Longest a send waits before returning ``SendResult/wouldBlock``; `nil` is forever.
    public func setSendTimeout(_ duration: Duration?) throws(ZMQError) {
        try setOption(ZMQ_SNDTIMEO, Self.milliseconds(duration), "ZMQ_SNDTIMEO")
    }

    /// Queue messages only to completed connections (`ZMQ_IMMEDIATE`).
    public func setImmediate(_ on: Bool) throws(ZMQError) {
        try setOption(ZMQ_IMMEDIATE, on ? 1 : 0, "ZMQ_IMMEDIATE")
    }

    /// The largest frame this socket accepts from a tcp or ipc peer (`ZMQ_MAXMSGSIZE`; `nil`:
    /// any). libzmq checks the size announced in the frame header, before buffering the frame,
    /// and closes the connection of a peer that exceeds it. Not applied to inproc.
    public func setMaxFrameSize(_ bytes: Int?) throws(ZMQError) {
        let h = try open("zmq_setsockopt(ZMQ_MAXMSGSIZE)")
        var value = Int64(bytes ?? -1)
        _ = try retryingInterrupts("zmq_setsockopt(ZMQ_MAXMSGSIZE)") {
            zmq_setsockopt(h, ZMQ_MAXMSGSIZE, &value, MemoryLayout<Int64>.size)
        }
    }

    /// ROUTER: a send to a peer that is not connected fails with
    /// ``ZMQError/Code/hostUnreachable``, and one to a full pipe returns
    /// ``SendResult/wouldBlock``, instead of being dropped silently (`ZMQ_ROUTER_MANDATORY`).
    public func setRouterMandatory(_ on: Bool) throws(ZMQError) {
        try setOption(ZMQ_ROUTER_MANDATORY, on ? 1 : 0, "ZMQ_ROUTER_MANDATORY")
    }

    /// XPUB: a send that would go past a matching subscriber's high-water mark returns
    /// ``SendResult/wouldBlock`` (with `dontWait`) instead of being dropped silently for that
    /// subscriber (`ZMQ_XPUB_NODROP`). Only the subscribers of the message's topic count.
    public func setXPubNoDrop(_ on: Bool) throws(ZMQError) {
        try setOption(ZMQ_XPUB_NODROP, on ? 1 : 0, "ZMQ_XPUB_NODROP")
    }

    /// PGM/EPGM: the most a multicast sender transmits, in kilobits per second (`ZMQ_RATE`;
    /// libzmq's default is 100). Also sizes a receiver's window, with the recovery interval.
    /// Set before the multicast endpoint is bound or connected.
    public func setMulticastRate(kilobitsPerSecond: Int) throws(ZMQError) {
        try setOption(ZMQ_RATE, CInt(clamping: kilobitsPerSecond), "ZMQ_RATE")
    }

    /// PGM/EPGM: how long data stays available for a receiver to recover what it missed
    /// (`ZMQ_RECOVERY_IVL`; libzmq's default is 10 s). Set before bind or connect.
    public func setRecoveryInterval(_ duration: Duration) throws(ZMQError) {
        try setOption(ZMQ_RECOVERY_IVL, Self.milliseconds(duration), "ZMQ_RECOVERY_IVL")
    }

    /// PGM/EPGM: the time-to-live of outgoing multicast packets, the routers they may cross
    /// (`ZMQ_MULTICAST_HOPS`; 1, the default, stays on the local network).
    public func setMulticastHops(_ hops: Int) throws(ZMQError) {
        try setOption(ZMQ_MULTICAST_HOPS, CInt(clamping: hops), "ZMQ_MULTICAST_HOPS")
    }

    /// ZMTP heartbeats (tcp and ipc; libzmq's I/O thread sends and answers them, so a busy
    /// application thread does not matter): a PING every `interval`, and the connection is
    /// closed when nothing arrives for `timeout` (`ZMQ_HEARTBEAT_IVL`, `ZMQ_HEARTBEAT_TIMEOUT`,
    /// and `ZMQ_HEARTBEAT_TTL` for the peer).
    public func setHeartbeat(interval: Duration, timeout: Duration) throws(ZMQError) {
        try setOption(ZMQ_HEARTBEAT_IVL, Self.milliseconds(interval), "ZMQ_HEARTBEAT_IVL")
        try setOption(ZMQ_HEARTBEAT_TIMEOUT, Self.milliseconds(timeout), "ZMQ_HEARTBEAT_TIMEOUT")
        try setOption(ZMQ_HEARTBEAT_TTL, Self.milliseconds(timeout), "ZMQ_HEARTBEAT_TTL")
    }

    /// SUB: receive messages whose first frame starts with `prefix` (empty = everything).
    public func subscribe(_ prefix: some Sequence<UInt8>) throws(ZMQError) {
        try setOption(ZMQ_SUBSCRIBE, bytes: Array(prefix), "ZMQ_SUBSCRIBE")
    }

    public func subscribe(_ prefix: String) throws(ZMQError) { try subscribe(Array(prefix.utf8)) }

    public func unsubscribe(_ prefix: some Sequence<UInt8>) throws(ZMQError) {
        try setOption(ZMQ_UNSUBSCRIBE, bytes: Array(prefix), "ZMQ_UNSUBSCRIBE")
    }

    public func unsubscribe(_ prefix: String) throws(ZMQError) { try unsubscribe(Array(prefix.utf8)) }
}
