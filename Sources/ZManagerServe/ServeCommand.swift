import ArgumentParser
import Foundation
import Logging
import ZManager
import ZManagerMetrics
import ZeroMQ

/// `zmanager serve --config FILE`: runs a ZManager topology until SIGINT/SIGTERM, then
/// drains in-flight flows and stops.
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run Subject, Integration Manager and workers from a configuration file until SIGINT/SIGTERM.",
        discussion: """
            Prints one line 'ready subject=… workers=… integration_manager_pull=… integration_manager_pub=…' \
            with the bound endpoints once serving, and 'drained=… results=… errors=… in_flight=… redelivered=… workers_lost=… worker_restarts=… publish_dropped=… flow_timeouts=…' \
            (with security.curve also 'auth_accepted=… auth_refused=… auth_failed=…') \
            on the way out. SIGHUP reloads the flows and mappings the file names ('reloaded …', or \
            'reload_refused error=…' keeping the running ones). Worker processes (workers.deployment: processes) that exit are restarted with a backoff. \
            See examples/serve/zmanager.yaml for the configuration keys.
            """
    )

    @Option(name: .shortAndLong, help: "The YAML configuration file.")
    var config: String

    @Option(help: "Override the worker count of the configuration.")
    var workers: Int?

    @OptionGroup var logging: LoggingOptions

    func run() throws {
        Signals.blockTermination()  // before any thread starts: see Signals
        var configuration = try loadConfiguration(config)
        if let workers { configuration.workers = workers }
        let logger = logging.bootstrap(configuration: configuration)
        let flows = try configuration.loadFlows()
        let mapping = try configuration.loadMapping()
        let inProcessWorkers = configuration.deployment == .threads ? configuration.workers : 0
        let security: NodeSecurity?
        do { security = try configuration.curve?.serving() } catch { throw ValidationError(error.description) }
        let node = try ZManagerNode(
            endpoints: configuration.endpoints, flows: flows, mapping: mapping, handlers: .withBuiltins,
            options: .init(workers: inProcessWorkers, limits: configuration.limits, async: configuration.async,
                           dispatch: configuration.dispatch, ioThreads: configuration.ioThreads, logger: logger,
                           security: security))
        let endpoints = node.endpoints
        let supervisor = WorkerSupervisor(config: config, endpoints: endpoints, logger: logger)
        if configuration.deployment == .processes { try supervisor.start(count: configuration.workers) }
        let metrics: MetricsServer?
        do {
            metrics = try configuration.metricsListen.map { address in
                try Self.startMetrics(address, node: node, supervisor: supervisor)
            }
        } catch {
            supervisor.stop()  // no orphaned worker processes
            node.stop(drainTimeout: .zero)
            throw error
        }
        if let metrics { logger.info("metrics listening", metadata: ["address": "http://\(metrics.address)"]) }
        print("ready subject=\(endpoints.subjectFront) workers=\(endpoints.subjectWorkers) "
              + "integration_manager_pull=\(endpoints.integrationManagerPull) "
              + "integration_manager_pub=\(endpoints.integrationManagerPub) "
              + "deployment=\(configuration.deployment.rawValue) worker_count=\(configuration.workers) "
              + "flows=\(flows.flows.count) dispatch=\(configuration.dispatch.mode.rawValue)"
              + (security == nil ? " security=none" : " security=curve")
              + (metrics.map { " metrics=http://\($0.address)" } ?? ""))
        fflush(nil)

        var signal = Signals.wait()
        while signal == .hangup {
            reload(node: node, supervisor: supervisor, logger: logger)
            signal = Signals.wait()
        }
        let drained = node.drain(timeout: configuration.drainTimeout)
        metrics?.stop()
        supervisor.stop()
        node.stop(drainTimeout: .zero)
        let stats = node.statistics
        print("drained=\(drained) signal=\(signal.name) flows_started=\(stats.flowsStarted.load(ordering: .relaxed)) "
              + "results=\(stats.results.load(ordering: .relaxed)) errors=\(stats.errors.load(ordering: .relaxed)) "
              + "in_flight=\(stats.inFlight) redelivered=\(stats.redelivered.load(ordering: .relaxed)) "
              + "workers_lost=\(stats.workersLost.load(ordering: .relaxed)) worker_restarts=\(supervisor.restarts) "
              + "publish_dropped=\(stats.publishDropped.load(ordering: .relaxed)) "
              + "flow_timeouts=\(stats.errorsByKind[.flowTimeout])" + Self.authenticationSummary(node.authentication))
        fflush(nil)
        if !drained { throw ExitCode(3) }
    }
}

