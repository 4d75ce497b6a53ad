/// What every role needs to know about the flows, precomputed once: for each flow step its
/// header prefix and what kind of step it is. Immutable and shared by all role threads of a
/// process; each role's ``FlowRouter`` is built from it.
public struct RoutingTable: Sendable {
    public let flows: FlowTable
    let prefixes: [[HeaderPrefix]]
    let kinds: [[StepKind]]

    enum StepKind: Sendable {
        case plain, publish, async, done
    }

    public init(flows: FlowTable) {
        self.flows = flows
        prefixes = flows.flows.map { $0.steps.map(HeaderPrefix.init) }
        kinds = flows.flows.map { flow in
            flow.steps.map { step in
                if step.isEndOfFlow { return .done }
                if step.isPublish { return .publish }
                if step.isAsync { return .async }
                return .plain
            }
        }
    }

    func kind(_ position: FlowPosition) -> StepKind { kinds[position.flow][position.step] }

    /// Why a message of flow `flow` has no position: the flow is unknown, or none of its
    /// steps matches the message's key. The error kind and its text, for Subject and workers.
    func missingPosition(flow: String) -> (kind: ErrorKind, text: String) {
        flows.flowIndex(named: flow) != nil
            ? (.unknownStep, "no step of flow \"\(flow)\" matches the message's action key")
            : (.unknownFlow, "no flow named \"\(flow)\" is loaded")
    }
    func prefix(_ position: FlowPosition) -> HeaderPrefix { prefixes[position.flow][position.step] }
}

/// Limits every role applies.
public struct RoleLimits: Sendable {
    /// Largest message (all frames) a role accepts; larger ones get an
    /// ``ErrorKind/oversized`` error message.
    public var maxMessageSize: Int = 64 << 20
    /// High-water mark of every socket, in messages. Bounded by default: libzmq's 0
    /// (DigitalPy's setting on the IM and workers) means unbounded memory under overload.
    public var highWaterMark: Int = 10_000
    /// How long a step may wait at the Subject for a worker to take it (none connected, or
    /// every worker's queue full) before it fails with ``ErrorKind/noWorkers``. Up to
    /// ``highWaterMark`` steps wait; meanwhile the Subject goes on serving everything else.
    public var dispatchTimeout: Duration = .seconds(5)
    public init() {}
}
