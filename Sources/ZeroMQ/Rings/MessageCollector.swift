#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One consumer thread's side of several ``MessageRing``s, one per producer: reads them fairly
/// (round robin, a whole message at a time), as a PULL socket fair-queues its peers, and
/// sleeps on its ``bell`` when all are empty.
///
/// The rings must share this collector's ``bell`` as their consumer bell
/// (``MessageRing/init(limit:consumerBell:producerBell:)``).
public final class MessageCollector {
    /// The rings, in reading order.
    public let rings: [MessageRing]
    /// Unretained copies of ``rings`` (which owns them): a per-message call through one costs
    /// no retain and release.
    @usableFromInline let unretained: [Unmanaged<MessageRing>]
    /// Rung by a producer that published while this consumer slept.
    public let bell: Doorbell
    /// How often to yield the CPU (`sched_yield`) and look again before sleeping on the bell.
    public let yields: Int
    /// The ring of the message under way, or the one to look at first for the next.
    @usableFromInline @exclusivity(unchecked) var current = 0
    @usableFromInline @exclusivity(unchecked) var midMessage = false

    public init(rings: [MessageRing], bell: Doorbell, yields: Int = 2) {
        precondition(!rings.isEmpty, "a collector needs a ring")
        precondition(rings.allSatisfy { $0.consumerBell === bell }, "every ring rings this collector's bell")
        self.rings = rings
        unretained = rings.map(Unmanaged.passUnretained)
        self.bell = bell
        self.yields = yields
    }

    /// Reads the next frame without waiting: the rest of the message under way, or the first
    /// frame of the next ring's next message. ``MessageRing/ReadResult/empty`` when no ring has
    /// one; ``MessageRing/ReadResult/closed`` when every ring is closed and drained.
    @inlinable
    public func read(into message: inout Message) -> MessageRing.ReadResult {
        // One ring keeps a message whole by itself, and a ``RingPort`` reads a single ring
        // directly too: no state here, so the two ways of reading it cannot disagree (a
        // `midMessage` left set by one way made `hasPublished` true for ever: a worker spun).
        if unretained.count == 1 { return unretained[0]._withUnsafeGuaranteedRef { $0.read(into: &message) } }
        if midMessage {
            // Published whole: the rest of the message is there.
            let result = unretained[current]._withUnsafeGuaranteedRef { $0.read(into: &message) }
            if case .frame(let more) = result {
                midMessage = more
                if !more { current = current &+ 1 == unretained.count ? 0 : current &+ 1 }
            }
            return result
        }
        var index = current
        var closed = 0
        for _ in 0..<unretained.count {
            let result = unretained[index]._withUnsafeGuaranteedRef { $0.read(into: &message) }
            switch result {
            case .frame(let more):
                midMessage = more
                current = more ? index : (index &+ 1 == unretained.count ? 0 : index &+ 1)
                return result
            case .empty:
                break
            case .closed:
                closed &+= 1
            }
            index = index &+ 1 == unretained.count ? 0 : index &+ 1
        }
        return closed == unretained.count ? .closed : .empty
    }

    /// Reads the next frame, waiting for one for at most `timeout` (nil: as long as it takes).
    /// ``MessageRing/ReadResult/empty`` only when the timeout passed.
    public func receive(into message: inout Message, timeout: Duration? = nil) -> MessageRing.ReadResult {
        let result = read(into: &message)
        if result != .empty { return result }
        return receiveWaiting(into: &message, timeout: timeout)
    }

    @inline(never)
    func receiveWaiting(into message: inout Message, timeout: Duration?) -> MessageRing.ReadResult {
        bell.sleep(yields: yields, timeout: timeout, timedOut: .empty, attempt: {
            let result = read(into: &message)
            return result == .empty ? nil : result
        }, ready: { hasNews })
    }

    /// Whether a message is under way (its later frames are published and come next from the
    /// same ring): the ring's own state, so that it holds however the ring was read (through
    /// here, or directly by a ``RingPort``).
    @inlinable public var isMidMessage: Bool { unretained[current]._withUnsafeGuaranteedRef { $0.readingMidMessage } }

    /// Whether a frame is published and unread in any ring (after arming the bell: the look
    /// that decides whether to sleep).
    public var hasPublished: Bool {
        isMidMessage || rings.contains { $0.hasPublished }
    }

    /// Whether every ring is closed and drained: nothing will ever come from them.
    public var isFinished: Bool {
        rings.allSatisfy { $0.isClosed && !$0.hasPublished }
    }

    /// Whether a read would find something: a published frame, or the end (every ring closed).
    public var hasNews: Bool {
        rings.contains { $0.hasPublished } || rings.allSatisfy(\.isClosed)
    }

    /// Closes every ring (their producers' writes are refused from now on).
    public func close() {
        for ring in rings { ring.close() }
    }
}
