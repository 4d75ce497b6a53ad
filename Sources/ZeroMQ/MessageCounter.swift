import Synchronization

/// Counts whole messages a socket sent (``Socket/countSentMessages(in:)``), for metrics.
///
/// A socket adds one when it sends a message's last frame, so a multipart message counts once.
/// Several sockets may share a counter, from several threads (one role's sockets, or every
/// worker's); any thread may read it.
public final class MessageCounter: @unchecked Sendable {
    // @unchecked Sendable: `slot` is written once, in init; afterwards threads touch only the
    // atomic it points to. The atomic lives in a block of its own, 128 bytes and 128-byte
    // aligned, so counters written by different threads (the Subject's, the workers') never
    // share a cache line; and a socket can hold the raw pointer, so a send pays no retain and
    // release of this object (about 50 instructions, callgrind).
    let slot: UnsafeMutablePointer<Atomic<Int>>

    public init() {
        slot = UnsafeMutableRawPointer.allocate(byteCount: 128, alignment: 128)
            .bindMemory(to: Atomic<Int>.self, capacity: 1)
        slot.initialize(to: Atomic(0))
    }

    deinit {
        slot.deinitialize(count: 1)
        slot.deallocate()
    }

    /// Messages counted so far.
    public var value: Int { slot.pointee.load(ordering: .relaxed) }
}
