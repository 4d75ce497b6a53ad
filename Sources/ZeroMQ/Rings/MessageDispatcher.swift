#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One producer thread's side of several ``MessageRing``s, one per consumer: deals each
/// message to the next ring with room, round robin, as a PUSH socket load-balances over its
/// peers; waits when every ring is full (backpressure, never loss).
///
/// A multipart message goes whole into one ring. The rings must share this dispatcher's
/// ``bell`` as their producer bell (``MessageRing/init(limit:consumerBell:producerBell:)``).
public final class MessageDispatcher {
    /// The rings, in dealing order.
    public let rings: [MessageRing]
    /// Unretained copies of ``rings`` (which owns them): a per-message call through one costs
    /// no retain and release.
    @usableFromInline let unretained: [Unmanaged<MessageRing>]
    /// Rung by a consumer that freed space while this producer waited.
    public let bell: Doorbell
    /// How often to yield the CPU (`sched_yield`) and look again before sleeping on the bell.
    public let yields: Int
    /// The ring of the message under way, or the one to try first for the next.
    @usableFromInline @exclusivity(unchecked) var current = 0
    @usableFromInline @exclusivity(unchecked) var midMessage = false

    public init(rings: [MessageRing], bell: Doorbell, yields: Int = 2) {
        precondition(!rings.isEmpty, "a dispatcher needs a ring")
        precondition(rings.allSatisfy { $0.producerBell === bell }, "every ring rings this dispatcher's bell")
        self.rings = rings
        unretained = rings.map(Unmanaged.passUnretained)
        self.bell = bell
        self.yields = yields
    }

    /// Writes `message` without waiting: into the ring of the message under way, or the next
    /// ring with room. ``MessageRing/WriteResult/full`` when every open ring is full;
    /// ``MessageRing/WriteResult/closed`` when every ring is closed.
    @inlinable
    public func write(_ message: inout Message, more: Bool = false) -> MessageRing.WriteResult {
        // One ring keeps a message whole by itself, and a ``RingPort`` writes a single ring
        // directly too: no state here, so the two ways of writing it cannot disagree.
        if unretained.count == 1 { return unretained[0]._withUnsafeGuaranteedRef { $0.write(&message, more: more) } }
        if midMessage {
            let result = unretained[current]._withUnsafeGuaranteedRef { $0.write(&message, more: more) }
            if result == .written {
                midMessage = more
                if !more { current = current &+ 1 == unretained.count ? 0 : current &+ 1 }
            }
            return result
        }
        var index = current
        var closed = 0
        for _ in 0..<unretained.count {
            switch unretained[index]._withUnsafeGuaranteedRef({ $0.write(&message, more: more) }) {
            case .written:
                midMessage = more
                current = more ? index : (index &+ 1 == unretained.count ? 0 : index &+ 1)
                return .written
            case .full:
                break
            case .closed:
                closed &+= 1
            }
            index = index &+ 1 == unretained.count ? 0 : index &+ 1
        }
        return closed == unretained.count ? .closed : .full
    }

    /// Writes `message`, waiting while every ring is full, for at most `timeout` (nil: as long
    /// as it takes). ``MessageRing/WriteResult/full`` only when the timeout passed.
    public func send(_ message: inout Message, more: Bool = false, timeout: Duration? = nil) -> MessageRing.WriteResult {
        let result = write(&message, more: more)
        if result != .full { return result }
        return sendWaiting(&message, more: more, timeout: timeout)
    }

    @inline(never)
    func sendWaiting(_ message: inout Message, more: Bool, timeout: Duration?) -> MessageRing.WriteResult {
        bell.sleep(yields: yields, timeout: timeout, timedOut: .full, attempt: {
            let result = write(&message, more: more)
            return result == .full ? nil : result
        }, ready: { hasRoom })
    }

    /// Whether a message is under way (its later frames always fit): the ring's own state, so
    /// that it holds however the ring was written (through here, or directly by a ``RingPort``).
    @inlinable public var isMidMessage: Bool { unretained[current]._withUnsafeGuaranteedRef { $0.midMessage } }

    /// Whether an open ring could take the next write (closed rings never will).
    public var hasOpenRoom: Bool {
        isMidMessage || rings.contains { !$0.isClosed && !$0.isFull }
    }

    /// Whether the next write would not be refused as full: the ring of the message under way,
    /// an open ring not full, or the end (every ring closed: the write reports it).
    public var hasRoom: Bool {
        if isMidMessage { return true }
        return rings.contains { !$0.isClosed && !$0.isFull } || rings.allSatisfy(\.isClosed)
    }

    /// Closes every ring (the consumers read what is in them, then see the end).
    public func close() {
        for ring in rings { ring.close() }
    }
}