extension ServeCommand {
    /// SIGHUP: reads the configuration file again and replaces the flows and mappings it names,
    /// or keeps the running ones when anything in it is wrong. Prints `reloaded …` or
    /// `reload_refused error=<file:line: …>` on stdout (what scripts and tests wait for).
    func reload(node: ZManagerNode, supervisor: WorkerSupervisor, logger: Logger) {
        do {
            let configuration = try ServeConfiguration.load(path: config)
            let flows = try configuration.loadFlows()
            let mapping = try configuration.loadMapping()
            let generation = try node.reload(flows: flows, mapping: mapping)
            supervisor.reloadAll()
            node.statistics.reloads.add(1, ordering: .relaxed)
            logger.notice("flows and mappings reloaded", metadata: ["generation": "\(generation)", "flows": "\(flows.flows.count)"])
            print("reloaded generation=\(generation) flows=\(flows.flows.count)")
        } catch {
            node.statistics.reloadsRefused.add(1, ordering: .relaxed)
            logger.error("reload refused: keeping the running flows and mappings", metadata: ["error": "\(error)"])
            print("reload_refused error=\(error)")
        }
        fflush(nil)
    }

    /// ` auth_accepted=… auth_refused=… auth_failed=…` for a secured node, else nothing.
    static func authenticationSummary(_ statistics: AuthenticationStatistics?) -> String {
        guard let statistics else { return "" }
        let accepted = statistics.accepted.load(ordering: .relaxed)
        let refused = statistics.refused.load(ordering: .relaxed)
        let failed = statistics.failed.load(ordering: .relaxed)
        return " auth_accepted=\(accepted) auth_refused=\(refused) auth_failed=\(failed)"
    }

    /// `/metrics` and `/health` of a serve node: the core's counters, the buffer pool, the
    /// supervisor's restarts and running workers.
    static func startMetrics(_ address: ListenAddress, node: ZManagerNode, supervisor: WorkerSupervisor) throws -> MetricsServer {
        let exporter = MetricsExporter()
        exporter.exportCore(node.statistics)
        exporter.exportBufferPool()
        if let authentication = node.authentication { exporter.exportAuthentication(authentication) }
        let reloadHelp = "Reloads of the flows and mappings (SIGHUP), by result: ok, or refused for an error in the files."
        exporter.counter("zmanager_reloads_total", labels: [("result", "ok")], help: reloadHelp) {
            node.statistics.reloads.load(ordering: .relaxed)
        }
        exporter.counter("zmanager_reloads_total", labels: [("result", "refused")], help: reloadHelp) {
            node.statistics.reloadsRefused.load(ordering: .relaxed)
        }
        exporter.counter("zmanager_worker_restarts_total", help: "Worker processes serve restarted after they exited.") {
            supervisor.restarts
        }
        exporter.gauge("zmanager_worker_processes_running", help: "Worker processes serve started that run now.") {
            Double(supervisor.running)
        }
        exporter.gauge("zmanager_worker_threads_running", help: "The node's own worker threads that run now.") {
            Double(node.roleStatus.workerThreads)
        }
        exporter.gauge("zmanager_draining", help: "1 once the Subject's intake is closed for a drain.") {
            node.intake.isClosed ? 1 : 0
        }
        let reliable = node.dispatch.mode == .reliable
        do {
            return try MetricsServer(address: address, exporter: exporter) {
                Health.node(roles: node.roleStatus, statistics: node.statistics, intake: node.intake,
                            workerProcesses: supervisor.running, reliable: reliable)
            }
        } catch {
            throw ValidationError("\(error)")
        }
    }
}

/// Loads a serve configuration, turning every loading error into a one-line message.
func loadConfiguration(_ path: String) throws -> ServeConfiguration {
    do {
        return try ServeConfiguration.load(path: path)
    } catch {
        throw ValidationError(error.description)
    }
}

