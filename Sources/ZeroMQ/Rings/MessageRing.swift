public import CZeroMQ
public import Synchronization

/// A bounded ring of message frames from one producer thread to one consumer thread, without
/// locks or syscalls while both are busy: the in-process alternative to an inproc PUSH/PULL
/// pair.
///
/// The design is the LMAX Disruptor's for one producer: two sequences, each in a cache line of
/// its own — the producer's `cursor` (frames published) and the consumer's `consumed` (frames
/// taken) — and each side keeps a private copy of the other's sequence, so it touches the
/// shared line only when its copy says the ring is full (or empty). A slot holds a `zmq_msg_t`:
/// ``write(_:more:)`` moves the message in (no copy of the body; the caller's ``Message`` is
/// left empty and reusable, as after ``Socket/send(_:more:dontWait:)``), ``read(into:)`` moves
/// it out. A move is a bitwise copy of the 64-byte `zmq_msg_t` and a fresh `zmq_msg_init` of
/// the source, which is what libzmq's own pipes do with a message (`pipe_t::write` copies the
/// struct into its queue and re-inits the caller's) and what `zmq_msg_move` does after its
/// checks; the two calls of `zmq_msg_move` per hop cost about 110 instructions (callgrind). The cursor is published once per whole message (after its
/// last frame), so the consumer never sees part of a multipart message.
///
/// Backpressure, never loss: a full ring refuses the write (``WriteResult/full``) and the
/// message stays with the caller; ``MessageDispatcher`` waits or tries another ring. As in
/// libzmq, the limit is checked on a message's first frame only: its further frames use the
/// ``slack`` above the limit, so a message that was started always fits.
///
/// Sleeping: the consumer's ``Doorbell`` (shared by every ring one consumer reads) is rung
/// when a publication finds it armed; the producer's (shared by every ring it writes) when the
/// consumer frees space in a ring whose producer armed it. See ``Doorbell`` for the protocol.
///
/// Closing: ``close()`` (either side, or an owner) refuses further writes; the consumer still
/// reads what was published, then gets ``ReadResult/closed``. Frames left in the ring when it
/// is destroyed are closed (`zmq_msg_close`), so nothing leaks.
public final class MessageRing: @unchecked Sendable {
    // @unchecked Sendable: the fields marked "producer" are touched only by the one producer
    // thread, those marked "consumer" only by the one consumer thread (the type's contract,
    // like a socket's: one thread per end); what both read is in `shared`, atomics, each in a
    // 128-byte block of its own so that the two sides never write one cache line.

    /// Frames above ``limit`` that the rest of a started message may use.
    public static let slack = 16

    @usableFromInline let slots: UnsafeMutablePointer<zmq_msg_t>
    @usableFromInline let moreFlags: UnsafeMutablePointer<Bool>
    @usableFromInline let mask: Int
    /// Frames the ring may hold before it refuses a new message.
    public let limit: Int
    /// Frames published (producer writes), frames consumed (consumer writes), closed: one
    /// 128-byte block each.
    @usableFromInline let shared: UnsafeMutableRawPointer
    @usableFromInline var cursor: UnsafeMutablePointer<Atomic<Int>> { shared.assumingMemoryBound(to: Atomic<Int>.self) }
    @usableFromInline var consumed: UnsafeMutablePointer<Atomic<Int>> { (shared + 128).assumingMemoryBound(to: Atomic<Int>.self) }
    @usableFromInline var closedFlag: UnsafeMutablePointer<Atomic<Bool>> { (shared + 256).assumingMemoryBound(to: Atomic<Bool>.self) }

    /// Rung when a message is published and the consumer armed it.
    public let consumerBell: Doorbell
    /// Rung when space is freed and the producer armed it.
    public let producerBell: Doorbell

    // Producer: the next sequence to write, the consumer's sequence as last read, and whether
    // the last frame written had `more` (a message is under way).
    @usableFromInline @exclusivity(unchecked) var claimed = 0
    @usableFromInline @exclusivity(unchecked) var knownConsumed = 0
    @usableFromInline @exclusivity(unchecked) var midMessage = false
    // Consumer: the next sequence to read, the cursor as last read, and whether the last frame
    // read had `more` (the rest of its message is published and comes next).
    @usableFromInline @exclusivity(unchecked) var next = 0
    @usableFromInline @exclusivity(unchecked) var knownCursor = 0
    @usableFromInline @exclusivity(unchecked) var readingMidMessage = false

    /// - Parameters:
    ///   - limit: frames the ring holds before it refuses a new message (a high-water mark);
    ///     at least 1.
    ///   - consumerBell: the consumer's bell (one per consumer thread, shared by its rings).
    ///   - producerBell: the producer's bell (one per producer thread, shared by its rings).
    public init(limit: Int, consumerBell: Doorbell = Doorbell(), producerBell: Doorbell = Doorbell()) {
        precondition(limit >= 1, "a ring holds at least one frame")
        self.limit = limit
        var capacity = 1
        while capacity < limit + Self.slack { capacity <<= 1 }
        mask = capacity - 1
        slots = .allocate(capacity: capacity)
        moreFlags = .allocate(capacity: capacity)
        moreFlags.initialize(repeating: false, count: capacity)
        shared = .allocate(byteCount: 3 * 128, alignment: 128)
        shared.bindMemory(to: Atomic<Int>.self, capacity: 1).initialize(to: Atomic(0))
        (shared + 128).bindMemory(to: Atomic<Int>.self, capacity: 1).initialize(to: Atomic(0))
        (shared + 256).bindMemory(to: Atomic<Bool>.self, capacity: 1).initialize(to: Atomic(false))
        self.consumerBell = consumerBell
        self.producerBell = producerBell
    }

