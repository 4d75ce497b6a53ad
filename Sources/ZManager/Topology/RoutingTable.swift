import ZeroMQ

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
    /// Longest id a role accepts; a message with a longer one gets an ``ErrorKind/oversized``
    /// error (its id cut to 200 characters there). DigitalPy's ids are 36-character uuids.
    public var maxIDLength: Int = 256
    /// Bytes the Subject holds in its own queues (steps waiting for a worker, steps held for
    /// redelivery): past it, it stops reading new work, as at ``highWaterMark`` messages.
    /// libzmq's queues are bounded in messages only, so this and ``maxMessageSize`` are what
    /// bounds memory in bytes.
    public var heldBytes: Int = 256 << 20
    /// How long a flow may take from its start at the Subject to its result or error; past it
    /// the Integration Manager ends it with ``ErrorKind/flowTimeout`` and drops whatever the flow
    /// sends later (``FlowDeadlines``). Nil (the default): flows have no deadline and cost
    /// nothing to track.
    public var flowTimeout: Duration?
    public init() {}

    /// The frame size past which libzmq itself refuses a tcp or ipc peer's frame, closing its
    /// connection: twice ``maxMessageSize``, so that a message somewhat over the limit still
    /// arrives and gets its `oversized` error, while none can make a role buffer much more.
    public var hardFrameLimit: Int { maxMessageSize > Int.max / 2 ? Int.max : 2 * maxMessageSize }
}

extension Socket {
    /// A receiving socket's bounds: its receive high-water mark and libzmq's frame-size limit.
    func applyReceiveLimits(_ limits: RoleLimits) throws(ZMQError) {
        try setReceiveHighWaterMark(limits.highWaterMark)
        try setMaxFrameSize(limits.hardFrameLimit)
    }
}
