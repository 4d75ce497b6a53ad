import CZeroMQ
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A CURVE key (Curve25519, 32 bytes), written as 40 characters of Z85 in configuration and
/// certificate files, as libzmq, pyzmq and CZMQ write it.
public struct CurveKey: Hashable, Sendable, CustomStringConvertible {
    /// The 40-character Z85 text.
    public let z85: String

    /// Parses 40 characters of Z85; nil for anything else.
    public init?(z85 text: String) {
        guard text.utf8.count == 40 else { return nil }
        var bytes = [UInt8](repeating: 0, count: 32)
        guard zmq_z85_decode(&bytes, text) != nil else { return nil }
        z85 = text
    }

    /// The 32 raw bytes (what a ZAP request carries as a CURVE client's credentials).
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == 32 else { return nil }
        var text = [CChar](repeating: 0, count: 41)
        let raw = Array(bytes)
        guard zmq_z85_encode(&text, raw, 32) != nil else { return nil }
        z85 = Self.string(text)
    }

    public var description: String { z85 }

    /// The text of a NUL-terminated buffer libzmq filled.
    static func string(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// A CURVE key pair: the public key others are given, the secret key only its owner has.
public struct CurveKeyPair: Hashable, Sendable {
    public let publicKey: CurveKey
    public let secretKey: CurveKey

    /// A pair whose public key is derived from `secretKey` (`zmq_curve_public`).
    public init(secretKey: CurveKey) throws(ZMQError) {
        var text = [CChar](repeating: 0, count: 41)
        guard zmq_curve_public(&text, secretKey.z85) == 0 else { throw ZMQError.last("zmq_curve_public") }
        publicKey = CurveKey(z85: CurveKey.string(text))!
        self.secretKey = secretKey
    }

    /// A fresh key pair from libzmq's (libsodium's) random source (`zmq_curve_keypair`).
    public static func generate() throws(ZMQError) -> CurveKeyPair {
        var publicText = [CChar](repeating: 0, count: 41)
        var secretText = [CChar](repeating: 0, count: 41)
        guard zmq_curve_keypair(&publicText, &secretText) == 0 else { throw ZMQError.last("zmq_curve_keypair") }
        return try CurveKeyPair(secretKey: CurveKey(z85: CurveKey.string(secretText))!)
    }

    /// Whether libzmq was built with CURVE (libsodium), `zmq_has("curve")`.
    public static var isAvailable: Bool { zmq_has("curve") != 0 }
}

/// CURVE for every socket of a ``Context`` that binds or connects a `tcp://` or `ipc://`
/// endpoint (the transports that cross a process boundary; inproc has no handshake).
///
/// Applying it per context, not per socket, means no socket can be forgotten: a role, a
/// bridge or a client made from a secured context is secured.
/// - A socket that **binds** is a CURVE server with ``server``'s key pair and ``zapDomain``, so
///   libzmq asks the context's ZAP handler (on `inproc://zeromq.zap.01`) about every client.
///   The handler must be bound before the first such bind: ``Context`` refuses the bind
///   otherwise (see ``HandshakeWatch/zapHandlerBound``), because libzmq accepts every client
///   when no handler is there.
/// - A socket that **connects** is a CURVE client presenting ``client`` to a server whose public
///   key is ``serverKey``.
public struct CurveSecurity: Sendable {
    /// The key pair of a party that binds (the Subject, the Integration Manager); nil for one
    /// that only connects (a worker or a service on another host).
    public var server: CurveKeyPair?
    /// The public key of the server that connecting sockets talk to.
    public var serverKey: CurveKey
    /// The key pair connecting sockets present.
    public var client: CurveKeyPair
    /// `ZMQ_ZAP_DOMAIN` of the binding sockets; the ZAP handler refuses other domains.
    public var zapDomain: String

    public init(server: CurveKeyPair?, serverKey: CurveKey, client: CurveKeyPair, zapDomain: String = "zmanager") {
        self.server = server
        self.serverKey = serverKey
        self.client = client
        self.zapDomain = zapDomain
    }

    /// Whether `endpoint` uses a transport CURVE applies to.
    public static func covers(_ endpoint: String) -> Bool {
        endpoint.hasPrefix("tcp://") || endpoint.hasPrefix("ipc://")
    }
}

/// Handshake events of a secured context's binding sockets, for its authenticator to count
/// and log: each secured bind attaches a libzmq socket monitor (`zmq_socket_monitor`) and
/// connects a PAIR socket to it at once (a monitor nobody reads can stall its socket,
/// libzmq issue #2829); the PAIR sockets wait here until the authenticator's thread takes
/// them (``takeMonitors()``).
public final class HandshakeWatch: Sendable {
    /// The libzmq events a monitor reports: successes and each kind of failure.
    public static let events = ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL
        | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH

    /// A monitor's reading end, handed from the binding thread to the authenticator's.
    struct Monitor: @unchecked Sendable {
        // @unchecked Sendable: the raw PAIR handle is created and connected on the binding
        // thread, then used only by the one thread that takes it from `pending`; the Mutex
        // gives the full barrier libzmq asks for when a socket moves between threads.
        let handle: UnsafeMutableRawPointer
        let endpoint: String
    }

    private let pending = Mutex<[Monitor]>([])
    private let counter = Atomic<Int>(0)
    private let zapBound = Atomic<Bool>(false)

    public init() {}

    /// Set by the ZAP handler once its socket is bound: only then may a secured socket bind.
    public var zapHandlerBound: Bool {
        get { zapBound.load(ordering: .acquiring) }
        set { zapBound.store(newValue, ordering: .releasing) }
    }

    func nextMonitorEndpoint() -> String {
        "inproc://zmanager-handshake-\(ObjectIdentifier(self).hashValue)-\(counter.add(1, ordering: .relaxed).newValue)"
    }

    func add(_ monitor: Monitor) { pending.withLock { $0.append(monitor) } }

    /// The monitors attached since the last call, as sockets owned by the caller's thread, each
    /// with the endpoint its socket bound.
    package func takeMonitors(context: Context) -> [(socket: Socket, endpoint: String)] {
        pending.withLock { list in
            defer { list.removeAll() }
            return list.map { (Socket(adopting: $0.handle, context: context, type: .pair), $0.endpoint) }
        }
    }

    deinit {
        for monitor in pending.withLock({ $0 }) { zmq_close(monitor.handle) }
    }
}

extension Socket {
    /// Makes this socket a CURVE server (before it binds).
    func applyCurveServer(_ keyPair: CurveKeyPair, zapDomain: String) throws(ZMQError) {
        try setOption(ZMQ_CURVE_SERVER, 1, "ZMQ_CURVE_SERVER")
        try setOption(ZMQ_CURVE_SECRETKEY, bytes: Array(keyPair.secretKey.z85.utf8), "ZMQ_CURVE_SECRETKEY")
        try setOption(ZMQ_ZAP_DOMAIN, bytes: Array(zapDomain.utf8), "ZMQ_ZAP_DOMAIN")
    }

    /// Makes this socket a CURVE client of `serverKey` (before it connects).
    func applyCurveClient(serverKey: CurveKey, keyPair: CurveKeyPair) throws(ZMQError) {
        try setOption(ZMQ_CURVE_SERVERKEY, bytes: Array(serverKey.z85.utf8), "ZMQ_CURVE_SERVERKEY")
        try setOption(ZMQ_CURVE_PUBLICKEY, bytes: Array(keyPair.publicKey.z85.utf8), "ZMQ_CURVE_PUBLICKEY")
        try setOption(ZMQ_CURVE_SECRETKEY, bytes: Array(keyPair.secretKey.z85.utf8), "ZMQ_CURVE_SECRETKEY")
    }

    /// Attaches a handshake monitor and returns its reading end, already connected (a monitor
    /// nobody is connected to can stall its socket).
    func attachHandshakeMonitor(_ watch: HandshakeWatch) throws(ZMQError) -> UnsafeMutableRawPointer {
        let h = try open("zmq_socket_monitor")
        let monitorEndpoint = watch.nextMonitorEndpoint()
        _ = try retryingInterrupts("zmq_socket_monitor", endpoint: monitorEndpoint) {
            zmq_socket_monitor(h, monitorEndpoint, HandshakeWatch.events)
        }
        guard let reader = zmq_socket(context.handle, ZMQ_PAIR) else { throw ZMQError.last("zmq_socket(ZMQ_PAIR)") }
        guard zmq_connect(reader, monitorEndpoint) == 0 else {
            let error = ZMQError.last("zmq_connect", endpoint: monitorEndpoint)
            zmq_close(reader)
            zmq_socket_monitor(h, nil, 0)
            throw error
        }
        return reader
    }
}

/// One handshake event a monitor reported (`zmq_socket_monitor`'s two frames).
public struct HandshakeEvent: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// The peer completed the handshake (for CURVE: its key was allowed).
        case succeeded
        /// The ZAP handler refused the peer; `status` is its status code (e.g. 400).
        case refused(status: UInt32)
        /// The ZMTP handshake failed: a peer without CURVE, with the wrong server key, or not
        /// speaking ZMTP. `code` is libzmq's `ZMQ_PROTOCOL_ERROR_*` value.
        case protocolError(code: UInt32)
        /// The handshake failed for another reason; `errno` is the system error.
        case failed(errno: UInt32)
    }

    public var kind: Kind
    /// The local endpoint the monitor reported (a bound one, wildcards resolved).
    public var endpoint: String

    /// Decodes the event frame (`uint16` event, `uint32` value, native byte order) and the
    /// endpoint frame; nil for any other event or a frame of the wrong size.
    public init?(eventFrame: [UInt8], endpointFrame: [UInt8]) {
        guard eventFrame.count == 6 else { return nil }
        let event = UInt16(eventFrame[0]) | UInt16(eventFrame[1]) << 8
        let value = eventFrame[2...5].reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        switch CInt(event) {
        case ZMQ_EVENT_HANDSHAKE_SUCCEEDED: kind = .succeeded
        case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH: kind = .refused(status: value)
        case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL: kind = .protocolError(code: value)
        case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL: kind = .failed(errno: value)
        default: return nil
        }
        endpoint = String(decoding: endpointFrame, as: UTF8.self)
    }

    /// A short name for `ZMQ_PROTOCOL_ERROR_*` codes a CURVE server sees most.
    public static func protocolErrorName(_ code: UInt32) -> String {
        switch CInt(bitPattern: code) {
        case ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH: "mechanism mismatch (a client without CURVE?)"
        case ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC: "cryptographic error (the wrong server key?)"
        case ZMQ_PROTOCOL_ERROR_ZMTP_UNEXPECTED_COMMAND: "unexpected command"
        case ZMQ_PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_HELLO: "malformed HELLO"
        case ZMQ_PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_INITIATE: "malformed INITIATE"
        case ZMQ_PROTOCOL_ERROR_ZAP_UNSPECIFIED, ZMQ_PROTOCOL_ERROR_ZAP_MALFORMED_REPLY, ZMQ_PROTOCOL_ERROR_ZAP_BAD_REQUEST_ID,
             ZMQ_PROTOCOL_ERROR_ZAP_BAD_VERSION, ZMQ_PROTOCOL_ERROR_ZAP_INVALID_STATUS_CODE, ZMQ_PROTOCOL_ERROR_ZAP_INVALID_METADATA:
            "ZAP handler error"
        default: "protocol error 0x\(String(code, radix: 16))"
        }
    }
}
