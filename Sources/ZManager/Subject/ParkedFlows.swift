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
    private var earliest: ContinuousClock.Instant?

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
        if earliest.map({ deadline < $0 }) ?? true { earliest = deadline }
        return .parked
    }

    /// The entry parked under `id`, left in place.
    func entry(id: String) -> Entry? { entries[id] }

    mutating func resume(id: String) -> Entry? {
        entries.removeValue(forKey: id)
    }

    /// Removes and returns the entries whose deadline has passed. Cheap when nothing is due.
    mutating func expire(now: ContinuousClock.Instant) -> [(id: String, entry: Entry)] {
        guard let earliest, earliest <= now else { return [] }
        var expired: [(id: String, entry: Entry)] = []
        var next: ContinuousClock.Instant?
        for (id, entry) in entries {
            if entry.deadline <= now {
                expired.append((id, entry))
            } else if next.map({ entry.deadline < $0 }) ?? true {
                next = entry.deadline
            }
        }
        for (id, _) in expired { entries.removeValue(forKey: id) }
        self.earliest = next
        return expired
    }
}

/// ASYNC settings of a node.
public struct AsyncOptions: Sendable {
    /// How long a flow may stay parked before it fails with ``ErrorKind/asyncTimeout``.
    public var timeout: Duration = .seconds(30)
    /// How many flows may be parked at once.
    public var capacity: Int = 10_000
    public init(timeout: Duration = .seconds(30), capacity: Int = 10_000) {
        self.timeout = timeout
        self.capacity = capacity
    }
}