    deinit {
        // The slots from the next unread to the last written (published or not) hold messages;
        // the others hold stale copies of messages moved out, which must not be closed again.
        // Both ends' threads are done with the ring by now.
        var sequence = next
        while sequence != claimed {
            zmq_msg_close(slots + (sequence & mask))
            sequence &+= 1
        }
        slots.deallocate()
        moreFlags.deallocate()
        shared.deallocate()
    }

    /// Slots in the ring (a power of two, at least ``limit`` + ``slack``).
    public var capacity: Int { mask + 1 }

    public enum WriteResult: Sendable, Equatable {
        /// Moved in; the caller's message is empty.
        case written
        /// The ring is at its limit (or, for a later frame of a message, at its capacity); the
        /// message is still the caller's.
        case full
        /// The ring was closed; the message is still the caller's.
        case closed
    }

    public enum ReadResult: Sendable, Equatable {
        /// A frame was moved into the caller's message; `more`: further frames of the same
        /// message follow (and are already published).
        case frame(more: Bool)
        /// Nothing published yet.
        case empty
        /// Closed, and everything published has been read.
        case closed
    }

    // MARK: Producer

    /// Moves `message` into the ring as the next frame (producer thread only). The message is
    /// published with its last frame (`more == false`), and the consumer's bell rung if armed.
    @inlinable @inline(__always)
    public func write(_ message: inout Message, more: Bool = false) -> WriteResult {
        let sequence = claimed
        let room = midMessage ? mask + 1 : limit
        if sequence - knownConsumed >= room {
            knownConsumed = consumed.pointee.load(ordering: .acquiring)
            if sequence - knownConsumed >= room { return closedFlag.pointee.load(ordering: .relaxed) ? .closed : .full }
        }
        if !midMessage, closedFlag.pointee.load(ordering: .relaxed) { return .closed }
        let slot = sequence & mask
        // The slot holds nothing live (a stale copy of a message read out, or never used).
        UnsafeMutableRawPointer(slots + slot).copyMemory(from: message.msg, byteCount: MemoryLayout<zmq_msg_t>.size)
        zmq_msg_init(message.msg)
        message.ringMore = -1
        moreFlags[slot] = more
        claimed = sequence &+ 1
        midMessage = more
        if !more {
            // Sequentially consistent: ordered before the load of the consumer's armed flag.
            cursor.pointee.store(claimed, ordering: .sequentiallyConsistent)
            consumerBell.ringIfArmed()
        }
        return .written
    }

    /// Whether a new message would be refused as full now (producer thread only; a ring the
    /// consumer drains meanwhile may have room a moment later).
    @inlinable
    public var isFull: Bool {
        if claimed - knownConsumed < limit { return false }
        knownConsumed = consumed.pointee.load(ordering: .sequentiallyConsistent)
        return claimed - knownConsumed >= limit
    }

    // MARK: Consumer

    /// Moves the next published frame into `message` (consumer thread only), replacing its
    /// previous content.
    @inlinable @inline(__always)
    public func read(into message: inout Message) -> ReadResult {
        let sequence = next
        if sequence == knownCursor {
            knownCursor = cursor.pointee.load(ordering: .acquiring)
            if sequence == knownCursor { return isClosedAndDrained ? .closed : .empty }
        }
        let slot = sequence & mask
        // The destination's previous content is released, as a receive does.
        zmq_msg_close(message.msg)
        UnsafeMutableRawPointer(message.msg).copyMemory(from: slots + slot, byteCount: MemoryLayout<zmq_msg_t>.size)
        let more = moreFlags[slot]
        // libzmq's own flag in the moved `zmq_msg_t` says what the producer's message said
        // when it was received, not what was written here.
        message.ringMore = more ? 1 : 0
        readingMidMessage = more
        next = sequence &+ 1
        // Sequentially consistent: ordered before the load of the producer's armed flag.
        consumed.pointee.store(next, ordering: .sequentiallyConsistent)
        producerBell.ringIfArmed()
        return .frame(more: more)
    }

    /// Whether a frame is published and unread (consumer thread only). Sequentially
    /// consistent, for the look after arming the bell.
    @inlinable
    public var hasPublished: Bool {
        if next != knownCursor { return true }
        knownCursor = cursor.pointee.load(ordering: .sequentiallyConsistent)
        return next != knownCursor
    }

    @usableFromInline var isClosedAndDrained: Bool {
        guard closedFlag.pointee.load(ordering: .acquiring) else { return false }
        // A publication before the close is visible after the acquire above.
        knownCursor = cursor.pointee.load(ordering: .acquiring)
        return next == knownCursor
    }

    // MARK: Either side

    /// Refuses further messages (a message under way may still be finished) and wakes both
    /// sides, so that a sleeper looks and sees it.
    public func close() {
        closedFlag.pointee.store(true, ordering: .sequentiallyConsistent)
        consumerBell.ring()
        producerBell.ring()
    }

    public var isClosed: Bool { closedFlag.pointee.load(ordering: .acquiring) }
}
