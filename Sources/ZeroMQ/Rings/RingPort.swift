import CZeroMQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The in-process side of a ``Socket``: rings to and from threads of the same process, used by
/// the socket's ``Socket/send(_:more:dontWait:)``, ``Socket/receive(into:dontWait:)`` and
/// ``Poller`` instead of libzmq, so that a role's code is the same either way.
///
/// - Sending (a ``MessageDispatcher``): each message goes to the next ring with room, round
///   robin. With ``alsoSocket`` the socket's libzmq peers (workers in other processes) are one
///   more lane in the rotation; a lane that cannot take the message is skipped.
/// - Receiving (a ``MessageCollector``): the rings are read fairly, and with ``alsoSocket``
///   alternately with the socket's libzmq peers.
/// - Waiting (a blocking call, or a ``Poller``): the rings' bell and the socket itself go into
///   one `zmq_poll`, with the socket's own send or receive timeout. The socket is in the poll
///   even when it has no peers: a context that shuts down ends the wait with `ETERM`, as it
///   ends every other socket's.
/// - A multipart message stays whole on the lane it started on.
///
/// A port belongs to its socket's thread, like the socket.
public final class RingPort {
    /// Where this socket's messages go (nil: sends use libzmq).
    public let dispatcher: MessageDispatcher?
    /// Where this socket's messages come from (nil: receives use libzmq).
    public let collector: MessageCollector?
    /// The socket's libzmq peers are served too: bound or connected endpoints besides the rings.
    public let alsoSocket: Bool
    /// New messages to leave the socket's libzmq side alone for, and the next such pause: a
    /// look at a socket that has nothing (or no peer) costs a libzmq call, so an idle side is
    /// looked at ever less often (doubling, up to ``longestPause`` messages), while a busy one
    /// takes its turn with the rings. Before sleeping, the socket is always looked at.
    @exclusivity(unchecked) var pause = 0
    @exclusivity(unchecked) var nextPause = 1
    /// Messages the rings may carry before the socket's libzmq side is looked at again, when
    /// that side was idle: a peer in another process waits at most this many messages more.
    public static let longestPause = 64
    /// A message under way on the socket's libzmq side (its further frames follow there).
    @exclusivity(unchecked) var sendingOnSocket = false
    @exclusivity(unchecked) var receivingOnSocket = false

    /// A port that only sends, into one ring (a worker's outputs): ``send(_:more:dontWait:handle:)``
    /// writes it directly. Unretained: `dispatcher` owns it.
    let onlyOutput: Unmanaged<MessageRing>?
    /// A port that only receives, from one ring (a worker's steps).
    let onlyInput: Unmanaged<MessageRing>?
    /// `dispatcher` and `collector` unretained, for the per-message paths: `guard let` on the
    /// optional class references retained and released them on every send and receive
    /// (measured about 80 instructions per message in the Subject). The port owns both.
    let sending: Unmanaged<MessageDispatcher>?
    let receiving: Unmanaged<MessageCollector>?
    /// The dispatcher's ring count: the socket side's turn comes after that many messages.
    let outputRingCount: Int

    public init(dispatcher: MessageDispatcher? = nil, collector: MessageCollector? = nil, alsoSocket: Bool = false) {
        precondition(dispatcher != nil || collector != nil, "a ring port sends or receives through rings")
        self.dispatcher = dispatcher
        self.collector = collector
        self.alsoSocket = alsoSocket
        onlyOutput = !alsoSocket && dispatcher?.rings.count == 1 ? dispatcher.map { .passUnretained($0.rings[0]) } : nil
        onlyInput = !alsoSocket && collector?.rings.count == 1 ? collector.map { .passUnretained($0.rings[0]) } : nil
        sending = dispatcher.map { .passUnretained($0) }
        receiving = collector.map { .passUnretained($0) }
        outputRingCount = dispatcher?.rings.count ?? 0
    }

    /// Closes the rings (peers see the end; what is published is still read).
    public func close() {
        dispatcher?.close()
        collector?.close()
    }

    // MARK: Sending

