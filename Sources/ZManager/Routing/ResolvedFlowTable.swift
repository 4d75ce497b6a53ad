/// Every flow step resolved to its handler once, at start-up.
///
/// Resolving a key costs up to fourteen dictionary lookups with string hashing; a worker that did
/// that for every message would spend its time there. Flows and the mapping do not change while
/// running, so each step's handler is computed once here, and at run time a message that is
/// "flow f, step i" finds its handler with two array indexes.
///
/// A step resolves exactly as ``ActionMapping/resolve(_:)`` resolves that step's key. A request
/// whose key *is* the step (the Subject swaps the step in on `Push`, and workers advance by
/// step) therefore gets the same handler as with per-message resolution.
public struct ResolvedFlowTable: Sendable {
    /// The flows, with the same indexes as here.
    public let flows: FlowTable
    /// The mapping the handler ids point into.
    public let mapping: ActionMapping
    /// `handlers[flow][step]`: the step's handler, nil when no entry applies.
    private let handlers: [[HandlerID?]]

    public init(flows: FlowTable, mapping: ActionMapping) {
        self.flows = flows
        self.mapping = mapping
        self.handlers = flows.flows.map { flow in flow.steps.map { mapping.resolve($0) } }
    }

    /// The handler of step `step` of the flow at `flow` (indexes into ``FlowTable/flows`` and its
    /// steps); nil when the step is not mapped, e.g. a PUBLISH or ASYNC step owned by a service,
    /// or the `??done` step. The indexes must be valid.
    public func handler(flow: Int, step: Int) -> HandlerID? {
        handlers[flow][step]
    }

    /// The handler at a position (see ``FlowTable/position(ofHeader:in:)``).
    public func handler(at position: FlowPosition) -> HandlerID? {
        handlers[position.flow][position.step]
    }

    /// The handler for a received header: its flow by the config bytes, its step by first match
    /// on the header's fields. Does not allocate.
    public func handler(forHeader fields: HeaderFields, in frame: UnsafeRawBufferPointer) -> HandlerID? {
        flows.position(ofHeader: fields, in: frame).flatMap { handlers[$0.flow][$0.step] }
    }

    /// The handlers of every step of a flow, by step index.
    public func handlers(flow: Int) -> [HandlerID?] {
        handlers[flow]
    }

    /// The handler for `key`'s step: its flow by `config`, its step by first match
    /// (``FlowTable/stepIndex(of:)``); nil when the flow or step is unknown or the step is
    /// not mapped.
    public func handler(for key: ActionKey) -> HandlerID? {
        guard let flow = flows.flowIndex(named: key.config),
            let step = flows.flows[flow].stepIndex(of: key)
        else { return nil }
        return handlers[flow][step]
    }

    /// Steps no mapping entry resolves, other than done steps: what a start-up check or
    /// `zmanager` diagnostics should list (they are legitimate for PUBLISH/ASYNC steps that a
    /// service, not a worker, executes, and for each flow's first `Push` step, which the Subject
    /// consumes).
    public var unresolvedSteps: [(flow: String, step: Int, key: ActionKey)] {
        var result: [(flow: String, step: Int, key: ActionKey)] = []
        for (f, flow) in flows.flows.enumerated() {
            for (s, step) in flow.steps.enumerated() where handlers[f][s] == nil && !step.isEndOfFlow {
                result.append((flow.name, s, step))
            }
        }
        return result
    }
}
