public import Logging
public import ZeroMQ

/// A worker: executes flow steps through the external action mapping.
///
/// PULL (connected) from the Subject; PUSH (connected) to the Integration Manager for
/// results, published steps and errors; PUSH (connected) to the Subject to park flows at
/// ASYNC steps. Several consecutive steps of one flow run here in one go, each step's
/// result feeding the next (the reference loses the flow name after the first step and
/// breaks; here a step is a position in the flow, never a key looked up again).
///
/// What a received step means and where the flow goes after each step are the
/// ``FlowRouter``'s decisions (worker role, docs/PROTOCOL.md §6.3); the worker receives, asks,
/// and sends. After each step, by the kind of the next one:
/// - `??done`: the result goes to the Integration Manager as `<flow>~~~~done~<id>~`;
/// - `@ASYNC`: the flow is parked at the Subject and waits for an external response;
/// - `@PUBLISH`: the intermediate result is published; if this worker maps that step too it
///   goes on executing, otherwise the subscribed service carries the flow on;
/// - a plain step this worker maps: executed next, in-line;
/// - a plain step it does not map: published for whoever does (as DigitalPy does).
///
/// A handler that throws, an unmapped action, an unknown flow, a `??done` header (a result is
/// never executed) or an undecodable message produces an error message with the message id;
/// the worker keeps serving. A body a handler asked to decode (``HandlerRequest/values()``)
/// and could not is reported as ``ErrorKind/undecodable``, not as a handler failure.
public final class Worker {
    let input: Socket
    let toIntegrationManager: Socket
    let toSubject: Socket
    /// Every routing decision: where a received step goes, what follows a step. Replaced only
    /// between two messages when ``source`` has newer flows (the worker's thread only: unchecked
    /// exclusivity as for `outbox`).
    /// With the handler of each step this worker maps, by ``FlowRouter/index(_:)``, in one
    /// object. The loops keep their own copy and pass it to `execute` borrowed
    /// (``adoptIfReloaded(_:)``): a read of this `var` costs a retain and a release, and its
    /// `let` fields are then borrowed for free.
    @exclusivity(unchecked) var steps: Steps

