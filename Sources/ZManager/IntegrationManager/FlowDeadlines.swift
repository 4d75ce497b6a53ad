import Synchronization

/// Every started flow's deadline (``RoleLimits/flowTimeout``): the Subject records a flow when
/// it starts one, the Integration Manager ends it when the flow's result or error passes, and
/// once the deadline is past the IM ends the flow itself with ``ErrorKind/flowTimeout``. A result
/// or error that comes after that is dropped, so a service sees one end per flow. Knowing which
/// flows are open also keeps the drain's count exact (``End/outsideFlow``) and times each flow
/// (``latencies``).
///
/// Only the Subject sees a flow start and only the IM sees every end, on two threads of one
/// process (in every deployment the workers are what moves out). The table belongs to the IM's
/// thread alone; the Subject hands it the starts through a lock-free ring (``FlowStartRing``),
/// and keys are plain data (``FlowKey``). So the two threads share no lock on the way (the ring's
/// overflow list is locked only while 16,384 starts are unread), and a flow whose id and name
/// fit in a key (48 bytes: a UUID does) allocates nothing. A result's latency takes one
/// uncontended lock (``FlowLatencies``).
/// With deadlines off a role pays one `nil` check per flow.
///
/// Deadlines are monotonic in start order, so expiry looks at the oldest starts only.
public final class FlowDeadlines: @unchecked Sendable {
    // @unchecked Sendable: `table` is read and written only by the IM's thread (``ended(id:result:now:)``,
    // ``isTimedOut(id:)``, ``expire(now:)``; tests call them from one thread with the IM not
    // running); ``started(id:flow:form:now:)`` touches only the ring, from the Subject's thread.

    /// A flow the IM ended at its deadline.
    struct Expired: Equatable {
        let id: String
        let flow: String
        let form: WireForm
    }

    private struct Start {
        let id: FlowKey
        let flow: FlowKey
        let form: WireForm
        let deadline: Int64
    }

    /// A flow open under an id: how many (ids may repeat), and the first one's start and flow.
    private struct Open {
        var count: Int
        let flow: FlowKey
        let started: Int64
    }

    private struct Table {
        /// The whole text of ids and flow names longer than a key keeps (rare): an id's while
        /// it is open or timed out, a flow name's for good (the flow table bounds them).
        var longTexts: [FlowKey: String] = [:]
        /// Open flows by id.
        var open: [FlowKey: Open] = [:]
        /// Starts, oldest first, from `head` on; entries of flows that ended since stay until
        /// expiry passes them or a compaction drops them.
        var starts: [Start] = []
        var head = 0
        /// Starts in `starts` whose flow ended already.
        var ended = 0
        /// Ids ended by their deadline, until another timeout has passed (late ends are dropped
        /// meanwhile), oldest first from `timedOutHead`.
        var timedOut: [FlowKey: Int] = [:]
        var timedOutOrder: [(id: FlowKey, forgetAt: Int64)] = []
        var timedOutHead = 0
    }

    public let timeout: Duration
    private let ring = FlowStartRing()
    /// Behind a pointer rather than a stored `var`: a class's `var` is checked for exclusive
    /// access at run time on every use, which measured about 350 instructions per flow.
    private let table: UnsafeMutablePointer<Table>
    /// Each result's time from intake, per flow (``FlowLatencies``).
    public let latencies = FlowLatencies()

    /// Times inside the ring and the table are nanoseconds since `epoch`: `ContinuousClock.Instant`
    /// comes from a module built for library evolution, so every struct holding one is copied
    /// through value witnesses (measured: about 500 instructions per flow at the IM).
    private let epoch = ContinuousClock.now
    private let timeoutNanoseconds: Int64

    private func nanoseconds(_ instant: ContinuousClock.Instant) -> Int64 {
        let parts = (instant - epoch).components
        return parts.seconds * 1_000_000_000 + parts.attoseconds / 1_000_000_000
    }

    public init(timeout: Duration) {
        precondition(timeout > .zero, "a flow timeout must be positive")
        self.timeout = timeout
        let parts = timeout.components
        timeoutNanoseconds = parts.seconds * 1_000_000_000 + parts.attoseconds / 1_000_000_000
        table = .allocate(capacity: 1)
        table.initialize(to: Table())
    }

    deinit {
        table.deinitialize(count: 1)
        table.deallocate()
    }

    /// The Subject started a flow (the Subject's thread).
    func started(id: UnsafeRawBufferPointer, flow: UnsafeRawBufferPointer, form: WireForm, now: ContinuousClock.Instant) {
        var start = FlowStartRing.Start(id: .id(id), flow: FlowKey(flow), form: form, started: nanoseconds(now))
        if !start.id.isWhole { start.longTexts.id = FlowKey.text(id) }
        if !start.flow.isWhole { start.longTexts.flow = String(decoding: flow, as: UTF8.self) }
        ring.push(start)
    }

    func started(id: String, flow: String, form: WireForm, now: ContinuousClock.Instant) {
        var start = FlowStartRing.Start(id: .id(id), flow: FlowKey(flow), form: form, started: nanoseconds(now))
        if !start.id.isWhole { start.longTexts.id = FlowKey.text(id) }
        if !start.flow.isWhole { start.longTexts.flow = flow }
        ring.push(start)
    }

    /// A key's whole text (the IM's thread).
    private func text(_ key: FlowKey) -> String {
        key.isWhole ? key.description : table.pointee.longTexts[key] ?? key.description
    }

    /// Forgets a long id's text once nothing under it is open or timed out.
    private func forgetText(_ key: FlowKey) {
        guard !key.isWhole, table.pointee.open[key] == nil, table.pointee.timedOut[key] == nil else { return }
        table.pointee.longTexts[key] = nil
    }

