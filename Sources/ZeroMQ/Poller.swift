import CZeroMQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Readiness a ``Poller`` waits for or reports.
public struct PollEvents: OptionSet, Sendable {
    public let rawValue: Int16
    public init(rawValue: Int16) { self.rawValue = rawValue }
    public static let readable = PollEvents(rawValue: Int16(ZMQ_POLLIN))
    public static let writable = PollEvents(rawValue: Int16(ZMQ_POLLOUT))
    public static let error = PollEvents(rawValue: Int16(ZMQ_POLLERR))
}

/// Waits on several sockets at once (`zmq_poll`).
///
/// The item array is allocated once, so polling in a loop allocates nothing. Like the
/// sockets it holds, a poller belongs to one thread.
public final class Poller {
    private let items: UnsafeMutablePointer<zmq_pollitem_t>
    private let sockets: [Socket]

    /// - Parameter sockets: the sockets and what to wait for on each; results are read
    ///   back by the same index.
    public init(_ sockets: [(Socket, PollEvents)]) throws(ZMQError) {
        self.sockets = sockets.map(\.0)
        items = .allocate(capacity: max(1, sockets.count))
        for (index, (socket, events)) in sockets.enumerated() {
            guard let handle = socket.handle else {
                items.deallocate()
                throw ZMQError(code: .init(rawValue: ENOTSOCK), operation: "zmq_poll")
            }
            items[index] = zmq_pollitem_t(socket: handle, fd: 0, events: events.rawValue, revents: 0)
        }
    }

    deinit { items.deallocate() }

    /// Waits until at least one socket is ready or `timeout` passes (`nil`: forever;
    /// `.zero`: just look). Returns how many sockets are ready. A signal (`EINTR`) ends the
    /// wait early with 0 ready, so callers re-check their stop condition.
    /// - Throws: ``ZMQError/Code/contextTerminated`` when the context shuts down.
    public func poll(timeout: Duration?) throws(ZMQError) -> Int {
        let ms: Int = timeout.map { Int(Socket.milliseconds($0)) } ?? -1
        let rc = zmq_poll(items, CInt(sockets.count), ms)
        if rc >= 0 { return Int(rc) }
        let code = zmq_errno()
        if code == EINTR { return 0 }
        throw ZMQError(code: .init(rawValue: code), operation: "zmq_poll")
    }

    /// What the last ``poll(timeout:)`` found on socket `index`.
    public func events(at index: Int) -> PollEvents {
        PollEvents(rawValue: items[index].revents)
    }

    public func isReadable(_ index: Int) -> Bool { events(at: index).contains(.readable) }
}
