import Synchronization

/// The flows and action mapping a running node routes by, replaceable while it runs (`serve`
/// reloads them on SIGHUP).
///
/// Each role keeps its own router, built from a snapshot, and compares the source's generation
/// with its own once per message (one atomic load); when it changed, the role rebuilds its
/// router on its own thread, between two messages. Nothing is locked on the hot path and no role
/// ever sees half a table.
///
/// What a reload means for messages already under way: every message carries its step's key in
/// its header, so a role that adopted the new flows resolves it there (the first step matching
/// the key, as always). A step whose flow or key is gone ends its flow with `unknown_flow` or
/// `unknown_step`, answered like any other error. Flows parked at an ASYNC step are moved to the
/// same step of the new flow, or ended so when it is gone (docs/OPERATIONS.md, "Reloading").
public final class RoutingSource: Sendable {
    public struct Snapshot: Sendable {
        /// 0 for the tables a node started with, then one more per ``RoutingSource/replace(routing:mapping:)``.
        public let generation: Int
        public let routing: RoutingTable
        public let mapping: ActionMapping
    }

    private let current: Mutex<Snapshot>
    /// The newest generation, in memory of its own: roles read it through ``Generation``, a
    /// plain pointer, so the per-message check needs no reference counting (with the roles'
    /// routers passed down borrowed, the whole check measured 13 instructions per message in the
    /// Subject and 17 in a worker, callgrind; reading routers and this object through `var`
    /// references instead cost 100 to 800).
    private let latest: Generation

    public init(routing: RoutingTable, mapping: ActionMapping) {
        current = Mutex(Snapshot(generation: 0, routing: routing, mapping: mapping))
        let cell = UnsafeMutablePointer<Atomic<Int>>.allocate(capacity: 1)
        cell.initialize(to: Atomic(0))
        latest = Generation(cell: cell)
    }

    deinit {
        latest.cell.deinitialize(count: 1)
        latest.cell.deallocate()
    }

    /// The generation of the newest tables: what roles compare theirs with, per message.
    public var generation: Int { latest.value }

    /// A role's view of the newest generation: no reference counting per read. Valid while the
    /// source lives; a role keeps the source too.
    struct Generation: @unchecked Sendable {
        // @unchecked Sendable: the pointer is to an atomic, which any thread may read.
        let cell: UnsafeMutablePointer<Atomic<Int>>
        @inline(__always) var value: Int { cell[0].load(ordering: .acquiring) }
    }

    var generationCell: Generation { latest }

    /// The newest tables.
    public var snapshot: Snapshot { current.withLock { $0 } }

    /// Publishes new tables; roles adopt them at their next message. Returns the new generation.
    @discardableResult
    public func replace(routing: RoutingTable, mapping: ActionMapping) -> Int {
        let generation = current.withLock { snapshot in
            snapshot = Snapshot(generation: snapshot.generation + 1, routing: routing, mapping: mapping)
            return snapshot.generation
        }
        latest.cell[0].store(generation, ordering: .releasing)
        return generation
    }
}

extension RoutingTable {
    /// Where `position` of `old` is in this table: the same flow (by name), at the first step
    /// matching the old step's key. Nil when the flow or the step is gone.
    func position(of position: FlowPosition, in old: RoutingTable) -> FlowPosition? {
        guard position.flow < old.flows.flows.count, position.step < old.flows.flows[position.flow].steps.count else { return nil }
        let key = old.flows.flows[position.flow].steps[position.step]
        guard let flow = flows.flowIndex(named: key.config), let step = flows.stepIndex(of: key) else { return nil }
        return FlowPosition(flow: flow, step: step)
    }
}
