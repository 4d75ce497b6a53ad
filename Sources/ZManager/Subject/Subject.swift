public import Logging
public import ZeroMQ

/// The Subject (DigitalPy's "ventilator"): takes requests from services and hands them on.
///
/// PULL (bound) from services, workers and external parties; PUSH (bound) to the workers,
/// which libzmq round-robins; PUSH (connected) to the Integration Manager.
///
/// - On a `Push` it starts the flow: swaps in the flow's next step and sends it to the
///   workers, or straight to the Integration Manager when that step is `PUBLISH` (a
///   service executes it) or `??done`.
/// - Any other message is forwarded unchanged: to the Integration Manager when its
///   decorator is `PUBLISH`, else to the workers.
/// - A parked flow goes on when its ASYNC step's header comes back with the id, or when a
///   DigitalPy party's `completed_command~~~~done~<id>~` does (see ``continueCompleted(_:)``).
///   The request it publishes for a single-form flow carries `prev_flows` in its values
///   (``PythonBodies/prevFlowEntry(step:id:)``).
/// - It keeps the ASYNC parking table (``ParkedFlows``) and publishes an error for every
///   message it cannot carry on — unknown flow or step, undecodable, oversized, unknown
///   ASYNC response, timeout — instead of dropping it.
public final class Subject {
    let front: Socket
    let toWorkers: Socket
    let toIntegrationManager: Socket
    /// Where a started flow goes next (``FlowRouter``, Subject role). Replaced only between two
    /// messages when ``source`` has newer flows (the Subject's thread only: unchecked exclusivity
    /// as for `outbox`).
    /// The loops keep their own copy and pass it down borrowed (``adoptIfReloaded(_:)``): every
    /// read of this `var` costs a retain and a release.
    @exclusivity(unchecked) var router: FlowRouter
    /// Newer flows to adopt (a reload), or nil for a Subject whose flows never change.
    let source: RoutingSource?
    /// ``source``'s newest generation, read per message without reference counting.
    let newestGeneration: RoutingSource.Generation?
    /// The generation of ``source`` that `router` was built from.
    @exclusivity(unchecked) var routingGeneration = 0
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
    /// Unchecked exclusivity for the same reason as `outbox`: the Subject's thread only.
    @exclusivity(unchecked) var parked: ParkedFlows
    /// ASYNC answers that overtook their park (same thread, same unchecked exclusivity).
    @exclusivity(unchecked) var early: EarlyAnswers
    /// Steps no worker could take yet (same thread, same unchecked exclusivity).
    @exclusivity(unchecked) var backlog: WorkerBacklog
    /// The most steps that wait for a worker: ``RoleLimits/highWaterMark``, at most this many
    /// (each holds two preallocated messages).
    static let backlogLimit = 65_536
    /// Reliable dispatch (``DispatchOptions/Mode/reliable``): which worker holds which step.
    /// Nil in fast mode, where `toWorkers` is a PUSH.
    let reliable: ReliableDispatch?
    /// The drain's request to stop starting flows (``IntakeControl``).
    let intake: IntakeControl
    /// Whether intake is closed, and when it closes at the latest once requested (the
    /// Subject's thread only, same unchecked exclusivity as `outbox`).
    @exclusivity(unchecked) var intakeClosed = false
    @exclusivity(unchecked) var intakeDeadline: ContinuousClock.Instant?
    public let frontEndpoint: String
    public let workerEndpoint: String
    /// Metadata `role=subject`; cold paths only (``RoleLog``).
    let logger: Logger
    /// Where started flows are recorded when flows have a deadline (``RoleLimits/flowTimeout``).
    let flowDeadlines: FlowDeadlines?

    public convenience init(
        context: Context, frontEndpoint: String, workerEndpoint: String, integrationManager: String,
        routing: RoutingTable, limits: RoleLimits = RoleLimits(), async: AsyncOptions = AsyncOptions(),
        dispatch: DispatchOptions = DispatchOptions(), intake: IntakeControl = IntakeControl(), statistics: CoreStatistics,
        flowDeadlines: FlowDeadlines? = nil, source: RoutingSource? = nil, logger: Logger = Logger(label: "zmanager")
    ) throws(ZMQError) {
        try self.init(context: context, frontEndpoint: frontEndpoint, workerEndpoint: workerEndpoint,
                      integrationManager: integrationManager, routing: routing, limits: limits, async: async,
                      dispatch: dispatch, intake: intake, statistics: statistics, errorBody: formAwareErrorBody,
                      flowDeadlines: flowDeadlines, source: source, logger: logger)
    }

