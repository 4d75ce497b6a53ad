import CZeroMQ
import Synchronization

/// A libzmq context: the owner of the I/O threads and of every socket made from it.
///
/// libzmq contexts are thread-safe, so one `Context` may be shared by every thread of a
/// process. Shutting down is in two steps, as in libzmq:
/// 1. ``shutdown()`` makes every blocking call on every socket of the context return
///    `ETERM` at once (socket loops treat that as "stop"), and
/// 2. ``terminate()`` waits for those sockets to be closed and releases the context.
///
/// Sockets are created with `LINGER 0` (the context is made non-"blocky"), so terminating
/// never hangs on unsent messages. Linger is never a delivery guarantee anyway: libzmq
/// 4.3.4 loses the tail of a burst over ipc when a PUSH closes right after sending
/// (upstream issue #4660); the ZManager roles drain with acknowledgements instead.
public final class Context: @unchecked Sendable {
    // @unchecked Sendable: `handle` is immutable and libzmq's context API is thread-safe;
    // `state` is an atomic.
    let handle: UnsafeMutableRawPointer
    private let state = Atomic<Int>(0)  // 0 running, 1 shut down, 2 terminated
    /// CURVE for this context's tcp and ipc sockets (see ``CurveSecurity``); nil: none (NULL
    /// mechanism, libzmq's default).
    public let security: CurveSecurity?
    /// The handshake monitors of this context's secured binds, and whether its ZAP handler is
    /// bound; nil when ``security`` has no server key pair.
    public let handshakes: HandshakeWatch?

    /// Creates a context.
    /// - Parameters:
    ///   - ioThreads: libzmq I/O threads. One is fastest for the ZManager topology on 2 cores
    ///     (two I/O threads measured slower).
    ///   - maxSockets: upper bound on sockets; libzmq's default is 1023.
    ///   - threadNamePrefix: `ZMQ_THREAD_NAME_PREFIX`: libzmq names its background threads
    ///     `<prefix>/ZMQbg/IO/0`, `<prefix>/ZMQbg/Reaper` instead of `ZMQbg/IO/0`, so the I/O
    ///     threads of several contexts in one process can be told apart (CPU per stage).
    ///   - security: CURVE for every socket that binds or connects over tcp or ipc. With a
    ///     server key pair, bind a ZAP handler (ZManager's `Authenticator`) before any socket
    ///     binds: a secured bind without one is refused.
    public init(ioThreads: Int = 1, maxSockets: Int? = nil, threadNamePrefix: Int? = nil,
                security: CurveSecurity? = nil) throws(ZMQError) {
        guard let handle = zmq_ctx_new() else { throw ZMQError.last("zmq_ctx_new") }
        self.handle = handle
        self.security = security
        self.handshakes = security?.server == nil ? nil : HandshakeWatch()
        _ = try retryingInterrupts("zmq_ctx_set(ZMQ_IO_THREADS)") { zmq_ctx_set(handle, ZMQ_IO_THREADS, CInt(ioThreads)) }
        // Non-blocky: new sockets get LINGER 0, so zmq_ctx_term cannot hang on them.
        _ = try retryingInterrupts("zmq_ctx_set(ZMQ_BLOCKY)") { zmq_ctx_set(handle, ZMQ_BLOCKY, 0) }
        if let maxSockets {
            _ = try retryingInterrupts("zmq_ctx_set(ZMQ_MAX_SOCKETS)") { zmq_ctx_set(handle, ZMQ_MAX_SOCKETS, CInt(maxSockets)) }
        }
        if let threadNamePrefix {
            _ = try retryingInterrupts("zmq_ctx_set(ZMQ_THREAD_NAME_PREFIX)") {
                zmq_ctx_set(handle, ZMQ_THREAD_NAME_PREFIX, CInt(threadNamePrefix))
            }
        }
    }

    /// Unblocks every thread blocked in a call on this context's sockets: they return
    /// `ETERM` (thrown as ``ZMQError/Code/contextTerminated``). Safe to call from any
    /// thread, any number of times. New sockets can no longer be created.
    public func shutdown() {
        if state.compareExchange(expected: 0, desired: 1, ordering: .acquiringAndReleasing).exchanged {
            _ = zmq_ctx_shutdown(handle)
        }
    }

    /// Whether ``shutdown()`` or ``terminate()`` was called.
    public var isShutDown: Bool { state.load(ordering: .acquiring) != 0 }

    /// Shuts down and then waits until every socket of the context is closed.
    ///
    /// Call it from a thread that owns no open socket of this context, or it waits forever
    /// (libzmq's rule). ``Socket`` closes itself when its loop sees `ETERM` or when it is
    /// released.
    public func terminate() {
        shutdown()
        if state.exchange(2, ordering: .acquiringAndReleasing) == 2 { return }
        while zmq_ctx_term(handle) != 0 && zmq_errno() == EINTR {}
    }

    deinit {
        // Every Socket keeps its Context alive, so no socket is open here.
        if state.load(ordering: .acquiring) != 2 {
            while zmq_ctx_term(handle) != 0 && zmq_errno() == EINTR {}
        }
    }

    /// The libzmq version this process is linked against, e.g. `4.3.4`.
    public static var libzmqVersion: String {
        var major: CInt = 0, minor: CInt = 0, patch: CInt = 0
        zmq_version(&major, &minor, &patch)
        return "\(major).\(minor).\(patch)"
    }

    /// Whether the linked libzmq was built with `capability` (`zmq_has`: "ipc", "pgm", "norm",
    /// "curve", "gssapi", "tipc", "draft").
    public static func has(_ capability: String) -> Bool { zmq_has(capability) != 0 }
}