    /// Takes the starts the Subject handed over into the table (the IM's thread).
    private func absorbStarts() {
        let timeout = timeoutNanoseconds
        ring.drain { start in
            // One hash per start: a repeated id keeps its first start.
            table.pointee.open[start.id, default: Open(count: 0, flow: start.flow, started: start.started)].count += 1
            table.pointee.starts.append(Start(id: start.id, flow: start.flow, form: start.form, deadline: start.started + timeout))
            if let id = start.longTexts.id { table.pointee.longTexts[start.id] = id }
            if let flow = start.longTexts.flow { table.pointee.longTexts[start.flow] = flow }
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
    func ended(id: UnsafeRawBufferPointer, result: Bool = false, now: @autoclosure () -> ContinuousClock.Instant = .now) -> End {
        ended(key: .id(id), result: result, now: now())
    }

    func ended(id: String, result: Bool = false, now: @autoclosure () -> ContinuousClock.Instant = .now) -> End {
        ended(key: .id(id), result: result, now: now())
    }

    private func ended(key: FlowKey, result: Bool, now: @autoclosure () -> ContinuousClock.Instant) -> End {
        absorbStarts()
        guard let index = table.pointee.open.index(forKey: key) else { return table.pointee.timedOut[key] == nil ? .outsideFlow : .late }
        let open = table.pointee.open.values[index]
        if open.count > 1 { table.pointee.open.values[index].count -= 1 } else { table.pointee.open.remove(at: index) }
        forgetText(key)
        table.pointee.ended += 1
        Self.compactIfWorthIt(&table.pointee)
        if result {
            latencies.record(flow: open.flow, seconds: Double(nanoseconds(now()) - open.started) / 1e9)
        }
        return .open
    }

    /// Whether a message for `id` belongs to a flow ended by its deadline (a step still on its
    /// way to a service, for example): it is dropped.
    func isTimedOut(id: UnsafeRawBufferPointer) -> Bool { isTimedOut(key: .id(id)) }

    func isTimedOut(id: String) -> Bool { isTimedOut(key: .id(id)) }

    private func isTimedOut(key: FlowKey) -> Bool {
        absorbStarts()
        return table.pointee.open[key] == nil && table.pointee.timedOut[key] != nil
    }

    /// Ends every open flow whose deadline is past and returns them; forgets timed-out ids one
    /// timeout after their end.
    func expire(now instant: ContinuousClock.Instant) -> [Expired] {
        absorbStarts()
        let now = nanoseconds(instant)
        var expired: [Expired] = []
        while table.pointee.head < table.pointee.starts.count, table.pointee.starts[table.pointee.head].deadline <= now {
            let start = table.pointee.starts[table.pointee.head]
            table.pointee.head += 1
            guard let open = table.pointee.open[start.id] else {
                table.pointee.ended -= 1
                continue
            }
            if open.count > 1 { table.pointee.open[start.id]!.count -= 1 } else { table.pointee.open[start.id] = nil }
            expired.append(Expired(id: text(start.id), flow: text(start.flow), form: start.form))
            table.pointee.timedOut[start.id, default: 0] += 1
            table.pointee.timedOutOrder.append((start.id, now + timeoutNanoseconds))
        }
        while table.pointee.timedOutHead < table.pointee.timedOutOrder.count, table.pointee.timedOutOrder[table.pointee.timedOutHead].forgetAt <= now {
            let id = table.pointee.timedOutOrder[table.pointee.timedOutHead].id
            table.pointee.timedOutHead += 1
            if let count = table.pointee.timedOut[id] { table.pointee.timedOut[id] = count > 1 ? count - 1 : nil }
            forgetText(id)
        }
        if table.pointee.timedOutHead > 1_024, table.pointee.timedOutHead * 2 > table.pointee.timedOutOrder.count {
            table.pointee.timedOutOrder.removeFirst(table.pointee.timedOutHead)
            table.pointee.timedOutHead = 0
        }
        if table.pointee.head > 1_024, table.pointee.head * 2 > table.pointee.starts.count {
            table.pointee.starts.removeFirst(table.pointee.head)
            table.pointee.head = 0
        }
        return expired
    }

    /// Flows open now (for tests, on the IM's thread or with the IM not running).
    var openCount: Int {
        absorbStarts()
        return table.pointee.open.values.reduce(0) { $0 + $1.count }
    }

    /// Starts kept in memory, ended ones included (for tests: compaction keeps this near the
    /// open flows, not all flows of the last timeout).
    var keptStarts: Int {
        absorbStarts()
        return table.pointee.starts.count - table.pointee.head
    }

    /// When more than four fifths of the kept starts belong to ended flows, keeps only open
    /// flows' starts, oldest first (for an id open n times, its n newest starts). Linear in the
    /// kept starts, at most once per four times as many ends as flows are open: constant per
    /// flow (at half, as before, it cost twice as much per flow).
    private static func compactIfWorthIt(_ state: inout Table) {
        let kept = state.starts.count - state.head
        guard state.ended > 1_024, state.ended * 5 > kept * 4 else { return }
        var remaining = state.open.mapValues(\.count)
        var survivors: [Start] = []
        // As many as were kept: the starts that come until the next compaction append without
        // growing the array again.
        survivors.reserveCapacity(kept)
        for start in state.starts[state.head...].reversed() {
            guard let count = remaining[start.id] else { continue }
            remaining[start.id] = count > 1 ? count - 1 : nil
            survivors.append(start)
        }
        survivors.reverse()
        state.starts = survivors
        state.head = 0
        state.ended = 0
    }
}