    /// 0 (sent), EAGAIN (would block or timed out), or the errno of a failure (`ETERM`).
    @usableFromInline func send(_ message: inout Message, more: Bool, dontWait: Bool, handle: UnsafeMutableRawPointer) -> CInt {
        if let onlyOutput {
            switch onlyOutput._withUnsafeGuaranteedRef({ $0.write(&message, more: more) }) {
            case .written: return 0
            case .closed: return ETERM
            case .full: if dontWait { return EAGAIN }
            }
            return waitToSend(&message, more: more, handle: handle)
        }
        guard let sending else { return Socket.sendFrame(&message, handle, more: more, dontWait: dontWait) }
        if sendingOnSocket {
            // A message's later frames always follow its first (libzmq checks the HWM per message).
            let rc = Socket.sendFrame(&message, handle, more: more, dontWait: false)
            if rc == 0 { sendingOnSocket = more }
            return rc
        }
        if sending._withUnsafeGuaranteedRef({ $0.isMidMessage }) {
            let result = sending._withUnsafeGuaranteedRef { $0.write(&message, more: more) }
            if result == .written { return 0 }
            if result == .closed { return ETERM }
            return waitToSend(&message, more: more, handle: handle)
        }
        if let rc = trySend(&message, more: more, handle: handle) { return rc }
        if dontWait { return EAGAIN }
        return waitToSend(&message, more: more, handle: handle)
    }

    /// One round over the lanes for a new message: the result, or nil when none could take it.
    /// The socket's turn comes after every ring has had one (its peers together are one lane).
    private func trySend(_ message: inout Message, more: Bool, handle: UnsafeMutableRawPointer) -> CInt? {
        let sending = sending!
        var triedSocket = false
        if alsoSocket {
            if pause > 0 {
                pause &-= 1
            } else {
                triedSocket = true
                if sendOnSocket(&message, more: more, handle: handle, turn: outputRingCount) { return 0 }
            }
        }
        switch sending._withUnsafeGuaranteedRef({ $0.write(&message, more: more) }) {
        case .written:
            return 0
        case .closed where !alsoSocket:
            return ETERM
        case .full, .closed:
            if alsoSocket, !triedSocket, sendOnSocket(&message, more: more, handle: handle, turn: outputRingCount) { return 0 }
            return nil
        }
    }

    private func sendOnSocket(_ message: inout Message, more: Bool, handle: UnsafeMutableRawPointer, turn: Int) -> Bool {
        guard Socket.sendFrame(&message, handle, more: more, dontWait: true) == 0 else {
            idleSocket()
            return false
        }
        sendingOnSocket = more
        busySocket(turn: turn)
        return true
    }

    /// The socket's side had nothing (or could take nothing): leave it alone for longer.
    private func idleSocket() {
        pause = nextPause
        nextPause = min(nextPause &* 2, Self.longestPause)
    }

    /// The socket's side was busy: its next turn comes after `turn` ring messages.
    private func busySocket(turn: Int) {
        pause = turn
        nextPause = 1
    }

    @inline(never)
    private func waitToSend(_ message: inout Message, more: Bool, handle: UnsafeMutableRawPointer) -> CInt {
        let dispatcher = dispatcher!
        let deadline = Self.deadline(handle, ZMQ_SNDTIMEO)
        while true {
            if dispatcher.isMidMessage {
                switch dispatcher.write(&message, more: more) {
                case .written: return 0
                case .closed: return ETERM
                case .full: break
                }
            } else if let rc = trySend(&message, more: more, handle: handle) {
                return rc
            }
            dispatcher.bell.arm()
            // The look after arming (``Doorbell``): space freed before it rang nothing. With a
            // socket side, rings that are all closed (their consumers gone) are no room: the
            // socket's peers are waited for instead of spinning.
            if alsoSocket ? dispatcher.hasOpenRoom : dispatcher.hasRoom {
                dispatcher.bell.disarm()
                continue
            }
            let rc = Self.wait(handle: handle, events: alsoSocket ? ZMQ_POLLOUT : ZMQ_POLLIN, bell: dispatcher.bell, until: deadline)
            dispatcher.bell.disarm()
            if rc != 0 { return rc }
        }
    }

    // MARK: Receiving

    /// 0 (received), EAGAIN (nothing, or timed out), or the errno of a failure (`ETERM`).
    @usableFromInline func receive(into message: inout Message, dontWait: Bool, handle: UnsafeMutableRawPointer) -> CInt {
        if let onlyInput {
            switch onlyInput._withUnsafeGuaranteedRef({ $0.read(into: &message) }) {
            case .frame: return 0
            case .closed: return ETERM
            case .empty: if dontWait { return EAGAIN }
            }
            return waitToReceive(into: &message, handle: handle)
        }
        guard let receiving else { return Socket.receiveFrame(&message, handle, dontWait: dontWait) }
        if receivingOnSocket {
            let rc = Socket.receiveFrame(&message, handle, dontWait: false)
            if rc == 0 { receivingOnSocket = message.more }
            return rc
        }
        if receiving._withUnsafeGuaranteedRef({ $0.isMidMessage }) {
            // Published whole: the rest is there.
            if case .frame = receiving._withUnsafeGuaranteedRef({ $0.read(into: &message) }) { return 0 }
            return ETERM
        }
        if let rc = tryReceive(into: &message, handle: handle) { return rc }
        if dontWait { return EAGAIN }
        return waitToReceive(into: &message, handle: handle)
    }

