public import ZeroMQ

/// A worker: executes flow steps through the external action mapping.
///
/// PULL (connected) from the Subject; PUSH (connected) to the Integration Manager for
/// results, published steps and errors; PUSH (connected) to the Subject to park flows at
/// ASYNC steps. Several consecutive steps of one flow run here in one go, each step's
/// result feeding the next (the reference loses the flow name after the first step and
/// breaks; here a step is a position in the flow, never a key looked up again).
///
/// After each step, by the kind of the next one:
/// - `??done`: the result goes to the Integration Manager as `<flow>~~~~done~<id>~`;
/// - `@ASYNC`: the flow is parked at the Subject and waits for an external response;
/// - `@PUBLISH`: the intermediate result is published; if this worker maps that step too it
///   goes on executing, otherwise the subscribed service carries the flow on;
/// - a plain step this worker maps: executed next, in-line;
/// - a plain step it does not map: published for whoever does (as DigitalPy does).
///
/// A handler that throws, an unmapped action, an unknown flow or an undecodable message
/// produces an error message with the message id; the worker keeps serving. A body a
/// handler asked to decode (``HandlerRequest/values()``) and could not is reported as
/// ``ErrorKind/undecodable``, not as a handler failure.
public final class Worker {
    let input: Socket
    let toIntegrationManager: Socket
    let toSubject: Socket
    let routing: RoutingTable
    let handlers: [[StepHandler?]]
    let limits: RoleLimits
    let statistics: CoreStatistics
    let pool: BufferPool
    /// This role thread's reusable outgoing messages (no allocation per send). Unchecked
    /// exclusivity: only the role's own thread touches it, one send at a time, and the
    /// dynamic check cost about 150 instructions per message.
    @exclusivity(unchecked) var outbox = Outbox()
    /// The last header looked up and its position (same thread, same unchecked exclusivity).
    @exclusivity(unchecked) var positions = PositionCache()
    let errorBody: ErrorBodyEncoder
    public let name: String

    /// - Parameters:
    ///   - subject: the Subject's worker endpoint (its PUSH) to take work from.
    ///   - subjectFront: the Subject's front endpoint, to park flows.
    ///   - integrationManager: the Integration Manager's PULL endpoint.
    ///   - handlers: the component handlers, by mapping target.
    /// - Throws: ``MissingHandlersError`` when the mapping names a target with no handler,
    ///   or a ``ZMQError`` when an endpoint cannot be connected.
    public convenience init(
        name: String, context: Context, subject: String, subjectFront: String, integrationManager: String,
        routing: RoutingTable, mapping: ActionMapping, handlers: HandlerRegistry,
        limits: RoleLimits = RoleLimits(), statistics: CoreStatistics
    ) throws {
        try self.init(name: name, context: context, subject: subject, subjectFront: subjectFront,
                      integrationManager: integrationManager, routing: routing, mapping: mapping,
                      handlers: handlers, limits: limits, statistics: statistics, errorBody: formAwareErrorBody)
    }

    init(
        name: String, context: Context, subject: String, subjectFront: String, integrationManager: String,
        routing: RoutingTable, mapping: ActionMapping, handlers registry: HandlerRegistry,
        limits: RoleLimits, statistics: CoreStatistics, errorBody: @escaping ErrorBodyEncoder
    ) throws {
        let byEntry = try registry.resolve(mapping)
        let resolved = ResolvedFlowTable(flows: routing.flows, mapping: mapping)
        handlers = routing.flows.flows.indices.map { f in
            resolved.handlers(flow: f).enumerated().map { step, entry in
                entry.map {
                    StepHandler(run: byEntry[$0.index],
                                context: StepContext(step: routing.flows.flows[f].steps[step], stepIndex: step, executor: name))
                }
            }
        }
        input = try Socket(context, .pull)
        try input.setReceiveHighWaterMark(limits.highWaterMark)
        try input.connect(subject)
        toIntegrationManager = try Socket(context, .push)
        try toIntegrationManager.setSendHighWaterMark(limits.highWaterMark)
        try toIntegrationManager.connect(integrationManager)
        toSubject = try Socket(context, .push)
        try toSubject.setSendHighWaterMark(limits.highWaterMark)
        try toSubject.connect(subjectFront)
        self.name = name
        self.routing = routing
        self.limits = limits
        self.statistics = statistics
        self.pool = .shared
        self.errorBody = errorBody
    }

    /// Runs until the context shuts down.
    public func run() {
        var inbound = Inbound()
        var state = ExecutionState()
        do {
            while true {
                switch try inbound.receive(from: input, maxSize: limits.maxMessageSize) {
                case .timedOut:
                    continue
                case .malformed(let kind, let reason):
                    statistics.workerReceived.add(1, ordering: .relaxed)
                    fail(kind, flow: "", id: "", reason, form: inbound.form)
                case .message:
                    statistics.workerReceived.add(1, ordering: .relaxed)
                    try execute(&inbound, &state)
                }
            }
        } catch {
            RoleLog.ended("Worker \(name)", by: error)
        }
        input.close()
        toIntegrationManager.close()
        toSubject.close()
    }

    /// Two response buffers used alternately, so a step's output never overwrites the
    /// input it is computing from; both keep their capacity across messages.
    struct ExecutionState: ~Copyable {
        var even = HandlerResponse()
        var odd = HandlerResponse()
        /// Which holds the current body: nil = the received body, else a response buffer.
        var current: Parity?
        var scratch = Message()

        enum Parity { case even, odd }
    }

