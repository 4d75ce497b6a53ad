public import Logging
public import ZeroMQ
import Dispatch

/// Endpoints of a ZManager topology. The defaults are DigitalPy's
/// (`configuration_management.ini`, `[ZManagerConfiguration]`), on 127.0.0.1.
public struct Endpoints: Sendable, Hashable, Codable {
    /// Subject PULL: services push requests here.
    public var subjectFront = "tcp://127.0.0.1:19030"
    /// Subject PUSH: workers connect here.
    public var subjectWorkers = "tcp://127.0.0.1:19031"
    /// Integration Manager PULL.
    public var integrationManagerPull = "tcp://127.0.0.1:19035"
    /// Integration Manager PUB: everyone subscribes here.
    public var integrationManagerPub = "tcp://127.0.0.1:19034"
    /// A PGM multicast group the Integration Manager publishes to as well
    /// (`epgm://INTERFACE;GROUP:PORT`, see ``MulticastOptions``); nil (the default): none.
    public var integrationManagerMulticast: String?

    public init() {}

    public init(subjectFront: String, subjectWorkers: String, integrationManagerPull: String, integrationManagerPub: String,
                integrationManagerMulticast: String? = nil) {
        self.subjectFront = subjectFront
        self.subjectWorkers = subjectWorkers
        self.integrationManagerPull = integrationManagerPull
        self.integrationManagerPub = integrationManagerPub
        self.integrationManagerMulticast = integrationManagerMulticast
    }

    /// Four fresh endpoints on one transport, for tests and benchmarks: `inproc` and
    /// `ipc` get unique names, `tcp` ephemeral loopback ports.
    public static func ephemeral(transport: String, tag: String = String(UInt64.random(in: 0...UInt64.max), radix: 36)) -> Endpoints {
        func endpoint(_ role: String) -> String {
            switch transport {
            case "inproc": "inproc://zmanager-\(tag)-\(role)"
            case "ipc": "ipc:///tmp/zmanager-\(tag)-\(role).sock"
            default: "tcp://127.0.0.1:*"
            }
        }
        return Endpoints(subjectFront: endpoint("subject"), subjectWorkers: endpoint("workers"),
                         integrationManagerPull: endpoint("im-pull"), integrationManagerPub: endpoint("im-pub"))
    }
}

/// A whole ZManager in one process: Integration Manager, Subject and N workers, each on its
/// own thread (the "threads" deployment), sharing one libzmq context, plus the
/// ``CompletedCommandBridge`` that lets DigitalPy parties answer ASYNC steps their way.
///
/// Every role answers a single-form (DigitalPy) request's errors with a pickled dict
/// (``PythonBodies/errorValues(kind:role:flow:id:text:)``), a split-form one's with text.
///
/// Workers in other processes or on other hosts connect to ``endpoints`` like the
/// in-process ones (`zmanager worker`). ``stop(drainTimeout:)`` drains before stopping.
public final class ZManagerNode: @unchecked Sendable {
    // @unchecked Sendable: all stored properties are immutable after init except `stopped`,
    // which only `stop` touches, serialised by `stopLock`; `threads` is filled during init and
    // only read afterwards (`stop` joins, `roleStatus` reads flags that are atomics).
    public let context: Context
    public let statistics = CoreStatistics()
    /// Closed by ``drain(timeout:quietPeriod:)``: the Subject then starts no new flows.
    public let intake = IntakeControl()
    /// The endpoints actually bound (wildcard ports resolved); connect clients here.
    public let endpoints: Endpoints
    /// The flows and mapping the roles route by; ``reload(flows:mapping:)`` replaces them.
    public let routingSource: RoutingSource
    /// The flows the roles route by now.
    public var routing: RoutingTable { routingSource.snapshot.routing }
    private let handlers: HandlerRegistry
    /// How the Subject deals to workers: a worker started for this node must use the same.
    public let dispatch: DispatchOptions
    /// Each flow's time from intake to result, while flows have a deadline
    /// (``RoleLimits/flowTimeout``); nil otherwise.
    public let flowLatencies: FlowLatencies?
    /// Handshakes on the secured endpoints; nil without ``Options/security``.
    public let authentication: AuthenticationStatistics?
    private var threads: [SocketThread] = []
    private let stopLock = DispatchSemaphore(value: 1)
    private var stopped = false

