/// Flows paused at an ASYNC step, waiting for an external party's response.
///
/// Kept by the Subject, which every response passes through on its way to a worker, so the
/// response may arrive at any worker, worker process or service instance. The position is
/// also carried in the response's own header (flow name, ASYNC step key, id), so the
/// worker that continues needs no state of its own. Bounded in number and in time: a full
/// table refuses to park (``ErrorKind/asyncCapacity``) and an entry older than the timeout
/// is dropped with an ``ErrorKind/asyncTimeout`` error message.
struct ParkedFlows {
    struct Entry {
        let position: FlowPosition
        let deadline: ContinuousClock.Instant
        let form: WireForm
    }

    let capacity: Int
    let timeout: Duration
    private(set) var entries: [String: Entry] = [:]
    /// Ids in park order with their deadlines. The timeout is the same for every flow, so
    /// deadlines grow in park order and expiry looks only at the front: O(1) per expired flow,
    /// nothing per message while none is due. A flow resumed early leaves its record behind;
    /// the record is skipped when it reaches the front (its id is gone or parked again later
    /// under a newer deadline), and records are compacted when they outnumber twice the capacity.
    private var order: [(id: String, deadline: ContinuousClock.Instant)] = []
    private var front = 0

    init(capacity: Int, timeout: Duration) {
        self.capacity = capacity
        self.timeout = timeout
    }

    var count: Int { entries.count }

    enum ParkOutcome { case parked, full, duplicate }

    mutating func park(id: String, at position: FlowPosition, form: WireForm, now: ContinuousClock.Instant) -> ParkOutcome {
        guard entries[id] == nil else { return .duplicate }
        guard entries.count < capacity else { return .full }
        let deadline = now + timeout
        entries[id] = Entry(position: position, deadline: deadline, form: form)
        order.append((id, deadline))
        // Flows resumed long before their deadline leave records behind; keep them bounded by
        // the capacity. Each compaction follows at least `capacity + 1024` parks: amortised O(1).
        if order.count - front > 2 * capacity + 1024 {
            order = order[front...].filter { entries[$0.id]?.deadline == $0.deadline }
            front = 0
        }
        return .parked
    }

    /// The entry parked under `id`, left in place.
    func entry(id: String) -> Entry? { entries[id] }

    mutating func resume(id: String) -> Entry? {
        entries.removeValue(forKey: id)
    }

    /// Removes and returns the entries whose deadline has passed, oldest first.
    mutating func expire(now: ContinuousClock.Instant) -> [(id: String, entry: Entry)] {
        var expired: [(id: String, entry: Entry)] = []
        while front < order.count, order[front].deadline <= now {
            let (id, deadline) = order[front]
            front += 1
            if let entry = entries[id], entry.deadline == deadline {
                entries.removeValue(forKey: id)
                expired.append((id, entry))
            }
        }
        // Drop the consumed records once they are most of the array (amortised O(1)), or all
        // of them when the array is empty of live ones.
        if front == order.count {
            order.removeAll(keepingCapacity: true)
            front = 0
        } else if front > 1024 && front * 2 > order.count {
            order.removeFirst(front)
            front = 0
        }
        return expired
    }

    /// Moves every entry to `move(position)` (after a reload of the flows), keeping its
    /// deadline; removes and returns those that have nowhere to go.
    mutating func remap(_ move: (FlowPosition) -> FlowPosition?) -> [(id: String, entry: Entry)] {
        var gone: [(id: String, entry: Entry)] = []
        for (id, entry) in entries {
            if let position = move(entry.position) {
                entries[id] = Entry(position: position, deadline: entry.deadline, form: entry.form)
            } else {
                entries.removeValue(forKey: id)
                gone.append((id, entry))
            }
        }
        return gone
    }

    /// Records kept for expiry, live or stale (for tests: bounded by parks since the oldest live one).
    var recordCount: Int { order.count - front }
}

/// ASYNC settings of a node.
public struct AsyncOptions: Sendable {
    /// How long a flow may stay parked before it fails with ``ErrorKind/asyncTimeout``.
    public var timeout: Duration = .seconds(30)
    /// How many flows may be parked at once.
    public var capacity: Int = 10_000
    /// How long an answer that arrives before its flow is parked waits for the park
    /// (``EarlyAnswers``); after that it gets its `async_unknown` NOTICE.
    public var earlyAnswerWindow: Duration = .seconds(1)
    /// How many such answers wait at once; more get their NOTICE at once.
    public var earlyAnswerCapacity: Int = 1_024
    public init(timeout: Duration = .seconds(30), capacity: Int = 10_000,
                earlyAnswerWindow: Duration = .seconds(1), earlyAnswerCapacity: Int = 1_024) {
        self.timeout = timeout
        self.capacity = capacity
        self.earlyAnswerWindow = earlyAnswerWindow
        self.earlyAnswerCapacity = earlyAnswerCapacity
    }
}