    init(
        context: Context, frontEndpoint: String, workerEndpoint: String, integrationManager: String,
        routing: RoutingTable, limits: RoleLimits, async: AsyncOptions, dispatch: DispatchOptions = DispatchOptions(),
        intake: IntakeControl = IntakeControl(), statistics: CoreStatistics, errorBody: @escaping ErrorBodyEncoder,
        flowDeadlines: FlowDeadlines? = nil, source: RoutingSource? = nil, logger: Logger = Logger(label: "zmanager")
    ) throws(ZMQError) {
        self.intake = intake
        self.source = source
        newestGeneration = source?.generationCell
        if let source { routingGeneration = source.snapshot.generation }
        self.flowDeadlines = flowDeadlines
        self.logger = RoleLog.logger(logger, role: "subject")
        front = try Socket(context, .pull)
        try front.applyReceiveLimits(limits)
        try front.setReceiveTimeout(.milliseconds(20))
        try front.bind(frontEndpoint)
        switch dispatch.mode {
        case .fast:
            toWorkers = try Socket(context, .push)
        case .reliable:
            toWorkers = try Socket(context, .router)
            try toWorkers.setRouterMandatory(true)
            try toWorkers.setHeartbeat(interval: dispatch.heartbeat, timeout: dispatch.heartbeatTimeout)
            try toWorkers.applyReceiveLimits(limits)
        }
        try toWorkers.setSendHighWaterMark(limits.highWaterMark)
        try toWorkers.bind(workerEndpoint)
        toIntegrationManager = try Socket(context, .push)
        try toIntegrationManager.setSendHighWaterMark(limits.highWaterMark)
        try toIntegrationManager.connect(integrationManager)
        toWorkers.countSentMessages(in: statistics.subjectSent)
        toIntegrationManager.countSentMessages(in: statistics.subjectSent)
        self.frontEndpoint = try front.lastEndpoint
        self.workerEndpoint = try toWorkers.lastEndpoint
        self.router = FlowRouter(routing: routing, role: .subject) { _ in false }
        self.limits = limits
        self.statistics = statistics
        self.parked = ParkedFlows(capacity: async.capacity, timeout: async.timeout)
        self.early = EarlyAnswers(capacity: async.earlyAnswerCapacity, window: async.earlyAnswerWindow)
        let held = min(limits.highWaterMark, Self.backlogLimit)
        self.backlog = WorkerBacklog(capacity: dispatch.mode == .fast ? held : 1, byteBudget: limits.heldBytes)
        self.reliable = dispatch.mode == .fast ? nil
            : ReliableDispatch(socket: toWorkers, options: dispatch, capacity: held, byteBudget: limits.heldBytes,
                               waitLimit: limits.dispatchTimeout, statistics: statistics, logger: self.logger)
        self.pool = .shared
        self.errorBody = errorBody
        reliable?.onLost = { [unowned self] header, frameCount in
            failHeld(.workerLost, header: header, frameCount: frameCount,
                     "\(dispatch.maxAttempts) workers were lost while holding the step")
        }
    }