    private func execute(_ inbound: inout Inbound, _ state: inout ExecutionState) throws(ZMQError) {
        guard var position = positions.position(of: inbound, in: routing.flows) else {
            let flow = inbound.flowString
            let missing = routing.missingPosition(flow: flow)
            return fail(missing.kind, flow: flow, id: inbound.idString, missing.text, form: inbound.form)
        }
        state.current = nil
        if handlers[position.flow][position.step] == nil, routing.kind(position) == .async || routing.kind(position) == .publish {
            // A response to a parked flow (or a published step) whose step a service, not this
            // worker, executes: publish it for that service.
            return try emit(&inbound, &state, as: position, to: toIntegrationManager)
        }
        while true {
            guard let handler = handlers[position.flow][position.step] else {
                let step = routing.flows.step(at: position)
                return fail(.unmappedAction, flow: routing.flows.flows[position.flow].name, id: inbound.idString,
                            "worker \(name) has no mapping for step \(step.text)", form: inbound.form)
            }
            // Run the step with the current body as input, writing into the other buffer.
            let failure: (any Error)?
            let changed: Bool
            switch state.current {
            case nil:
                failure = inbound.withBody { call(handler, position, inbound, input: $0, output: &state.even) }
                changed = !state.even.isUnchanged
                if changed { state.current = .even }
            case .even?:
                failure = state.even.storage.withUnsafeBytes { call(handler, position, inbound, input: $0, output: &state.odd) }
                changed = !state.odd.isUnchanged
                if changed { state.current = .odd }
            case .odd?:
                failure = state.odd.storage.withUnsafeBytes { call(handler, position, inbound, input: $0, output: &state.even) }
                changed = !state.even.isUnchanged
                if changed { state.current = .even }
            }
            statistics.handlerCalls.add(1, ordering: .relaxed)
            if let failure {
                return fail(ErrorKind(handlerFailure: failure), flow: routing.flows.flows[position.flow].name, id: inbound.idString,
                            "\(routing.flows.step(at: position).text): \(failure)", form: inbound.form)
            }

            let next = FlowPosition(flow: position.flow, step: position.step + 1)
            switch routing.kind(next) {
            case .done:
                return try emit(&inbound, &state, as: next, to: toIntegrationManager)
            case .async:
                try outbox.sendVerb(.park, to: toSubject)
                return try emit(&inbound, &state, as: next, to: toSubject)
            case .publish:
                if handlers[next.flow][next.step] == nil {
                    return try emit(&inbound, &state, as: next, to: toIntegrationManager)
                }
                try emit(&inbound, &state, as: next, to: toIntegrationManager, keepBody: true)
            case .plain:
                if handlers[next.flow][next.step] == nil {
                    return try emit(&inbound, &state, as: next, to: toIntegrationManager)
                }
            }
            position = next
        }
    }

    private func call(_ handler: StepHandler, _ position: FlowPosition, _ inbound: borrowing Inbound,
                      input: UnsafeRawBufferPointer, output: inout HandlerResponse) -> (any Error)? {
        output.reset()
        let request = HandlerRequest(body: input, id: inbound.id, form: inbound.form, context: handler.context)
        do {
            try handler.run(request, &output)
            return nil
        } catch {
            return error
        }
    }

    /// Sends the current body under `position`'s header. With `keepBody` the received body
    /// frame is shared (reference-counted), not moved, because execution goes on with it.
    private func emit(_ inbound: inout Inbound, _ state: inout ExecutionState, as position: FlowPosition,
                      to socket: Socket, keepBody: Bool = false) throws(ZMQError) {
        let prefix = routing.prefix(position)
        let form = inbound.form
        let noBytes = UnsafeRawBufferPointer(start: nil, count: 0)
        let id = inbound.id
        switch state.current {
        case nil where form == .split:
            // The received body frame goes on as it is: moved, or shared when still needed.
            if keepBody {
                state.scratch.share(from: inbound.body)
                try outbox.send(prefix: prefix, id: id, form: form, body: noBytes,
                                  bodyMessage: &state.scratch, useBodyMessage: true, to: socket, pool: pool)
            } else {
                try outbox.send(prefix: prefix, id: id, form: form, body: noBytes,
                                  bodyMessage: &inbound.body, useBodyMessage: true, to: socket, pool: pool)
            }
        case nil:
            try outbox.send(prefix: prefix, id: id, form: form, body: inbound.singleFormBody,
                              bodyMessage: &state.scratch, useBodyMessage: false, to: socket, pool: pool)
        case .even?:
            try send(state.even.storage, prefix: prefix, id: id, form: form, scratch: &state.scratch, to: socket)
        case .odd?:
            try send(state.odd.storage, prefix: prefix, id: id, form: form, scratch: &state.scratch, to: socket)
        }
    }

    private func send(_ storage: [UInt8], prefix: HeaderPrefix, id: UnsafeRawBufferPointer, form: WireForm,
                      scratch: inout Message, to socket: Socket) throws(ZMQError) {
        let result: Result<Void, ZMQError> = storage.withUnsafeBytes { body in
            Result { () throws(ZMQError) in
                try outbox.send(prefix: prefix, id: id, form: form, body: body,
                                  bodyMessage: &scratch, useBodyMessage: false, to: socket, pool: pool)
            }
        }
        try result.get()
    }

    private func fail(_ kind: ErrorKind, flow: String, id: String, _ text: String, form: WireForm) {
        Outbound.sendError(kind, role: "Worker \(name)", flow: flow, id: id, text: text, form: form,
                           to: toIntegrationManager, encodeBody: errorBody)
    }
}
