import Synchronization

/// Every started flow's deadline (``RoleLimits/flowTimeout``): the Subject records a flow when
/// it starts one, the Integration Manager ends it when the flow's result or error passes, and
/// once the deadline is past the IM ends the flow itself with ``ErrorKind/flowTimeout``. A result
/// or error that comes after that is dropped, so a service sees one end per flow.
///
/// Only the Subject sees a flow start and only the IM sees every end, and they run on two
/// threads of one process (in every deployment the workers are what moves out), so the table is
/// shared under a lock. That costs a lock, a dictionary update and an allocation for the id on
/// each side of every flow, which is why deadlines are off unless the configuration sets one;
/// with them off a role pays one `nil` check per flow.
///
/// Flows are keyed by id as the error messages carry it (``Outbound/sanitize(_:)``: at most 200
/// characters). Deadlines are monotonic in start order, so expiry looks at the oldest starts only.
public final class FlowDeadlines: Sendable {
    /// A flow the IM ended at its deadline.
    struct Expired: Equatable {
        let id: String
        let flow: String
        let form: WireForm
    }

    private struct Start {
        let id: String
        let flow: String
        let form: WireForm
        let deadline: ContinuousClock.Instant
    }

    /// A flow open under an id: how many (ids may repeat), and the first one's start and flow.
    private struct Open {
        var count: Int
        let flow: String
        let started: ContinuousClock.Instant
    }

    private struct State {
        /// Open flows by id.
        var open: [String: Open] = [:]
        /// Starts, oldest first, from `head` on; entries of flows that ended since stay until
        /// expiry passes them or a compaction drops them.
        var starts: [Start] = []
        var head = 0
        /// Starts in `starts` whose flow ended already.
        var ended = 0
        /// Ids ended by their deadline, until another timeout has passed (late ends are dropped
        /// meanwhile), oldest first from `timedOutHead`.
        var timedOut: [String: Int] = [:]
        var timedOutOrder: [(id: String, forgetAt: ContinuousClock.Instant)] = []
        var timedOutHead = 0
    }

    public let timeout: Duration
    private let state = Mutex(State())
    /// Each result's time from intake, per flow (``FlowLatencies``).
    public let latencies = FlowLatencies()

    public init(timeout: Duration) {
        precondition(timeout > .zero, "a flow timeout must be positive")
        self.timeout = timeout
    }

    /// The Subject started a flow.
    func started(id: String, flow: String, form: WireForm, now: ContinuousClock.Instant) {
        let key = Self.key(id)
        state.withLock { state in
            if state.open[key] != nil {
                state.open[key]!.count += 1
            } else {
                state.open[key] = Open(count: 1, flow: flow, started: now)
            }
            state.starts.append(Start(id: key, flow: flow, form: form, deadline: now + timeout))
        }
    }

    /// What a result or error that reached the IM ends.
    enum End: Equatable {
        /// A flow the Subject started and that was open: it ends here, and counts as its end.
        case open
        /// No open flow has the id: a flow that ended already (a second service instance
        /// finishing it, a forked PUBLISH step), or messages no `Push` started (an error for a
        /// message sent straight to a worker, a broadcast nobody hears). Published, but not an
        /// end: counted in ``CoreStatistics/endsOutsideFlows``, so in-flight stays exact.
        case outsideFlow
        /// The flow was ended by its deadline already: the message is late and is dropped.
        case late
    }

    /// A result or error for `id` reached the IM. A result's time since its start goes into
    /// ``latencies`` (with a repeated id, since the first open start).
    func ended(id: String, result: Bool = false, now: @autoclosure () -> ContinuousClock.Instant = .now) -> End {
        let key = Self.key(id)
        let ended: (End, Open?) = state.withLock { state in
            if let open = state.open[key] {
                if open.count > 1 { state.open[key]!.count -= 1 } else { state.open[key] = nil }
                state.ended += 1
                Self.compactIfWorthIt(&state)
                return (.open, open)
            }
            return (state.timedOut[key] == nil ? .outsideFlow : .late, nil)
        }
        if result, let open = ended.1 {
            let elapsed = (now() - open.started).components
            latencies.record(flow: open.flow, seconds: Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18)
        }
        return ended.0
    }

    /// Whether a message for `id` belongs to a flow ended by its deadline (a step still on its
    /// way to a service, for example): it is dropped.
    func isTimedOut(id: String) -> Bool {
        let key = Self.key(id)
        return state.withLock { $0.open[key] == nil && $0.timedOut[key] != nil }
    }

    /// Ends every open flow whose deadline is past and returns them; forgets timed-out ids one
    /// timeout after their end.
    func expire(now: ContinuousClock.Instant) -> [Expired] {
        state.withLock { state in
            var expired: [Expired] = []
            while state.head < state.starts.count, state.starts[state.head].deadline <= now {
                let start = state.starts[state.head]
                state.head += 1
                guard let open = state.open[start.id] else {
                    state.ended -= 1
                    continue
                }
                if open.count > 1 { state.open[start.id]!.count -= 1 } else { state.open[start.id] = nil }
                expired.append(Expired(id: start.id, flow: start.flow, form: start.form))
                state.timedOut[start.id, default: 0] += 1
                state.timedOutOrder.append((start.id, now + timeout))
            }
            while state.timedOutHead < state.timedOutOrder.count, state.timedOutOrder[state.timedOutHead].forgetAt <= now {
                let id = state.timedOutOrder[state.timedOutHead].id
                state.timedOutHead += 1
                if let count = state.timedOut[id] { state.timedOut[id] = count > 1 ? count - 1 : nil }
            }
            if state.timedOutHead > 1_024, state.timedOutHead * 2 > state.timedOutOrder.count {
                state.timedOutOrder.removeFirst(state.timedOutHead)
                state.timedOutHead = 0
            }
            if state.head > 1_024, state.head * 2 > state.starts.count {
                state.starts.removeFirst(state.head)
                state.head = 0
            }
            return expired
        }
    }

    /// Flows open now (for tests and metrics).
    var openCount: Int { state.withLock { $0.open.values.reduce(0) { $0 + $1.count } } }

    /// Starts kept in memory, ended ones included (for tests: compaction keeps this near the
    /// open flows, not all flows of the last timeout).
    var keptStarts: Int { state.withLock { $0.starts.count - $0.head } }

    /// When more than half the kept starts belong to ended flows, keeps only open flows' starts,
    /// oldest first (for an id open n times, its n newest starts). Linear, at most once per
    /// as many ends: constant per flow.
    private static func compactIfWorthIt(_ state: inout State) {
        let kept = state.starts.count - state.head
        guard state.ended > 1_024, state.ended * 2 > kept else { return }
        var remaining = state.open.mapValues(\.count)
        var survivors: [Start] = []
        survivors.reserveCapacity(kept - state.ended)
        for start in state.starts[state.head...].reversed() {
            guard let count = remaining[start.id] else { continue }
            remaining[start.id] = count > 1 ? count - 1 : nil
            survivors.append(start)
        }
        state.starts = survivors.reversed()
        state.head = 0
        state.ended = 0
    }

    /// The id as error messages carry it, so that an error's id finds its flow.
    static func key(_ id: String) -> String {
        id.utf8.count <= 200 ? id : Outbound.sanitize(id)
    }
}