    /// Runs until the context shuts down.
    ///
    /// It never blocks on a send to the workers: what no worker can take waits in the backlog
    /// (``WorkerBacklog``), and while anything waits the Subject polls its front and the
    /// workers' socket together, so it keeps serving everything else. Only when the backlog
    /// is full does it stop reading (backpressure) until a worker takes a step or the oldest
    /// expires.
    public func run() {
        var inbound = Inbound()
        let clock = ContinuousClock()
        if let reliable { return runReliable(reliable, &inbound) }
        do {
            let frontAndWorkers = try Poller([(front, .readable), (toWorkers, .writable)])
            let workersOnly = try Poller([(toWorkers, .writable)])
            var paused = false  // what `statistics.intakePaused` says, so it is written on a change only
            var router = self.router
            while true {
                adoptIfReloaded(&router)  // also while idle: parked flows move or end promptly
                if backlog.isEmpty {
                    if paused { paused = false; statistics.intakePaused.store(false, ordering: .relaxed) }
                    let outcome = try inbound.receive(from: front, maxSize: limits.maxMessageSize, maxIDLength: limits.maxIDLength, controls: true)
                    checkIntake(frontEmpty: outcome.isTimedOut)
                    adoptIfReloaded(&router)  // a message received while the reload happened
                    try take(outcome, &inbound, router)
                } else {
                    checkIntake(frontEmpty: !frontAndWorkers.isReadable(0))
                    let full = backlog.isFull
                    if full != paused { paused = full; statistics.intakePaused.store(full, ordering: .relaxed) }
                    let poller = full ? workersOnly : frontAndWorkers
                    let untilExpiry = backlog.earliestDeadline.map { $0 - clock.now } ?? .milliseconds(20)
                    _ = try poller.poll(timeout: max(.zero, min(untilExpiry, .milliseconds(20))))
                    if poller.events(at: full ? 0 : 1).contains(.writable) { try flushBacklog() }
                    if !full && frontAndWorkers.isReadable(0) {
                        let outcome = try inbound.receive(from: front, maxSize: limits.maxMessageSize, maxIDLength: limits.maxIDLength, controls: true, dontWait: true)
                        adoptIfReloaded(&router)
                        try take(outcome, &inbound, router)
                    }
                    expireBacklog(now: clock.now)
                }
                if parked.count > 0 { expireParked(now: clock.now) }
                if early.needsExpiry { expireEarly(now: clock.now) }
            }
        } catch {
            RoleLog.ended("Subject", by: error, logger: logger)
        }
        front.close()
        toWorkers.close()
        toIntegrationManager.close()
    }

    /// ``run()`` in reliable mode: workers' outputs come back on the ROUTER and are read
    /// first (each final one frees a slot and a credit); new work is read only while a slot is
    /// free; workers are probed every heartbeat.
    private func runReliable(_ reliable: ReliableDispatch, _ inbound: inout Inbound) {
        let clock = ContinuousClock()
        var identity = Message()
        var lead = Message()
        do {
            let both = try Poller([(toWorkers, .readable), (front, .readable)])
            let workersOnly = try Poller([(toWorkers, .readable)])
            var nextProbe = clock.now
            var paused = false  // as in run()
            var router = self.router
            while true {
                adoptIfReloaded(&router)
                let full = reliable.isFull
                if full != paused { paused = full; statistics.intakePaused.store(full, ordering: .relaxed) }
                let poller = full ? workersOnly : both
                var wait = nextProbe - clock.now
                if let deadline = reliable.earliestDeadline { wait = min(wait, deadline - clock.now) }
                _ = try poller.poll(timeout: max(.zero, min(wait, .milliseconds(20))))
                // Batches bound how long one side waits for the other.
                var taken = 0
                while taken < 256, try takeFromWorker(reliable, &identity, &lead, &inbound, &router) { taken += 1 }
                if reliable.hasWaiting { try reliable.pump() }
                taken = 0
                while taken < 256, !reliable.isFull {
                    let outcome = try inbound.receive(from: front, maxSize: limits.maxMessageSize, maxIDLength: limits.maxIDLength, controls: true, dontWait: true)
                    checkIntake(frontEmpty: outcome.isTimedOut)
                    if case .timedOut = outcome { break }
                    adoptIfReloaded(&router)
                    try take(outcome, &inbound, router)
                    taken += 1
                }
                let now = clock.now
                if now >= nextProbe {
                    try reliable.probe()
                    nextProbe = now + reliable.options.heartbeat
                }
                reliable.expire(now: now) { header, frameCount in
                    failHeld(.noWorkers, header: header, frameCount: frameCount, "no worker took the step within \(limits.dispatchTimeout)")
                }
                if parked.count > 0 { expireParked(now: now) }
                if early.needsExpiry { expireEarly(now: now) }
            }
        } catch {
            RoleLog.ended("Subject", by: error, logger: logger)
        }
        front.close()
        toWorkers.close()
        toIntegrationManager.close()
    }