    public struct Options: Sendable {
        public var workers = 2
        public var limits = RoleLimits()
        public var async = AsyncOptions()
        /// Fast (PUSH) or reliable (credit, redelivery) dispatch to the workers; the node's own
        /// workers and any `zmanager worker` that connects must use the same mode.
        public var dispatch = DispatchOptions()
        public var ioThreads = 1
        /// `ZMQ_THREAD_NAME_PREFIX` of the node's context (see ``Context/init(ioThreads:maxSockets:threadNamePrefix:)``).
        public var threadNamePrefix: Int?
        /// Where the roles log (cold paths only: a role that stops, workers registered or lost),
        /// each with its `role` metadata added. Pass the application's logger.
        public var logger: Logger
        /// CURVE on every tcp and ipc endpoint: the node's key pair and the clients it lets in
        /// (see ``Authenticator``); nil: none.
        public var security: NodeSecurity?
        /// Rate, recovery interval and hops of ``Endpoints/integrationManagerMulticast``.
        public var multicast: MulticastOptions
        /// The node's own workers take steps from the Subject and hand outputs to the IM
        /// through in-process rings (``MessageRing``) rather than inproc sockets; workers in
        /// other processes still connect to ``endpoints``. Fast dispatch only (reliable dispatch
        /// keeps its ROUTER/DEALER channel).
        public var inProcessRings = true
        public init(workers: Int = 2, limits: RoleLimits = RoleLimits(), async: AsyncOptions = AsyncOptions(),
                    dispatch: DispatchOptions = DispatchOptions(), ioThreads: Int = 1, threadNamePrefix: Int? = nil,
                    logger: Logger = Logger(label: "zmanager"),
                    security: NodeSecurity? = nil, multicast: MulticastOptions = MulticastOptions(),
                    inProcessRings: Bool = true) {
            self.inProcessRings = inProcessRings
            self.logger = logger
            self.security = security
            self.multicast = multicast
            self.workers = workers
            self.limits = limits
            self.async = async
            self.dispatch = dispatch
            self.ioThreads = ioThreads
            self.threadNamePrefix = threadNamePrefix
        }
    }

    /// Binds every endpoint and starts the role threads.
    /// - Throws: ``ZMQError`` naming an endpoint that cannot be bound, or
    ///   ``MissingHandlersError`` or ``MulticastRefused`` before anything starts.
    public init(endpoints: Endpoints, flows: FlowTable, mapping: ActionMapping, handlers: HandlerRegistry,
                options: Options = Options()) throws {
        _ = try handlers.resolve(mapping)  // fail before binding anything
        if options.security != nil && endpoints.integrationManagerMulticast != nil { throw MulticastRefused() }
        context = try Context(ioThreads: options.ioThreads, threadNamePrefix: options.threadNamePrefix,
                              security: options.security?.curve)
        let routing = RoutingTable(flows: flows)
        routingSource = RoutingSource(routing: routing, mapping: mapping)
        self.handlers = handlers
        dispatch = options.dispatch
        authentication = options.security.map { _ in AuthenticationStatistics() }
        let deadlines = options.limits.flowTimeout.map { FlowDeadlines(timeout: $0) }
        flowLatencies = deadlines?.latencies
        do {
            if let security = options.security, let authentication {
                // First: the context refuses a secured bind until its ZAP handler is bound.
                let authenticator = try Authenticator(context: context, allowed: security.allowed,
                                                      statistics: authentication, logger: options.logger)
                threads.append(SocketThread.start(name: "zm-auth") { authenticator.run() })
            }
            let im = try IntegrationManager(context: context, pullEndpoint: endpoints.integrationManagerPull,
                                            pubEndpoint: endpoints.integrationManagerPub, limits: options.limits,
                                            statistics: statistics, flowDeadlines: deadlines,
                                            multicastEndpoint: endpoints.integrationManagerMulticast,
                                            multicast: options.multicast, logger: options.logger)
            let subject = try Subject(context: context, frontEndpoint: endpoints.subjectFront,
                                      workerEndpoint: endpoints.subjectWorkers, integrationManager: im.pullEndpoint,
                                      routing: routing, limits: options.limits, async: options.async, dispatch: options.dispatch,
                                      intake: intake, statistics: statistics, flowDeadlines: deadlines, source: routingSource,
                                      logger: options.logger)
            self.endpoints = Endpoints(subjectFront: subject.frontEndpoint, subjectWorkers: subject.workerEndpoint,
                                       integrationManagerPull: im.pullEndpoint, integrationManagerPub: im.pubEndpoint,
                                       integrationManagerMulticast: im.multicastEndpoint)
            let rings = options.inProcessRings && options.dispatch.mode == .fast && options.workers > 0
                ? InProcessRings(workers: options.workers, limit: options.limits.highWaterMark) : nil
            if let rings {
                subject.toWorkers.attach(rings.subjectPort())
                im.pull.attach(rings.integrationManagerPort())
            }
            threads.append(SocketThread.start(name: "zm-im") { im.run() })
            threads.append(SocketThread.start(name: "zm-subject") { subject.run() })
            let bridge = try CompletedCommandBridge(context: context, integrationManagerPub: im.pubEndpoint,
                                                    subjectFront: subject.frontEndpoint, limits: options.limits,
                                                    logger: options.logger)
            threads.append(SocketThread.start(name: "zm-completed") { bridge.run() })
            for index in 0..<options.workers {
                if let rings {
                    let worker = try Worker(name: "w\(index)", context: context, rings: rings.worker(index),
                                            subjectFront: self.endpoints.subjectFront, routing: routing, mapping: mapping,
                                            handlers: handlers, limits: options.limits, statistics: statistics,
                                            source: routingSource, logger: options.logger)
                    threads.append(SocketThread.start(name: "zm-w\(index)") { worker.run() })
                    continue
                }
                let worker = try Worker(name: "w\(index)", context: context, subject: self.endpoints.subjectWorkers,
                                        subjectFront: self.endpoints.subjectFront,
                                        integrationManager: self.endpoints.integrationManagerPull,
                                        routing: routing, mapping: mapping, handlers: handlers,
                                        limits: options.limits, dispatch: options.dispatch, statistics: statistics,
                                        source: routingSource, logger: options.logger)
                threads.append(SocketThread.start(name: "zm-w\(index)") { worker.run() })
            }
        } catch {
            context.shutdown()
            for thread in threads { thread.join() }
            context.terminate()
            throw error
        }
    }