/// `zmanager worker`: one worker in its own process, connected to a running `serve`.
struct WorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Run one worker process connected to a Subject and an Integration Manager (this host or another, over ipc or tcp)."
    )

    @Option(name: .shortAndLong, help: "The YAML configuration file (flows, mappings, endpoints, limits).")
    var config: String

    @Option(help: "The worker's name in error messages and handler requests.")
    var name: String = "worker-\(getpid())"

    @Option(help: "The Subject's worker endpoint (overrides the configuration's endpoints.workers).")
    var subjectWorkers: String?

    @Option(help: "The Subject's front endpoint, for parking ASYNC flows (overrides endpoints.subject).")
    var subject: String?

    @Option(help: "The Integration Manager's PULL endpoint (overrides endpoints.integration_manager_pull).")
    var integrationManager: String?

    @Option(help: "Serve /metrics and /health over HTTP on HOST:PORT (an IPv4 address; port 0 picks one, printed on stdout). The configuration's metrics.listen is serve's own and is not used here.")
    var metrics: String?

    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        if let metrics, ListenAddress(metrics) == nil {
            throw ValidationError("--metrics: expected \(ListenAddress.expected), found \"\(metrics)\"")
        }
    }

    func run() throws {
        Signals.blockTermination()
        let configuration = try loadConfiguration(config)
        let logger = logging.bootstrap(configuration: configuration)
        let flows = try configuration.loadFlows()
        let mapping = try configuration.loadMapping()
        let security: CurveSecurity?
        do { security = try configuration.curve?.connecting() } catch { throw ValidationError(error.description) }
        let context = try Context(ioThreads: configuration.ioThreads, security: security)
        let statistics = CoreStatistics()
        let routing = RoutingTable(flows: flows)
        let source = RoutingSource(routing: routing, mapping: mapping)
        let worker = try Worker(
            name: name, context: context,
            subject: subjectWorkers ?? configuration.endpoints.subjectWorkers,
            subjectFront: subject ?? configuration.endpoints.subjectFront,
            integrationManager: integrationManager ?? configuration.endpoints.integrationManagerPull,
            routing: routing, mapping: mapping, handlers: .withBuiltins,
            limits: configuration.limits, dispatch: configuration.dispatch, statistics: statistics, source: source,
            logger: logger)
        let thread = SocketThread.start(name: "zm-\(name)") { worker.run() }
        var server: MetricsServer?
        if let metrics, let address = ListenAddress(metrics) {
            let exporter = MetricsExporter()
            exporter.exportCore(statistics)
            exporter.exportBufferPool()
            let workerName = name
            do {
                server = try MetricsServer(address: address, exporter: exporter) {
                    thread.isRunning ? .ready : .notReady("worker \(workerName) is not running")
                }
            } catch {
                context.shutdown()
                thread.join()
                context.terminate()
                throw ValidationError("\(error)")
            }
            print("metrics=http://\(server!.address)")
            fflush(nil)
        }
        while Signals.wait() == .hangup { Self.reload(config: config, source: source, name: name, logger: logger) }
        server?.stop()
        context.shutdown()
        thread.join()
        context.terminate()
    }

    /// SIGHUP: the flows and mappings of the configuration file again, or the running ones kept
    /// when anything is wrong. Prints `reloaded worker=NAME …` or `reload_refused worker=NAME error=…`.
    static func reload(config: String, source: RoutingSource, name: String, logger: Logger) {
        do {
            let configuration = try ServeConfiguration.load(path: config)
            let flows = try configuration.loadFlows()
            let mapping = try configuration.loadMapping()
            _ = try HandlerRegistry.withBuiltins.resolve(mapping)
            let generation = source.replace(routing: RoutingTable(flows: flows), mapping: mapping)
            logger.notice("flows and mappings reloaded", metadata: ["generation": "\(generation)", "flows": "\(flows.flows.count)"])
            print("reloaded worker=\(name) generation=\(generation) flows=\(flows.flows.count)")
        } catch {
            logger.error("reload refused: keeping the running flows and mappings", metadata: ["error": "\(error)"])
            print("reload_refused worker=\(name) error=\(error)")
        }
        fflush(nil)
    }

    /// Starts `zmanager worker` as a child process of this executable; `exited` is called (on
    /// a Foundation thread) when it ends.
    static func spawn(config: String, name: String, endpoints: Endpoints, logLevel: Logger.Level,
                      exited: @escaping @Sendable (Process) -> Void) throws -> Process {
        let process = Process()
        process.terminationHandler = exited
        process.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        process.arguments = ["worker", "--config", config, "--name", name,
                             "--subject-workers", endpoints.subjectWorkers, "--subject", endpoints.subjectFront,
                             "--integration-manager", endpoints.integrationManagerPull, "--log-level", logLevel.rawValue]
        try process.run()
        return process
    }
}