    /// Reads one message from the workers' ROUTER, if any: a worker's `ready`, or an output
    /// with its receipt, carried on unless its step was dealt again since (then it is stale
    /// and dropped: the new dealing answers). Returns false when nothing was waiting.
    private func takeFromWorker(_ reliable: ReliableDispatch, _ identity: inout Message, _ lead: inout Message,
                                _ inbound: inout Inbound, _ router: inout FlowRouter) throws(ZMQError) -> Bool {
        guard try toWorkers.receive(into: &identity, dontWait: true) == .received else { return false }
        guard identity.more else { return true }
        _ = try toWorkers.receive(into: &lead)
        let (size, first, seq, flags) = lead.withUnsafeBytes { bytes in
            (bytes.count, bytes.first ?? 0,
             bytes.count >= WorkerChannel.seqSize ? UInt64(littleEndian: bytes.loadUnaligned(as: UInt64.self)) : 0,
             WorkerChannel.Receipt(rawValue: bytes.count == WorkerChannel.receiptSize ? bytes[8] : 0))
        }
        if size == WorkerChannel.receiptSize {
            let current = reliable.receipt(seq, final: flags.contains(.final))
            if !current { statistics.staleOutputsDropped.wrappingAdd(lead.more ? 1 : 0, ordering: .relaxed) }
            // Only a connection the Subject does not know is asked to say ready: a known worker
            // with a stale receipt (a step dealt again meanwhile) is not, since its ready would
            // deal again everything it holds now, and their receipts would be stale in turn.
            if !identity.withUnsafeBytes({ reliable.knows($0) }) {
                try identity.withUnsafeBytes { (bytes) throws(ZMQError) in try reliable.hello(bytes) }
            }
            guard lead.more else { return true }
            guard current else {
                try discardRest(of: toWorkers, &lead)
                return true
            }
            if flags.contains(.toSubject) {
                let outcome = try inbound.receive(from: toWorkers, maxSize: limits.maxMessageSize, maxIDLength: limits.maxIDLength, controls: true)
                adoptIfReloaded(&router)
                try take(outcome, &inbound, router)
            } else {
                _ = try toWorkers.forward(to: toIntegrationManager, using: &lead)
            }
            return true
        }
        if size == WorkerChannel.readySize, first == 0, lead.withUnsafeBytes({ $0[1] }) == WorkerChannel.Verb.ready.rawValue {
            let credit = lead.withUnsafeBytes { Int(UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: 2, as: UInt32.self))) }
            try identity.withUnsafeBytes { (bytes) throws(ZMQError) in
                try reliable.register(bytes, credit: min(credit, limits.highWaterMark))
            }
        }
        if lead.more { try discardRest(of: toWorkers, &lead) }
        return true
    }

    private func discardRest(of socket: Socket, _ scratch: inout Message) throws(ZMQError) {
        while scratch.more { _ = try socket.receive(into: &scratch) }
    }

    /// Closes intake once the drain asked for it and the front is empty, or its grace has
    /// passed (under steady load the front is never empty). One relaxed load per message
    /// otherwise.
    @inline(__always)
    private func checkIntake(frontEmpty: Bool) {
        guard !intakeClosed, intake.closeRequested.load(ordering: .relaxed) else { return }
        let now = ContinuousClock.now
        let deadline = intakeDeadline ?? now + intake.grace
        intakeDeadline = deadline
        if frontEmpty || now >= deadline {
            intakeClosed = true
            intake.closed.store(true, ordering: .releasing)
        }
    }

    /// Between two messages: adopts newer flows when the source has them, into `router` (the
    /// loop's own copy, passed down borrowed: a read of the `var` property per use would cost a
    /// retain and a release each, measured at about 100 instructions per message).
    @inline(__always)
    private func adoptIfReloaded(_ router: inout FlowRouter) {
        if let newestGeneration, newestGeneration.value != routingGeneration {
            adopt(source!.snapshot)
            router = self.router
        }
    }

    private func take(_ outcome: Inbound.Outcome, _ inbound: inout Inbound, _ router: FlowRouter) throws(ZMQError) {
        switch outcome {
        case .timedOut:
            break
        case .malformed(let kind, let reason):
            statistics.subjectReceived.wrappingAdd(1, ordering: .relaxed)
            statistics.flowsStarted.wrappingAdd(1, ordering: .relaxed)
            fail(kind, flow: "", id: "", reason, form: inbound.form)
        case .message:
            statistics.subjectReceived.wrappingAdd(1, ordering: .relaxed)
            if let verb = inbound.verb {
                try control(verb, &inbound, router)
            } else {
                try route(&inbound, router)
            }
        }
    }

    private func route(_ inbound: inout Inbound, _ router: FlowRouter) throws(ZMQError) {
        // The flow position is looked up only where it is used (Push, ASYNC answers):
        // forwarded steps go on as they are.
        switch MessageClass(inbound.fields, in: inbound.headBytes) {
        case .start:
            if intakeClosed {
                // Not a started flow: the Integration Manager does not count this error either.
                return fail(.draining, flow: inbound.flowString, id: inbound.idString,
                            "the node is stopping and starts no new flows", form: inbound.form)
            }
            statistics.flowsStarted.wrappingAdd(1, ordering: .relaxed)
            if let flowDeadlines { noteStarted(inbound, in: flowDeadlines) }
            guard let position = positions.position(of: inbound, in: router.routing.flows),
                  let next = router.next(after: position)
            else { return unknown(&inbound) }
            switch next.hop {
            case .result, .publish:
                try send(&inbound, prefix: router.prefix(next.position), to: toIntegrationManager)
            case .park:
                try park(&inbound, at: next.position)
            case .workers, .runHere, .publishAndRunHere, .subject:
                // Only `.workers` is a Subject's hop; the others belong to roles that execute.
                try dispatch(&inbound, as: router.prefix(next.position))
            case .wouldLoop:
                // Refused at load for the step after `Push`; kept for flows built otherwise.
                fail(.flowLoop, flow: router.flowName(next.position), id: inbound.idString,
                     router.loopText(next.position), form: inbound.form)
            }
        case .completedCommand:
            try continueCompleted(&inbound)
        case .asyncResponse:
            try resumeParked(&inbound, router)
        case .published:
            try forward(&inbound, to: toIntegrationManager)
        case .step:
            try dispatchUnchanged(&inbound)
        }
    }

    /// Starts the clock of a new flow (`limits.flow_timeout`). Out of line: it reads the clock.
    @inline(never)
    private func noteStarted(_ inbound: borrowing Inbound, in flowDeadlines: FlowDeadlines) {
        flowDeadlines.started(id: inbound.id, flow: inbound.fields.bytes(.config, in: inbound.headBytes),
                              form: inbound.form, now: .now)
    }

    /// An external party's response to a parked flow: it goes on at its ASYNC step.
    ///
    /// Out of line: a parked entry holds a `ContinuousClock.Instant`, whose layout is known
    /// only at run time, and inlined into ``route(_:_:)`` it made every message ask for that
    /// layout (three type-metadata calls per message).
    @inline(never)
    private func resumeParked(_ inbound: inout Inbound, _ router: FlowRouter) throws(ZMQError) {
        let id = inbound.idString
        guard let position = positions.position(of: inbound, in: router.routing.flows), router.isAsync(position) else {
            return fail(.asyncUnknown, flow: inbound.flowString, id: id,
                        "no ASYNC step of a known flow matches this response's header", form: inbound.form)
        }
        guard let entry = parked.entry(id: id) else {
            // Not parked (yet): the park may still be on its way (EarlyAnswers).
            return holdEarly(&inbound, id: id, kind: .stepHeader(position))
        }
        // Check before taking the entry: a response naming the wrong step must not
        // consume the parked flow, which then still times out (or gets its right answer).
        guard entry.position == position, parked.resume(id: id) != nil else {
            return fail(.asyncUnknown, flow: inbound.flowString, id: id,
                        "the flow parked with this id waits at another ASYNC step", form: inbound.form)
        }
        statistics.parked.wrappingSubtract(1, ordering: .relaxed)
        try dispatchUnchanged(&inbound)
    }

    /// DigitalPy's ASYNC answer, `completed_command~~~~done~<id>~` (a `DigitalPyService`
    /// pushes it to the Integration Manager; the node's ``CompletedCommandBridge`` brings it
    /// here): the flow parked under that id goes on at its ASYNC step, with this message's
    /// body as the step's input.
    ///
    /// The parking table, keyed by the id, says where the flow waits; `prev_flows` in the body
    /// is not read (it is carried for the Python party, which copies it back as DigitalPy's
    /// services do). So the hop costs no decoding and works for any body.
    private func continueCompleted(_ inbound: inout Inbound) throws(ZMQError) {
        let id = inbound.idString
        guard let entry = parked.resume(id: id) else {
            return holdEarly(&inbound, id: id, kind: .completedCommand)
        }
        statistics.parked.wrappingSubtract(1, ordering: .relaxed)
        try dispatch(&inbound, as: router.prefix(entry.position))
    }

    private func unknown(_ inbound: inout Inbound) {
        let flow = inbound.flowString
        let missing = router.routing.missingPosition(flow: flow)
        fail(missing.kind, flow: flow, id: inbound.idString, missing.text, form: inbound.form)
    }

    private func control(_ verb: ControlVerb, _ inbound: inout Inbound, _ router: FlowRouter) throws(ZMQError) {
        switch verb {
        case .ping:
            try HeaderPrefix(fields: [Topics.controlConfig, "PONG", "", "", ""]).withBytes { (prefix) throws(ZMQError) in
                try outbox.send(prefix: prefix, id: inbound.headBytes, body: UnsafeRawBufferPointer(start: nil, count: 0),
                                form: .single, to: toIntegrationManager, pool: pool)
            }
        case .park:
            guard let position = positions.position(of: inbound, in: router.routing.flows),
                  router.isAsync(position)
            else { return unknown(&inbound) }
            try park(&inbound, at: position)
        }
    }

    /// Holds an answer no flow is parked for yet; with no room, or one held for the id
    /// already, it gets its `async_unknown` NOTICE at once.
    private func holdEarly(_ inbound: inout Inbound, id: String, kind: EarlyAnswers.Kind) {
        let flow = inbound.flowString
        let form = inbound.form
        guard early.hold(id: id, kind: kind, form: form, head: &inbound.head, body: &inbound.body, now: .now) else {
            let why = early.isHeld(id: id) ? "an answer with this id waits for its park already"
                : "\(early.capacity) answers wait for their parks already"
            return fail(.asyncUnknown, flow: flow, id: id, "no flow is parked with this id, and \(why)", form: form)
        }
    }

    private func expireEarly(now: ContinuousClock.Instant) {
        early.expire(now: now) { answer in
            let flow: String
            switch answer.kind {
            case .stepHeader(let position): flow = router.flowName(position)
            case .completedCommand: flow = Topics.completedCommandConfig
            }
            fail(.asyncUnknown, flow: flow, id: answer.id,
                 "no flow was parked with this id within \(early.window) of the answer (expired, answered already, never parked, or another step)",
                 form: answer.form)
        }
    }

    /// Parks the flow at its ASYNC step and publishes the request for the external party; or,
    /// when its answer came first (``EarlyAnswers``), continues the flow with that answer.
    private func park(_ inbound: inout Inbound, at position: FlowPosition) throws(ZMQError) {
        // The clock is read only here and for expiry: most messages never need it.
        let now = ContinuousClock.now
        let id = inbound.idString
        if early.count > 0, early.answers(id: id, at: position),
           let answer = early.take(id: id, head: &inbound.head, body: &inbound.body) {
            // The park's own body is dropped: the answer's is the ASYNC step's input. No PARKED
            // request goes out, since the party has answered already.
            guard inbound.reload(form: answer.form) else { return }
            statistics.earlyAnswersUsed.wrappingAdd(1, ordering: .relaxed)
            switch answer.kind {
            case .stepHeader: return try dispatchUnchanged(&inbound)
            case .completedCommand: return try dispatch(&inbound, as: router.prefix(position))
            }
        }
        let flow = router.routing.flows.flows[position.flow]
        switch parked.park(id: id, at: position, form: inbound.form, now: now) {
        case .full:
            return fail(.asyncCapacity, flow: flow.name, id: id, "\(parked.capacity) flows are parked already", form: inbound.form)
        case .duplicate:
            return fail(.asyncCapacity, flow: flow.name, id: id, "a flow with this id is parked already", form: inbound.form)
        case .parked:
            statistics.parked.wrappingAdd(1, ordering: .relaxed)
        }
        let step = flow.steps[position.step]
        let notice = HeaderPrefix(fields: [Topics.asyncConfig, Topics.parkedDecorator, "", flow.name, step.action])
        if inbound.form == .single,
           let body = inbound.withBody({ PythonBodies.settingPrevFlows(PythonBodies.prevFlowEntry(step: step, id: id), in: $0) }) {
            // A Python party gets DigitalPy's continuation state in the values it reads.
            try notice.withBytes { (prefix) throws(ZMQError) in
                try outbox.send(prefix: prefix, id: inbound.id, body: body, form: .single, to: toIntegrationManager, pool: pool)
            }
        } else {
            try notice.withBytes { (prefix) throws(ZMQError) in try send(&inbound, prefix: prefix, to: toIntegrationManager) }
        }
    }

    /// Adopts reloaded flows (``RoutingSource``), between two messages: a new router and
    /// position cache, and every parked flow moved to the same step of its new flow, or ended
    /// with `unknown_step` when that step or flow is gone.
    @inline(never)
    private func adopt(_ snapshot: RoutingSource.Snapshot) {
        let old = router.routing
        router = FlowRouter(routing: snapshot.routing, role: .subject) { _ in false }
        positions = PositionCache()
        routingGeneration = snapshot.generation
        let move = { (position: FlowPosition) in snapshot.routing.position(of: position, in: old) }
        early.remap(move)
        let ended = parked.remap(move)
        for (id, entry) in ended {
            statistics.parked.wrappingSubtract(1, ordering: .relaxed)
            let flow = old.flows.flows[entry.position.flow]
            fail(.unknownStep, flow: flow.name, id: id,
                 "the flows were reloaded without ASYNC step \(flow.steps[entry.position.step].text) of flow \"\(flow.name)\"",
                 form: entry.form)
        }
        logger.info("flows reloaded", metadata: ["generation": "\(snapshot.generation)", "flows": "\(snapshot.routing.flows.flows.count)",
                                                 "parked_moved": "\(parked.count)", "parked_ended": "\(ended.count)"])
    }

    private func expireParked(now: ContinuousClock.Instant) {
        for (id, entry) in parked.expire(now: now) {
            statistics.parked.wrappingSubtract(1, ordering: .relaxed)
            let flow = router.routing.flows.flows[entry.position.flow]
            fail(.asyncTimeout, flow: flow.name, id: id,
                 "no response to ASYNC step \(flow.steps[entry.position.step].text) within \(parked.timeout)",
                 form: entry.form)
        }
    }

    private func send(_ inbound: inout Inbound, as position: FlowPosition, to socket: Socket) throws(ZMQError) {
        try send(&inbound, prefix: router.prefix(position), to: socket)
    }

    /// Sends the message under a new header: in split form its body frame is moved, in single
    /// form the body is copied into the new frame.
    private func send(_ inbound: inout Inbound, prefix: UnsafeRawBufferPointer, to socket: Socket) throws(ZMQError) {
        switch inbound.form {
        case .split:
            try outbox.send(prefix: prefix, id: inbound.id, bodyFrame: &inbound.body, to: socket)
        case .single:
            try outbox.send(prefix: prefix, id: inbound.id, body: inbound.singleFormBody, form: .single, to: socket, pool: pool)
        }
    }

    /// Sends the message to the workers under `prefix` without blocking; if no worker can take
    /// it, it waits in the backlog (oldest first), or, with the backlog full, fails at once with
    /// ``ErrorKind/noWorkers``.
    private func dispatch(_ inbound: inout Inbound, as prefix: UnsafeRawBufferPointer) throws(ZMQError) {
        if let reliable {
            switch inbound.form {
            case .split:
                outbox.fillHeader(prefix: prefix, id: inbound.id)
                guard try reliable.admit(&outbox.header, &inbound.body) else { return refuse(inbound, reliable) }
            case .single:
                outbox.fillSingle(prefix: prefix, id: inbound.id, body: inbound.singleFormBody, pool: pool)
                guard try reliable.admit(&outbox.frame) else { return refuse(inbound, reliable) }
            }
            return
        }
        if !backlog.isEmpty { try flushBacklog() }
        switch inbound.form {
        case .split:
            guard try outbox.send(prefix: prefix, id: inbound.id, bodyFrame: &inbound.body, to: toWorkers, dontWait: true)
                == .wouldBlock else { return }
            guard !backlog.isFull else { return refuse(inbound) }
            holdForWorkers(&outbox.header, &inbound.body)
        case .single:
            guard try outbox.send(prefix: prefix, id: inbound.id, body: inbound.singleFormBody, form: .single,
                                  to: toWorkers, pool: pool, dontWait: true) == .wouldBlock else { return }
            guard !backlog.isFull else { return refuse(inbound) }
            holdForWorkers(&outbox.frame)
        }
    }

    /// ``dispatch(_:as:)`` for a message forwarded with its frames unchanged.
    private func dispatchUnchanged(_ inbound: inout Inbound) throws(ZMQError) {
        if let reliable {
            switch inbound.form {
            case .split:
                guard try reliable.admit(&inbound.head, &inbound.body) else { return refuse(inbound, reliable) }
            case .single:
                guard try reliable.admit(&inbound.head) else { return refuse(inbound, reliable) }
            }
            return
        }
        if !backlog.isEmpty { try flushBacklog() }
        switch inbound.form {
        case .split:
            guard try toWorkers.send(&inbound.head, more: true, dontWait: true) == .sent else {
                guard !backlog.isFull else { return refuse(inbound) }
                return holdForWorkers(&inbound.head, &inbound.body)
            }
            _ = try toWorkers.send(&inbound.body)
        case .single:
            guard try toWorkers.send(&inbound.head, dontWait: true) == .sent else {
                guard !backlog.isFull else { return refuse(inbound) }
                return holdForWorkers(&inbound.head)
            }
        }
    }

    // Out of line, like every use of a `ContinuousClock.Instant` on the way of a message: its
    // layout is known only at run time, so a function holding one asks for the type's metadata
    // (and sizes a stack slot) on every call, whether or not the branch runs.

    /// Keeps a one-frame message for the workers until one can take it, or its deadline.
    @inline(never)
    private func holdForWorkers(_ frame: inout Message) {
        held(backlog.append(&frame, deadline: ContinuousClock.now + limits.dispatchTimeout))
    }

    /// Keeps a two-frame message for the workers until one can take it, or its deadline.
    @inline(never)
    private func holdForWorkers(_ first: inout Message, _ second: inout Message) {
        held(backlog.append(&first, &second, deadline: ContinuousClock.now + limits.dispatchTimeout))
    }

    /// Counts a message moved into the backlog (which had room: checked before).
    private func held(_ kept: Bool) {
        assert(kept, "the backlog had room")
        statistics.waitingForWorkers.wrappingAdd(1, ordering: .relaxed)
    }

    /// Fails a message no worker can take while the backlog is full. (The loop stops reading
    /// while it is full, so only a message read before it filled gets here.)
    private func refuse(_ inbound: borrowing Inbound) {
        fail(.noWorkers, flow: inbound.flowString, id: inbound.idString,
             "no worker can take it, and \(backlog.capacity) steps are waiting for one already", form: inbound.form)
    }

    private func flushBacklog() throws(ZMQError) {
        let sent = try backlog.flush(to: toWorkers)
        if sent > 0 { statistics.waitingForWorkers.wrappingSubtract(sent, ordering: .relaxed) }
    }

    private func expireBacklog(now: ContinuousClock.Instant) {
        backlog.expire(now: now) { header, frameCount in
            statistics.waitingForWorkers.wrappingSubtract(1, ordering: .relaxed)
            failHeld(.noWorkers, header: header, frameCount: frameCount, "no worker took the step within \(limits.dispatchTimeout)")
        }
    }

    /// Reliable mode: every slot holds a step already. (The loop reads new work only while a
    /// slot is free, and a worker's output frees its own slot first, so this is rare.)
    private func refuse(_ inbound: borrowing Inbound, _ reliable: ReliableDispatch) {
        fail(.noWorkers, flow: inbound.flowString, id: inbound.idString,
             "\(reliable.capacity) steps are held for the workers already", form: inbound.form)
    }

    /// Forwards the message's frames as they are (no copy).
    private func forward(_ inbound: inout Inbound, to socket: Socket) throws(ZMQError) {
        if inbound.form == .split {
            _ = try socket.send(&inbound.head, more: true)
            _ = try socket.send(&inbound.body)
        } else {
            _ = try socket.send(&inbound.head)
        }
    }

    /// ``fail(_:flow:id:_:form:)`` for a step the Subject held (backlog, reliable slot), known by
    /// its first frame, a whole header, and its frame count.
    private func failHeld(_ kind: ErrorKind, header: UnsafeRawBufferPointer, frameCount: Int, _ text: String) {
        let fields = try? WireHeader.parse(header)
        fail(kind, flow: fields?.string(.config, in: header) ?? "", id: fields?.string(.id, in: header) ?? "",
             text, form: frameCount == 2 ? .split : .single)
    }

    private func fail(_ kind: ErrorKind, flow: String, id: String, _ text: String, form: WireForm) {
        if !Outbound.sendError(kind, role: "Subject", flow: flow, id: id, text: text, form: form,
                               to: toIntegrationManager, encodeBody: errorBody) {
            statistics.errorsNotSent.wrappingAdd(1, ordering: .relaxed)
        }
    }
}