    /// One look for a new message: the socket's side in its turn (every other message while it
    /// is busy, ever less often while it is idle), the rings, and the socket before giving up.
    private func tryReceive(into message: inout Message, handle: UnsafeMutableRawPointer) -> CInt? {
        let receiving = receiving!
        var triedSocket = false
        if alsoSocket {
            if pause > 0 {
                pause &-= 1
            } else {
                triedSocket = true
                if receiveOnSocket(into: &message, handle: handle) { return 0 }
            }
        }
        switch receiving._withUnsafeGuaranteedRef({ $0.read(into: &message) }) {
        case .frame:
            return 0
        case .closed where !alsoSocket:
            return ETERM
        case .empty, .closed:
            if alsoSocket, !triedSocket, receiveOnSocket(into: &message, handle: handle) { return 0 }
            return nil
        }
    }

    private func receiveOnSocket(into message: inout Message, handle: UnsafeMutableRawPointer) -> Bool {
        guard Socket.receiveFrame(&message, handle, dontWait: true) == 0 else {
            idleSocket()
            return false
        }
        receivingOnSocket = message.more
        busySocket(turn: 1)
        return true
    }

    @inline(never)
    private func waitToReceive(into message: inout Message, handle: UnsafeMutableRawPointer) -> CInt {
        let collector = collector!
        let deadline = Self.deadline(handle, ZMQ_RCVTIMEO)
        while true {
            if let rc = tryReceive(into: &message, handle: handle) { return rc }
            collector.bell.arm()
            if collector.hasPublished || (!alsoSocket && collector.isFinished) {
                collector.bell.disarm()
                continue
            }
            let rc = Self.wait(handle: handle, events: ZMQ_POLLIN, bell: collector.bell, until: deadline)
            collector.bell.disarm()
            if rc != 0 { return rc }
        }
    }

    // MARK: For a Poller

    /// Whether the rings (or, with ``alsoSocket``, the socket's peers as `zmqEvents` says)
    /// could take a message now / have one now.
    func readiness(zmqEvents: Int16) -> PollEvents {
        var events: PollEvents = []
        if let collector, collector.hasPublished || receivingOnSocket || (alsoSocket && zmqEvents & Int16(ZMQ_POLLIN) != 0) {
            events.insert(.readable)
        }
        if let dispatcher, dispatcher.hasOpenRoom || sendingOnSocket || (alsoSocket && zmqEvents & Int16(ZMQ_POLLOUT) != 0) {
            events.insert(.writable)
        }
        return events
    }

    /// The bells a poll for `events` must also wait on.
    func bells(for events: PollEvents) -> [Doorbell] {
        var bells: [Doorbell] = []
        if events.contains(.readable), let collector { bells.append(collector.bell) }
        if events.contains(.writable), let dispatcher { bells.append(dispatcher.bell) }
        return bells
    }

    // MARK: libzmq

    /// When a wait with the socket's `option` timeout (`ZMQ_SNDTIMEO`, `ZMQ_RCVTIMEO`) ends;
    /// nil: never.
    static func deadline(_ handle: UnsafeMutableRawPointer, _ option: CInt) -> ContinuousClock.Instant? {
        var ms: CInt = -1
        var size = MemoryLayout<CInt>.size
        guard zmq_getsockopt(handle, option, &ms, &size) == 0, ms >= 0 else { return nil }
        return ContinuousClock.now + .milliseconds(ms)
    }

    /// Polls the socket for `events` and the bell until either is ready or `deadline` passes:
    /// 0 (look again), EAGAIN (the deadline passed), or the errno of a failure.
    static func wait(handle: UnsafeMutableRawPointer, events: CInt, bell: Doorbell,
                     until deadline: ContinuousClock.Instant?) -> CInt {
        var timeout: CLong = -1
        if let deadline {
            let left = deadline - ContinuousClock.now
            if left <= .zero { return EAGAIN }
            // Rounded up: a wait rounded down to 0 ms would spin until the deadline.
            timeout = CLong(Socket.milliseconds(left)) + 1
        }
        var items = (zmq_pollitem_t(socket: handle, fd: 0, events: Int16(events), revents: 0),
                     zmq_pollitem_t(socket: nil, fd: bell.fileDescriptor, events: Int16(ZMQ_POLLIN), revents: 0))
        let rc = withUnsafeMutableBytes(of: &items) {
            zmq_poll($0.baseAddress!.assumingMemoryBound(to: zmq_pollitem_t.self), 2, timeout)
        }
        if rc < 0 {
            let code = zmq_errno()
            return code == EINTR ? 0 : code
        }
        if items.1.revents != 0 { bell.clear() }
        return 0
    }
}
