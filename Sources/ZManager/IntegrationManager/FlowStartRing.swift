import Synchronization

/// Flow starts on their way from the Subject's thread to the Integration Manager's: a
/// single-producer, single-consumer ring in the LMAX Disruptor's design, two sequences
/// (published by the Subject, consumed by the IM), each on cache lines of its own.
///
/// The table of open flows (``FlowDeadlines``) used to be shared under a lock that both threads
/// took on every flow; measured under load (tcp, 1000 in flight) that cost the Subject 1.2 µs and
/// the IM 2.2 µs per message. Now the Subject writes a slot and publishes it with one release
/// store, and the IM, the table's only owner, takes every published slot before it looks at an
/// end, so a start is always in the table before its flow's end is matched (the Subject
/// publishes the slot before it sends the flow on).
///
/// The Subject never waits for room: when the ring is full (the IM has not looked for
/// 16 384 starts) starts go to a locked overflow list until the IM has taken it, so order is kept.
final class FlowStartRing: @unchecked Sendable {
    // @unchecked Sendable: `slots` and the `producer…` fields are touched by the producing
    // thread only and `consumerNext` by the consuming thread only; a slot passes from one to
    // the other through `published` (release/acquire) and back through `consumed`.
    struct Start {
        var id: FlowKey
        var flow: FlowKey
        var form: WireForm
        /// Nanoseconds since the owner's epoch (``FlowDeadlines``).
        var started: Int64
        /// The whole id and flow name, for those longer than a key keeps (``FlowKey/isWhole``);
        /// nil otherwise, which is every UUID.
        var longTexts: (id: String?, flow: String?) = (nil, nil)
    }

    static let capacity = 16_384
    private static let mask = capacity - 1
    private let slots: UnsafeMutablePointer<Start>

    private let leadingPadding = CacheLinePadding()
    /// Slots written so far (the Subject's sequence).
    private let published = Atomic<Int>(0)
    private var producerNext = 0
    private var producerSeenConsumed = 0
    private let middlePadding = CacheLinePadding()
    /// Slots taken so far (the IM's sequence).
    private let consumed = Atomic<Int>(0)
    private var consumerNext = 0
    private let trailingPadding = CacheLinePadding()

    /// Starts that found the ring full, oldest first; while it is not empty the Subject adds to
    /// it rather than to the ring, so the IM sees starts in order.
    private let overflow = Mutex<[Start]>([])
    private let overflowing = Atomic<Bool>(false)

    init() {
        slots = .allocate(capacity: Self.capacity)
        let empty = Start(id: FlowKey(""), flow: FlowKey(""), form: .single, started: 0)
        slots.initialize(repeating: empty, count: Self.capacity)
    }

    deinit {
        slots.deinitialize(count: Self.capacity)
        slots.deallocate()
    }

    /// The producer (the Subject's thread): hands a start to the consumer.
    func push(_ start: Start) {
        if !overflowing.load(ordering: .acquiring) {
            if producerNext - producerSeenConsumed == Self.capacity {
                producerSeenConsumed = consumed.load(ordering: .acquiring)
            }
            if producerNext - producerSeenConsumed < Self.capacity {
                slots[producerNext & Self.mask] = start
                producerNext += 1
                published.store(producerNext, ordering: .releasing)
                return
            }
        }
        overflow.withLock { list in
            list.append(start)
            overflowing.store(true, ordering: .releasing)
        }
    }

    /// The consumer (the IM's thread): calls `body` with every start handed over so far, in order.
    func drain(_ body: (Start) -> Void) {
        drainRing(body)
        guard overflowing.load(ordering: .acquiring) else { return }
        // Everything the ring took before the overflow began is published by now: take it first.
        drainRing(body)
        let late = overflow.withLock { list in
            let taken = list
            list.removeAll(keepingCapacity: true)
            overflowing.store(false, ordering: .releasing)
            return taken
        }
        for start in late { body(start) }
    }

    private func drainRing(_ body: (Start) -> Void) {
        let end = published.load(ordering: .acquiring)
        guard consumerNext < end else { return }
        while consumerNext < end {
            body(slots[consumerNext & Self.mask])
            consumerNext += 1
        }
        consumed.store(consumerNext, ordering: .releasing)
    }
}
