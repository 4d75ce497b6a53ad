public import ZeroMQ

/// A service in the seed's sense (DigitalPy's core services): a component with its own
/// action mapping that receives its steps from the Integration Manager instead of from
/// the Subject.
///
/// On start it subscribes to every flow step its mapping resolves (the seed's note under
/// "External Action Mapping": match the mapping's keys against every step of every flow),
/// with the step's exact header prefix. When such a step is published — a `PUBLISH` step,
/// or the response to an ASYNC step it owns — it executes it and carries the flow on:
/// `??done` → the result to the Integration Manager; an `@ASYNC` next step → parks the flow
/// at the Subject; anything else → the next step to the Subject, which routes it.
///
/// Several instances may run; each published step reaches every subscribed instance, so
/// run one instance per step unless its handler is idempotent.
public final class Service {
    let sub: Socket
    let toSubject: Socket
    let toIntegrationManager: Socket
    let routing: RoutingTable
    let handlers: [[StepHandler?]]
    let limits: RoleLimits
    let pool: BufferPool
    /// This role thread's reusable outgoing messages (no allocation per send). Unchecked
    /// exclusivity: only the role's own thread touches it, one send at a time, and the
    /// dynamic check cost about 150 instructions per message.
    @exclusivity(unchecked) var outbox = Outbox()
    /// The last header looked up and its position (same thread, same unchecked exclusivity).
    @exclusivity(unchecked) var positions = PositionCache()
    let errorBody: ErrorBodyEncoder
    public let name: String
    /// The header prefixes this service subscribed to.
    public let subscriptions: [String]

    public convenience init(
        name: String, context: Context, subjectFront: String, integrationManagerPull: String,
        integrationManagerPub: String, routing: RoutingTable, mapping: ActionMapping,
        handlers registry: HandlerRegistry, limits: RoleLimits = RoleLimits()
    ) throws {
        try self.init(name: name, context: context, subjectFront: subjectFront, integrationManagerPull: integrationManagerPull,
                      integrationManagerPub: integrationManagerPub, routing: routing, mapping: mapping,
                      handlers: registry, limits: limits, errorBody: formAwareErrorBody)
    }

    init(
        name: String, context: Context, subjectFront: String, integrationManagerPull: String,
        integrationManagerPub: String, routing: RoutingTable, mapping: ActionMapping,
        handlers registry: HandlerRegistry, limits: RoleLimits, errorBody: @escaping ErrorBodyEncoder
    ) throws {
        let byEntry = try registry.resolve(mapping)
        let resolved = ResolvedFlowTable(flows: routing.flows, mapping: mapping)
        var handlers: [[StepHandler?]] = []
        var subscriptions: [String] = []
        for (f, flow) in routing.flows.flows.enumerated() {
            var row: [StepHandler?] = []
            for (s, step) in flow.steps.enumerated() {
                let handler = resolved.handler(flow: f, step: s).map {
                    StepHandler(run: byEntry[$0.index], context: StepContext(step: step, stepIndex: s, executor: name))
                }
                row.append(step.isEndOfFlow || s == 0 ? nil : handler)
                if case .some = row.last! {
                    subscriptions.append(String(decoding: routing.prefix(FlowPosition(flow: f, step: s)).bytes, as: UTF8.self))
                }
            }
            handlers.append(row)
        }
        self.handlers = handlers
        self.subscriptions = subscriptions
        sub = try Socket(context, .sub)
        try sub.setReceiveHighWaterMark(limits.highWaterMark)
        for prefix in subscriptions { try sub.subscribe(prefix) }
        try sub.connect(integrationManagerPub)
        toSubject = try Socket(context, .push)
        try toSubject.connect(subjectFront)
        toIntegrationManager = try Socket(context, .push)
        try toIntegrationManager.connect(integrationManagerPull)
        self.name = name
        self.routing = routing
        self.limits = limits
        self.pool = .shared
        self.errorBody = errorBody
    }

    /// Runs until the context shuts down.
    public func run() {
        var inbound = Inbound()
        var response = HandlerResponse()
        var scratch = Message()
        do {
            while true {
                guard case .message = try inbound.receive(from: sub, maxSize: limits.maxMessageSize) else { continue }
                guard let position = positions.position(of: inbound, in: routing.flows),
                      let handler = handlers[position.flow][position.step]
                else { continue }  // a prefix match on another step: not ours
                response.reset()
                let failure: (any Error)? = inbound.withBody { body in
                    let request = HandlerRequest(body: body, id: inbound.id, form: inbound.form, context: handler.context)
                    do { try handler.run(request, &response); return nil } catch { return error }
                }
                if let failure {
                    Outbound.sendError(ErrorKind(handlerFailure: failure), role: "Service \(name)", flow: routing.flows.flows[position.flow].name,
                                       id: inbound.idString, text: "\(routing.flows.step(at: position).text): \(failure)",
                                       form: inbound.form, to: toIntegrationManager, encodeBody: errorBody)
                    continue
                }
                let next = FlowPosition(flow: position.flow, step: position.step + 1)
                let socket: Socket
                switch routing.kind(next) {
                case .done:
                    socket = toIntegrationManager
                case .async:
                    try outbox.sendVerb(.park, to: toSubject)
                    socket = toSubject
                case .publish, .plain:
                    socket = toSubject
                }
                let prefix = routing.prefix(next)
                let idRange = inbound.fields.id
                let form = inbound.form
                let changed = !response.isUnchanged
                try inbound.head.withUnsafeBytes { (frame) throws(ZMQError) in
                    let id = UnsafeRawBufferPointer(rebasing: frame[idRange])
                    if changed {
                        let result: Result<Void, ZMQError> = response.storage.withUnsafeBytes { body in
                            Result { () throws(ZMQError) in
                                try outbox.send(prefix: prefix, id: id, form: form, body: body, bodyMessage: &scratch,
                                                  useBodyMessage: false, to: socket, pool: pool)
                            }
                        }
                        try result.get()
                    } else if form == .split {
                        try outbox.send(prefix: prefix, id: id, form: form, body: UnsafeRawBufferPointer(start: nil, count: 0),
                                          bodyMessage: &inbound.body, useBodyMessage: true, to: socket, pool: pool)
                    } else {
                        try outbox.send(prefix: prefix, id: id, form: form,
                                          body: UnsafeRawBufferPointer(rebasing: frame[inbound.fields.bodyOffset...]),
                                          bodyMessage: &scratch, useBodyMessage: false, to: socket, pool: pool)
                    }
                }
            }
        } catch {
            RoleLog.ended("Service \(name)", by: error)
        }
        sub.close()
        toSubject.close()
        toIntegrationManager.close()
    }
}
