public import Synchronization
public import Logging
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
///
/// The routing decisions are the ``FlowRouter``'s (service role); the step runs in the same
/// ``StepExecution`` a worker uses. A delivery it cannot use is counted, never answered: a
/// publication reaches every subscriber, so an error from each would multiply.
public final class Service {
    let sub: Socket
    let toSubject: Socket
    let toIntegrationManager: Socket
    let router: FlowRouter
    /// The handler of each step this service executes, by ``FlowRouter/index(_:)``.
    let handlers: [StepHandler?]
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
    /// What it could not use; readable from any thread while it runs.
    public let statistics = ServiceStatistics()
    /// Metadata `role=service`, `service=<name>`; cold paths only (``RoleLog``).
    let logger: Logger

    /// - Parameters:
    ///   - integrationManagerPub: the Integration Manager's PUB, or its multicast group
    ///     (`epgm://`: joined with `multicast`'s rate and recovery interval, ``MulticastOptions``).
    public convenience init(
        name: String, context: Context, subjectFront: String, integrationManagerPull: String,
        integrationManagerPub: String, routing: RoutingTable, mapping: ActionMapping,
        handlers registry: HandlerRegistry, limits: RoleLimits = RoleLimits(), multicast: MulticastOptions = MulticastOptions(),
        logger: Logger = Logger(label: "zmanager")
    ) throws {
        try self.init(name: name, context: context, subjectFront: subjectFront, integrationManagerPull: integrationManagerPull,
                      integrationManagerPub: integrationManagerPub, routing: routing, mapping: mapping,
                      handlers: registry, limits: limits, multicast: multicast, errorBody: formAwareErrorBody, logger: logger)
    }

    init(
        name: String, context: Context, subjectFront: String, integrationManagerPull: String,
        integrationManagerPub: String, routing: RoutingTable, mapping: ActionMapping,
        handlers registry: HandlerRegistry, limits: RoleLimits, multicast: MulticastOptions = MulticastOptions(),
        errorBody: @escaping ErrorBodyEncoder, logger: Logger = Logger(label: "zmanager")
    ) throws {
        self.logger = RoleLog.logger(logger, role: "service", ["service": .string(name)])
        let byEntry = try registry.resolve(mapping)
        let resolved = ResolvedFlowTable(flows: routing.flows, mapping: mapping)
        // Not a flow's first step (the Subject consumes `Push`) nor its `??done`.
        func executes(_ position: FlowPosition) -> Bool {
            position.step > 0 && !routing.flows.step(at: position).isEndOfFlow && resolved.handler(at: position) != nil
        }
        let router = FlowRouter(routing: routing, role: .service, executes: executes)
        var handlers = [StepHandler?](repeating: nil, count: router.stepCount)
        var subscriptions: [String] = []
        for (f, flow) in routing.flows.flows.enumerated() {
            for (s, step) in flow.steps.enumerated() {
                let position = FlowPosition(flow: f, step: s)
                guard executes(position), let entry = resolved.handler(at: position) else { continue }
                handlers[router.index(position)] = StepHandler(
                    run: byEntry[entry.index], context: StepContext(step: step, stepIndex: s, executor: name))
                subscriptions.append(String(decoding: router.prefix(position), as: UTF8.self))
            }
        }
        self.router = router
        self.handlers = handlers
        self.subscriptions = subscriptions
        sub = try Socket(context, .sub)
        try sub.applyReceiveLimits(limits)
        for prefix in subscriptions { try sub.subscribe(prefix) }
        if MulticastOptions.isMulticast(integrationManagerPub) { try sub.applyMulticast(multicast) }
        try sub.connect(integrationManagerPub)
        toSubject = try Socket(context, .push)
        try toSubject.setSendHighWaterMark(limits.highWaterMark)
        try toSubject.connect(subjectFront)
        toIntegrationManager = try Socket(context, .push)
        try toIntegrationManager.setSendHighWaterMark(limits.highWaterMark)
        try toIntegrationManager.connect(integrationManagerPull)
        self.name = name
        self.limits = limits
        self.pool = .shared
        self.errorBody = errorBody
    }

    /// Runs until the context shuts down.
    public func run() {
        var inbound = Inbound()
        var state = StepExecution()
        do {
            while true {
                switch try inbound.receive(from: sub, maxSize: limits.maxMessageSize, maxIDLength: limits.maxIDLength) {
                case .timedOut:
                    continue
                case .malformed:
                    statistics.malformedDeliveries.wrappingAdd(1, ordering: .relaxed)
                case .message:
                    try deliver(&inbound, &state)
                }
            }
        } catch {
            RoleLog.ended("Service \(name)", by: error, logger: logger)
        }
        sub.close()
        toSubject.close()
        toIntegrationManager.close()
    }

    private func deliver(_ inbound: inout Inbound, _ state: inout StepExecution) throws(ZMQError) {
        guard let position = positions.position(of: inbound, in: router.routing.flows),
              router.arrival(at: position) == .execute,
              let handler = handlers[router.index(position)]
        else {
            statistics.ignoredDeliveries.wrappingAdd(1, ordering: .relaxed)
            return
        }
        state.begin()
        if let failure = state.run(handler, on: &inbound) {
            return error(Outbound.sendError(
                ErrorKind(handlerFailure: failure), role: "Service \(name)", flow: router.flowName(position),
                id: inbound.idString, text: "\(router.stepText(position)): \(failure)",
                form: inbound.form, to: toIntegrationManager, encodeBody: errorBody))
        }
        guard let next = router.next(after: position) else { return }
        let socket: Socket
        switch next.hop {
        case .result, .publish:
            socket = toIntegrationManager
        case .park:
            try outbox.sendVerb(.park, to: toSubject)
            socket = toSubject
        case .subject, .workers, .runHere, .publishAndRunHere:
            // Only `.subject` is a service's hop: the Subject routes the next step.
            socket = toSubject
        case .wouldLoop:
            return error(Outbound.sendError(
                .flowLoop, role: "Service \(name)", flow: router.flowName(next.position), id: inbound.idString,
                text: router.loopText(next.position), form: inbound.form, to: toIntegrationManager, encodeBody: errorBody))
        }
        try state.send(&inbound, prefix: router.prefix(next.position), keepBody: false, outbox: &outbox, to: socket, pool: pool)
    }

    /// Counts an error message that could not be sent (`sent` false).
    private func error(_ sent: Bool) {
        if !sent { statistics.errorsNotSent.wrappingAdd(1, ordering: .relaxed) }
    }
}

/// A service's counters (relaxed atomics, written by its thread only).
public final class ServiceStatistics: Sendable {
    /// Deliveries that were not ZManager messages (framing, header, size).
    public let malformedDeliveries = Atomic<Int>(0)
    /// Deliveries of a step this service does not execute (an overlapping subscription prefix,
    /// or a step its mapping does not resolve).
    public let ignoredDeliveries = Atomic<Int>(0)
    /// Error messages it could not send (the send threw: no service will see them).
    public let errorsNotSent = Atomic<Int>(0)

    public init() {}
}
