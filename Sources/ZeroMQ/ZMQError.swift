import CZeroMQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An error reported by libzmq, with the `errno` it set, the call that failed and,
/// where there is one, the endpoint involved.
///
/// Modelled on swift-system's `Errno`: the code is a typed wrapper over the raw C value,
/// so callers can match on `.addressInUse` rather than on magic numbers, and the
/// description is a sentence a person can act on:
/// `zmq_bind("tcp://127.0.0.1:5555") failed: Address already in use (errno 98)`.
///
/// `EAGAIN` is deliberately *not* thrown by send and receive: it is the ordinary
/// "would block / timed out" result (``SendResult/wouldBlock``, ``ReceiveResult/wouldBlock``).
/// `EINTR` never escapes either: every blocking call retries it.
public struct ZMQError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The C error number, as a typed value.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: CInt
        public init(rawValue: CInt) { self.rawValue = rawValue }

        /// `EAGAIN`: non-blocking mode was requested or a timeout expired.
        public static let wouldBlock = Code(rawValue: EAGAIN)
        /// `EINTR`: a signal interrupted the call (retried internally, never thrown).
        public static let interrupted = Code(rawValue: EINTR)
        /// `ETERM`: the context was shut down or terminated; the socket must be closed.
        public static let contextTerminated = Code(rawValue: ETERM)
        /// `EADDRINUSE`: the endpoint is already bound by someone.
        public static let addressInUse = Code(rawValue: EADDRINUSE)
        /// `EADDRNOTAVAIL`: the address is not local.
        public static let addressNotAvailable = Code(rawValue: EADDRNOTAVAIL)
        /// `EINVAL`: an invalid argument, e.g. a malformed endpoint.
        public static let invalidArgument = Code(rawValue: EINVAL)
        /// `EPROTONOSUPPORT`: the transport in the endpoint is not supported.
        public static let protocolNotSupported = Code(rawValue: EPROTONOSUPPORT)
        /// `ENODEV`: the interface named in the endpoint does not exist.
        public static let noSuchDevice = Code(rawValue: ENODEV)
        /// `ENOENT`: e.g. unbinding or disconnecting an endpoint that is not bound/connected.
        public static let notFound = Code(rawValue: ENOENT)
        /// `ENOTSUP`: the operation is not supported by this socket type.
        public static let notSupported = Code(rawValue: ENOTSUP)
        /// `EFSM`: the operation is not valid in the socket's current state.
        public static let invalidState = Code(rawValue: EFSM)
        /// `EMTHREAD`: no I/O thread is available.
        public static let noIOThread = Code(rawValue: EMTHREAD)
        /// `EHOSTUNREACH`: the message cannot be routed.
        public static let hostUnreachable = Code(rawValue: EHOSTUNREACH)
        /// `EACCES`: refused by a security rule (e.g. a CURVE bind before the ZAP handler).
        public static let permissionDenied = Code(rawValue: EACCES)
        /// `EMFILE`: too many open sockets or files.
        public static let tooManyOpenFiles = Code(rawValue: EMFILE)

        /// libzmq's own text for the code (`zmq_strerror`).
        public var description: String { String(cString: zmq_strerror(rawValue)) }
    }

    public let code: Code
    /// The libzmq call that failed, e.g. `"zmq_bind"`.
    public let operation: String
    /// The endpoint the call was about, when there is one.
    public let endpoint: String?

    public init(code: Code, operation: String, endpoint: String? = nil) {
        self.code = code
        self.operation = operation
        self.endpoint = endpoint
    }

    /// Captures `zmq_errno()` right after a failed call.
    static func last(_ operation: String, endpoint: String? = nil) -> ZMQError {
        ZMQError(code: Code(rawValue: zmq_errno()), operation: operation, endpoint: endpoint)
    }

    public var description: String {
        var text = operation
        if let endpoint { text += "(\"\(endpoint)\")" }
        text += " failed: \(code.description) (errno \(code.rawValue))"
        if code == .addressInUse { text += "; another socket or process already listens there" }
        if code == .protocolNotSupported { text += "; use inproc://, ipc:// or tcp://" }
        return text
    }
}

/// Runs a libzmq call that returns -1 on failure, retrying `EINTR`.
@inline(__always)
func retryingInterrupts(_ operation: String, endpoint: String? = nil, _ call: () -> CInt) throws(ZMQError) -> CInt {
    while true {
        let rc = call()
        if rc >= 0 { return rc }
        let code = zmq_errno()
        if code == EINTR { continue }
        throw ZMQError(code: .init(rawValue: code), operation: operation, endpoint: endpoint)
    }
}