    /// A router and its handlers, replaced together.
    final class Steps {
        let router: FlowRouter
        /// Owns the handlers.
        let handlers: [StepHandler?]
        /// The same handlers, unretained: the loop borrows one per step
        /// (`_withUnsafeGuaranteedRef`) instead of retaining and releasing it (callgrind: about
        /// 80 instructions a step); `handlers` keeps them alive as long as this object.
        let unretained: [Unmanaged<StepHandler>?]
        init(router: FlowRouter, handlers: [StepHandler?]) {
            self.router = router
            self.handlers = handlers
            unretained = handlers.map { $0.map(Unmanaged.passUnretained) }
        }
    }
    /// Newer flows and mappings to adopt (a reload), or nil for a worker whose flows never change.
    let source: RoutingSource?
    /// ``source``'s newest generation, read per message without reference counting.
    let newestGeneration: RoutingSource.Generation?
    /// The generation of ``source`` that `router` was built from.
    @exclusivity(unchecked) var routingGeneration = 0
    /// The handlers by mapping target, to resolve a reloaded mapping with.
    let registry: HandlerRegistry
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
    /// Metadata `role=worker`, `worker=<name>`; cold paths only (``RoleLog``).
    let logger: Logger
    /// Reliable dispatch: `input` is a DEALER that carries every output back to the Subject
    /// too, each behind a receipt (``WorkerChannel``); nil in fast mode.
    let reliable: DispatchOptions?
    /// `reliable != nil`, read on every output: a Bool load, not an optional struct's.
    let sendsReceipts: Bool
    /// Reliable mode: the sequence number of the step being executed, and whether its final
    /// receipt is still owed (same thread, same unchecked exclusivity as `outbox`).
    @exclusivity(unchecked) var seq: UInt64 = 0
    @exclusivity(unchecked) var receiptOwed = false
    @exclusivity(unchecked) var receiptFrame = Message()

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
        limits: RoleLimits = RoleLimits(), dispatch: DispatchOptions = DispatchOptions(), statistics: CoreStatistics,
        source: RoutingSource? = nil, logger: Logger = Logger(label: "zmanager")
    ) throws {
        try self.init(name: name, context: context, subject: subject, subjectFront: subjectFront,
                      integrationManager: integrationManager, routing: routing, mapping: mapping,
                      handlers: handlers, limits: limits, dispatch: dispatch, statistics: statistics,
                      errorBody: formAwareErrorBody, source: source, logger: logger)
    }

    /// A worker in the Subject's and the Integration Manager's process that takes its steps
    /// from `rings.input` and hands its outputs for the IM to `rings.output` (``WorkerRings``)
    /// instead of connecting to their endpoints; parked flows still go to `subjectFront`.
    convenience init(
        name: String, context: Context, rings: WorkerRings, subjectFront: String,
        routing: RoutingTable, mapping: ActionMapping, handlers: HandlerRegistry,
        limits: RoleLimits, statistics: CoreStatistics, source: RoutingSource?, logger: Logger
    ) throws {
        try self.init(name: name, context: context, subject: nil, subjectFront: subjectFront, integrationManager: nil,
                      routing: routing, mapping: mapping, handlers: handlers, limits: limits, statistics: statistics,
                      errorBody: formAwareErrorBody, source: source, logger: logger, rings: rings)
    }

    init(
        name: String, context: Context, subject: String?, subjectFront: String, integrationManager: String?,
        routing: RoutingTable, mapping: ActionMapping, handlers registry: HandlerRegistry,
        limits: RoleLimits, dispatch: DispatchOptions = DispatchOptions(), statistics: CoreStatistics,
        errorBody: @escaping ErrorBodyEncoder, source: RoutingSource? = nil, logger: Logger = Logger(label: "zmanager"),
        rings: WorkerRings? = nil
    ) throws {
        self.logger = RoleLog.logger(logger, role: "worker", ["worker": .string(name)])
        steps = try Self.steps(routing: routing, mapping: mapping, registry: registry, executor: name)
        self.registry = registry
        self.source = source
        newestGeneration = source?.generationCell
        if let source { routingGeneration = source.snapshot.generation }
        switch dispatch.mode {
        case .fast:
            reliable = nil
            input = try Socket(context, .pull)
            try input.applyReceiveLimits(limits)
            toIntegrationManager = try Socket(context, .push)
            try toIntegrationManager.setSendHighWaterMark(limits.highWaterMark)
            if let rings {
                input.attach(RingPort(collector: MessageCollector(rings: [rings.input], bell: rings.input.consumerBell)))
                toIntegrationManager.attach(RingPort(dispatcher: MessageDispatcher(rings: [rings.output], bell: rings.output.producerBell)))
            } else if let subject, let integrationManager {
                try input.connect(subject)
                try toIntegrationManager.connect(integrationManager)
            } else {
                preconditionFailure("a worker takes its steps from rings or from the Subject's endpoint")
            }
            toSubject = try Socket(context, .push)
            try toSubject.setSendHighWaterMark(limits.highWaterMark)
            try toSubject.connect(subjectFront)
        case .reliable:
            precondition(rings == nil, "reliable dispatch runs over the DEALER/ROUTER pair, not rings")
            guard let subject else { preconditionFailure("a reliable worker connects to the Subject's endpoint") }
            reliable = dispatch
            input = try Socket(context, .dealer)
            try input.applyReceiveLimits(limits)
            try input.setSendHighWaterMark(limits.highWaterMark)
            try input.setHeartbeat(interval: dispatch.heartbeat, timeout: dispatch.heartbeatTimeout)
            // The Subject probes every heartbeat; silence this long means it does not know
            // this worker (it restarted) or is gone, and the worker says ready again.
            try input.setReceiveTimeout(dispatch.heartbeatTimeout)
            try input.connect(subject)
            toIntegrationManager = input
            toSubject = input
        }
        for socket in [input, toIntegrationManager, toSubject] { socket.countSentMessages(in: statistics.workerSent) }
        self.sendsReceipts = reliable != nil
        self.name = name
        self.limits = limits
        self.statistics = statistics
        self.pool = .shared
        self.errorBody = errorBody
    }

    /// The router and the handler of each step this worker maps, for `routing` and `mapping`.
    /// - Throws: ``MissingHandlersError`` when the mapping names a target with no handler.
    static func steps(routing: RoutingTable, mapping: ActionMapping, registry: HandlerRegistry,
                      executor: String) throws -> Steps {
        let byEntry = try registry.resolve(mapping)
        let resolved = ResolvedFlowTable(flows: routing.flows, mapping: mapping)
        let router = FlowRouter(routing: routing, role: .worker) { resolved.handler(at: $0) != nil }
        var handlers = [StepHandler?](repeating: nil, count: router.stepCount)
        for (f, flow) in routing.flows.flows.enumerated() {
            for (s, step) in flow.steps.enumerated() {
                let position = FlowPosition(flow: f, step: s)
                guard let entry = resolved.handler(at: position) else { continue }
                handlers[router.index(position)] = StepHandler(
                    run: byEntry[entry.index], context: StepContext(step: step, stepIndex: s, executor: executor))
            }
        }
        return Steps(router: router, handlers: handlers)
    }

    /// Adopts reloaded flows and mappings (``RoutingSource``) between two messages. A snapshot
    /// whose mapping names a handler this worker lacks is not adopted (the node checks that
    /// before it publishes one; a worker process with other handlers logs it and keeps its own).
    @inline(never)
    private func adopt(_ snapshot: RoutingSource.Snapshot) {
        routingGeneration = snapshot.generation
        do {
            steps = try Self.steps(routing: snapshot.routing, mapping: snapshot.mapping, registry: registry, executor: name)
            positions = PositionCache()
            logger.info("flows reloaded", metadata: ["generation": "\(snapshot.generation)",
                                                     "flows": "\(snapshot.routing.flows.flows.count)"])
        } catch {
            logger.error("reloaded flows not adopted: keeping the previous ones", metadata: ["error": "\(error)"])
        }
    }

    /// Runs until the context shuts down.
    public func run() {
        var inbound = Inbound()
        var state = StepExecution()
        if let reliable { return runReliable(credit: reliable.credit, &inbound, &state) }
        var steps = self.steps
        do {
            while true {
                switch try inbound.receive(from: input, maxSize: limits.maxMessageSize, maxIDLength: limits.maxIDLength) {
                case .timedOut:
                    continue
                case .malformed(let kind, let reason):
                    statistics.workerReceived.wrappingAdd(1, ordering: .relaxed)
                    fail(kind, flow: "", id: "", reason, form: inbound.form)
                case .message:
                    statistics.workerReceived.wrappingAdd(1, ordering: .relaxed)
                    adoptIfReloaded(&steps)
                    try execute(&inbound, &state, steps)
                }
            }
        } catch {
            RoleLog.ended("Worker \(name)", by: error, logger: logger)
        }
        input.close()
        toIntegrationManager.close()
        toSubject.close()
    }

    /// ``run()`` in reliable mode: says `ready` with its credit, then takes `[seq][step]` and
    /// answers every step with exactly one final receipt (on its last output, or alone). When
    /// nothing, not even a probe, has come for ``DispatchOptions/heartbeatTimeout`` it says
    /// `ready` again: a restarted Subject does not know it otherwise (the DEALER reconnects by
    /// itself), and one that does know it deals again what it believed the worker held.
    private func runReliable(credit: Int, _ inbound: inout Inbound, _ state: inout StepExecution) {
        var lead = Message()
        var steps = self.steps
        do {
            try sendReady(credit: credit)
            while true {
                guard try input.receive(into: &lead) == .received else {
                    try sendReady(credit: credit)
                    continue
                }
                let (size, verb, value) = lead.withUnsafeBytes { bytes in
                    (bytes.count, bytes.count == 2 ? bytes[1] : 0,
                     bytes.count == WorkerChannel.seqSize ? UInt64(littleEndian: bytes.loadUnaligned(as: UInt64.self)) : 0)
                }
                guard size == WorkerChannel.seqSize, lead.more else {
                    // A probe, or the Subject asking a worker it lost track of to say ready.
                    if verb == WorkerChannel.Verb.hello.rawValue { try sendReady(credit: credit) }
                    while lead.more { _ = try input.receive(into: &lead) }
                    continue
                }
                seq = value
                receiptOwed = true
                switch try inbound.receive(from: input, maxSize: limits.maxMessageSize, maxIDLength: limits.maxIDLength) {
                case .timedOut:
                    break
                case .malformed(let kind, let reason):
                    statistics.workerReceived.wrappingAdd(1, ordering: .relaxed)
                    fail(kind, flow: "", id: "", reason, form: inbound.form)
                case .message:
                    statistics.workerReceived.wrappingAdd(1, ordering: .relaxed)
                    adoptIfReloaded(&steps)
                    try execute(&inbound, &state, steps)
                }
                if receiptOwed { receipt(.final, more: false) }
            }
        } catch {
            RoleLog.ended("Worker \(name)", by: error, logger: logger)
        }
        input.close()
    }

    private func sendReady(credit: Int) throws(ZMQError) {
        var ready = Message(size: WorkerChannel.readySize)
        ready.withUnsafeMutableBytes { out in
            out[0] = 0
            out[1] = WorkerChannel.Verb.ready.rawValue
            out.storeBytes(of: UInt32(clamping: credit).littleEndian, toByteOffset: 2, as: UInt32.self)
        }
        _ = try input.send(&ready)
    }

    /// Reliable mode: the receipt frame in front of an output (`more`) or alone. Fast mode: nothing.
    /// The check is inlined, the rest is not: execute's fast path stays small enough for the
    /// step call inside it to be inlined (measured: 36 instructions per message otherwise).
    ///
    /// It does not throw: a receipt that cannot be sent means the socket is gone, and the
    /// output's own send right after it throws that (no extra error edges in `execute`).
    @inline(__always)
    private func receipt(_ flags: WorkerChannel.Receipt, more: Bool = true) {
        if sendsReceipts { try? sendReceipt(flags, more: more) }
    }

    @inline(never)
    private func sendReceipt(_ flags: WorkerChannel.Receipt, more: Bool) throws(ZMQError) {
        if flags.contains(.final) { receiptOwed = false }
        receiptFrame.reset(size: WorkerChannel.receiptSize)
        let seq = self.seq
        receiptFrame.withUnsafeMutableBytes { out in
            out.storeBytes(of: seq.littleEndian, as: UInt64.self)
            out[8] = flags.rawValue
        }
        _ = try input.send(&receiptFrame, more: more)
    }

    /// Between two messages: adopts newer flows when the source has them, into `steps` (the
    /// loop's own copy, passed to ``execute(_:_:_:)`` borrowed: no reference counting per message).
    @inline(__always)
    private func adoptIfReloaded(_ steps: inout Steps) {
        if let newestGeneration, newestGeneration.value != routingGeneration {
            adopt(source!.snapshot)
            steps = self.steps
        }
    }

    private func execute(_ inbound: inout Inbound, _ state: inout StepExecution, _ steps: Steps) throws(ZMQError) {
        let router = steps.router
        guard var position = positions.position(of: inbound, in: router.routing.flows) else {
            let flow = inbound.flowString
            let missing = router.routing.missingPosition(flow: flow)
            return fail(missing.kind, flow: flow, id: inbound.idString, missing.text, form: inbound.form)
        }
        state.begin()
        switch router.arrival(at: position) {
        case .execute:
            break
        case .publish:
            // A response to a parked flow (or a published step) whose step a service, not this
            // worker, executes: publish it for that service.
            receipt(.final)
            return try state.send(&inbound, prefix: router.prefix(position), keepBody: false,
                                  outbox: &outbox, to: toIntegrationManager, pool: pool)
        case .unmapped, .notMine:
            return unmapped(position, router, &inbound)
        case .endOfFlow:
            return fail(.unknownStep, flow: router.flowName(position), id: inbound.idString,
                        "\(router.stepText(position)) ends the flow: a result is published, not executed", form: inbound.form)
        }
        while true {
            guard let handler = steps.unretained[router.index(position)] else { return unmapped(position, router, &inbound) }
            let failure = handler._withUnsafeGuaranteedRef { state.run($0, on: &inbound) }
            statistics.handlerCalls.wrappingAdd(1, ordering: .relaxed)
            if let failure {
                return fail(ErrorKind(handlerFailure: failure), flow: router.flowName(position), id: inbound.idString,
                            "\(router.stepText(position)): \(failure)", form: inbound.form)
            }
            // A step that executes is never `??done` (its arrival is `.endOfFlow`), so a next
            // step exists; the guard keeps any input from indexing past a flow all the same.
            guard let next = router.next(after: position) else { return }
            let prefix = router.prefix(next.position)
            switch next.hop {
            case .result, .publish:
                receipt(.final)
                return try state.send(&inbound, prefix: prefix, keepBody: false, outbox: &outbox, to: toIntegrationManager, pool: pool)
            case .park:
                receipt([.final, .toSubject])
                try outbox.sendVerb(.park, to: toSubject)
                return try state.send(&inbound, prefix: prefix, keepBody: false, outbox: &outbox, to: toSubject, pool: pool)
            case .publishAndRunHere:
                receipt([])
                // A copy: the flow goes on here, so nobody hearing it is not an error at the IM.
                try outbox.sendCopyMarker(to: toIntegrationManager)
                try state.send(&inbound, prefix: prefix, keepBody: true, outbox: &outbox, to: toIntegrationManager, pool: pool)
            case .runHere:
                break
            case .workers, .subject:
                // Not a worker's hop (the Subject's and a service's); the Subject routes it.
                receipt([.final, .toSubject])
                return try state.send(&inbound, prefix: prefix, keepBody: false, outbox: &outbox, to: toSubject, pool: pool)
            case .wouldLoop:
                return fail(.flowLoop, flow: router.flowName(next.position), id: inbound.idString,
                            router.loopText(next.position), form: inbound.form)
            }
            position = next.position
        }
    }

    private func unmapped(_ position: FlowPosition, _ router: FlowRouter, _ inbound: inout Inbound) {
        fail(.unmappedAction, flow: router.flowName(position), id: inbound.idString,
             "worker \(name) has no mapping for step \(router.stepText(position))", form: inbound.form)
    }

    private func fail(_ kind: ErrorKind, flow: String, id: String, _ text: String, form: WireForm) {
        // Reliable mode: an error is the step's final output. (Sending fails only when the
        // context ends, and then nothing follows the receipt anyway.)
        receipt(.final)
        if !Outbound.sendError(kind, role: "Worker \(name)", flow: flow, id: id, text: text, form: form,
                               to: toIntegrationManager, encodeBody: errorBody) {
            statistics.errorsNotSent.wrappingAdd(1, ordering: .relaxed)
        }
    }
}
