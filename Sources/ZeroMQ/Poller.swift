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
///
/// A socket with a ``RingPort`` is ready by its rings (and, with ``RingPort/alsoSocket``, by its
/// libzmq peers): the poll first looks at the rings, and sleeps only after arming their bells,
/// with the bells' eventfds in the same `zmq_poll` as the sockets.
public final class Poller {
    private let items: UnsafeMutablePointer<zmq_pollitem_t>
    private let sockets: [Socket]
    /// The ring-backed sockets: their index, port and what is asked of it.
    private let ported: [(index: Int, port: RingPort, events: PollEvents)]
    /// Their bells, each once, polled after the sockets' items.
    private let bells: [Doorbell]

    /// - Parameter sockets: the sockets and what to wait for on each; results are read
    ///   back by the same index.
    public init(_ sockets: [(Socket, PollEvents)]) throws(ZMQError) {
        self.sockets = sockets.map(\.0)
        var ported: [(index: Int, port: RingPort, events: PollEvents)] = []
        var bells: [Doorbell] = []
        for (index, (socket, events)) in sockets.enumerated() {
            guard let port = socket.ringPort else { continue }
            ported.append((index, port, events))
            for bell in port.bells(for: events) where !bells.contains(where: { $0 === bell }) { bells.append(bell) }
        }
        self.ported = ported
        self.bells = bells
        items = .allocate(capacity: max(1, sockets.count + bells.count))
        for (index, (socket, events)) in sockets.enumerated() {
            guard let handle = socket.handle else {
                items.deallocate()
                throw ZMQError(code: .init(rawValue: ENOTSOCK), operation: "zmq_poll")
            }
            items[index] = zmq_pollitem_t(socket: handle, fd: 0, events: events.rawValue, revents: 0)
        }
        for (offset, bell) in bells.enumerated() {
            items[sockets.count + offset] = zmq_pollitem_t(socket: nil, fd: bell.fileDescriptor, events: Int16(ZMQ_POLLIN), revents: 0)
        }
    }

    deinit { items.deallocate() }

    /// Waits until at least one socket is ready or `timeout` passes (`nil`: forever;
    /// `.zero`: just look). Returns how many sockets are ready. A signal (`EINTR`) ends the
    /// wait early with 0 ready, so callers re-check their stop condition.
    /// - Throws: ``ZMQError/Code/contextTerminated`` when the context shuts down.
    public func poll(timeout: Duration?) throws(ZMQError) -> Int {
        if ported.isEmpty { return try zmqPoll(count: sockets.count, timeout: timeout) }
        if ringsReady() {
            _ = try zmqPoll(count: sockets.count, timeout: .zero)
            return mergeRings()
        }
        for bell in bells { bell.arm() }
        // The look after arming (``Doorbell``): news from before it rang no bell.
        if ringsReady() {
            for bell in bells { bell.disarm() }
            _ = try zmqPoll(count: sockets.count, timeout: .zero)
            return mergeRings()
        }
        defer { for bell in bells { bell.disarm() } }
        _ = try zmqPoll(count: sockets.count + bells.count, timeout: timeout)
        for (offset, bell) in bells.enumerated() where items[sockets.count + offset].revents != 0 { bell.clear() }
        return mergeRings()
    }

    private func zmqPoll(count: Int, timeout: Duration?) throws(ZMQError) -> Int {
        let ms: Int = timeout.map { Int(Socket.milliseconds($0)) } ?? -1
        let rc = zmq_poll(items, CInt(count), ms)
        if rc >= 0 { return Int(rc) }
        let code = zmq_errno()
        if code == EINTR {
            for index in 0..<count { items[index].revents = 0 }
            return 0
        }
        throw ZMQError(code: .init(rawValue: code), operation: "zmq_poll")
    }

    /// Whether a ring-backed socket is ready by its rings alone.
    private func ringsReady() -> Bool {
        ported.contains { !$0.port.readiness(zmqEvents: 0).intersection($0.events).isEmpty }
    }

    /// Replaces each ring-backed socket's libzmq result with its port's readiness; returns how
    /// many sockets are ready.
    private func mergeRings() -> Int {
        for (index, port, events) in ported {
            items[index].revents = port.readiness(zmqEvents: items[index].revents).intersection(events).rawValue
        }
        return (0..<sockets.count).count { items[$0].revents != 0 }
    }

    /// What the last ``poll(timeout:)`` found on socket `index`.
    public func events(at index: Int) -> PollEvents {
        PollEvents(rawValue: items[index].revents)
    }

    public func isReadable(_ index: Int) -> Bool { events(at: index).contains(.readable) }
}