    deinit { stop(drainTimeout: .zero) }

    /// Replaces the flows and the mapping while the node runs: the Subject and the node's own
    /// workers adopt them at their next message (``RoutingSource``). Workers in other processes
    /// reload their own (`zmanager worker` on SIGHUP).
    /// - Returns: the new generation.
    /// - Throws: ``MissingHandlersError`` when the mapping names a target no handler is
    ///   registered for; the running flows and mapping are then kept.
    @discardableResult
    public func reload(flows: FlowTable, mapping: ActionMapping) throws -> Int {
        _ = try handlers.resolve(mapping)
        return routingSource.replace(routing: RoutingTable(flows: flows), mapping: mapping)
    }

    /// Which of the node's role threads still run: what a health check reads.
    public struct RoleStatus: Sendable, Equatable {
        public var subject: Bool
        public var integrationManager: Bool
        /// The node's own worker threads that still run (workers in other processes are not
        /// counted here).
        public var workerThreads: Int
        /// Whether the ZAP handler runs; nil for a node without ``Options/security``. Without it
        /// no secured handshake completes.
        public var authenticator: Bool?

        public init(subject: Bool, integrationManager: Bool, workerThreads: Int, authenticator: Bool? = nil) {
            self.subject = subject
            self.integrationManager = integrationManager
            self.workerThreads = workerThreads
            self.authenticator = authenticator
        }
    }

    /// Which role threads still run. A role's loop ends only when the node stops or the role
    /// failed (its socket errored), so a false here on a running node is a failure.
    public var roleStatus: RoleStatus {
        // `threads` is written only during init; reading it afterwards from any thread is safe.
        RoleStatus(subject: threads.contains { $0.name == "zm-subject" && $0.isRunning },
                   integrationManager: threads.contains { $0.name == "zm-im" && $0.isRunning },
                   workerThreads: threads.count { $0.name.hasPrefix("zm-w") && $0.isRunning },
                   authenticator: authentication == nil ? nil : threads.contains { $0.name == "zm-auth" && $0.isRunning })
    }

    /// Drains (``drain(timeout:quietPeriod:)``), then stops every role and waits for their
    /// threads. Returns whether the drain completed.
    ///
    /// Draining never relies on socket linger (libzmq 4.3.4 loses the tail of a burst on
    /// close over ipc): it waits until every flow the Subject started has ended in a result or
    /// an error published by the Integration Manager.
    @discardableResult
    public func stop(drainTimeout: Duration = .seconds(10), quietPeriod: Duration = .milliseconds(100)) -> Bool {
        stopLock.wait()
        defer { stopLock.signal() }
        if stopped { return true }
        stopped = true
        let drained = drain(timeout: drainTimeout, quietPeriod: quietPeriod)
        context.shutdown()
        for thread in threads { thread.join() }
        context.terminate()
        return drained
    }

    /// Drains: closes intake, then waits until every flow started before has ended.
    ///
    /// 1. The Subject is asked to close its intake. It goes on starting the flows queued at its
    ///    front until the front is empty, or for ``IntakeControl/grace`` (500 ms) at most, since
    ///    under steady load it never is; from then on every `Push` gets a ``ErrorKind/draining``
    ///    error. Everything else (steps under way, ASYNC answers, publications) is served as
    ///    before. So a drain completes under any load, and every request gets an answer: a
    ///    result, or `draining`.
    /// 2. Then it waits until no flow is in flight (each ended in a result or an error that the
    ///    Integration Manager published), continuously for `quietPeriod`.
    ///
    /// Returns false when `timeout` passes first. Intake stays closed either way: a drain is the
    /// way to a stop.
    public func drain(timeout: Duration, quietPeriod: Duration = .milliseconds(100)) -> Bool {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        intake.closeRequested.store(true, ordering: .releasing)
        var quietSince: ContinuousClock.Instant?
        while true {
            if intake.isClosed && statistics.inFlight <= 0 {
                let since = quietSince ?? clock.now
                quietSince = since
                if clock.now - since >= quietPeriod { return true }
            } else {
                quietSince = nil
            }
            if clock.now >= deadline { return false }
            // Poll the counters: they are updated by role threads on their hot path, which
            // must not pay for signalling a waiter on every message.
            var pause = timespec(tv_sec: 0, tv_nsec: 2_000_000)
            nanosleep(&pause, nil)
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
