public import ArgumentParser
import Foundation
import Logging
import ZManager
import ZManagerMetrics
import ServiceLifecycle
import Synchronization
import ZeroMQ

/// `zmanager serve --config FILE`: runs a ZManager topology until SIGINT/SIGTERM, then
/// drains in-flight flows and stops.
public struct ServeCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run Subject, Integration Manager and workers from a configuration file until SIGINT/SIGTERM.",
        discussion: """
            Prints one line 'ready subject=… workers=… integration_manager_pull=… integration_manager_pub=…' \
            (and 'integration_manager_multicast=…' with a multicast group) \
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

    public init() {}

    public func run() throws {
        // Used only by the task `runBlocking` runs while this thread waits for it.
        nonisolated(unsafe) let command = self
        try runBlocking { try await command.runServices() }
    }

    func runServices() async throws {
        // First, before any socket is bound or thread started: see Lifecycle.
        let signals = await Lifecycle.signals()
        var configuration = try loadConfiguration(config)
        if let workers { configuration.workers = workers }
        let logger = logging.bootstrap(configuration: configuration)
        let flows = try configuration.loadFlows()
        let mapping = try configuration.loadMapping()
        let inProcessWorkers = configuration.deployment == .threads ? configuration.workers : 0
        let security: NodeSecurity?
        do { security = try configuration.curve?.serving() } catch { throw ValidationError(error.description) }
        let node = try ZManagerNode(
            endpoints: configuration.endpoints, flows: flows, mapping: mapping, handlers: ZManagerComponent.handlers,
            options: .init(workers: inProcessWorkers, limits: configuration.limits, async: configuration.async,
                           dispatch: configuration.dispatch, ioThreads: configuration.ioThreads, logger: logger,
                           security: security, multicast: configuration.multicast,
                           inProcessRings: configuration.inProcessRings))
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
        let readyLine = "ready subject=\(endpoints.subjectFront) workers=\(endpoints.subjectWorkers) "
            + "integration_manager_pull=\(endpoints.integrationManagerPull) "
            + "integration_manager_pub=\(endpoints.integrationManagerPub) "
            + (endpoints.integrationManagerMulticast.map { "integration_manager_multicast=\($0) " } ?? "")
            + "deployment=\(configuration.deployment.rawValue) worker_count=\(configuration.workers) "
            + "flows=\(flows.flows.count) dispatch=\(configuration.dispatch.mode.rawValue)"
            + (configuration.deployment == .threads && configuration.dispatch.mode == .fast
               ? " handoff=\(configuration.inProcessRings ? "rings" : "sockets")" : "")
            + (security == nil ? " security=none" : " security=curve")
            + (metrics.map { " metrics=http://\($0.address)" } ?? "")

        // Stopped in reverse order: the node drains first, then the metrics server, then the
        // worker processes (Lifecycle).
        let drained = Mutex(false)
        let drainTimeout = configuration.drainTimeout
        let services: [any ServiceLifecycle.Service] = [
            StopOnShutdown { supervisor.stop() },
            StopOnShutdown { metrics?.stop() },
            StopOnShutdown { drained.withLock { $0 = node.drain(timeout: drainTimeout) } },
        ]
        let config = self.config
        let signal = try await Lifecycle.run(services, signals: signals, ready: {
            print(readyLine)
            fflush(nil)
        }, reload: {
            Self.reload(config: config, node: node, supervisor: supervisor, logger: logger)
        }, logger: logger)
        node.stop(drainTimeout: .zero)
        let stats = node.statistics
        let wasDrained = drained.withLock { $0 }
        print("drained=\(wasDrained) signal=\(signal) flows_started=\(stats.flowsStarted.load(ordering: .relaxed)) "
              + "results=\(stats.results.load(ordering: .relaxed)) errors=\(stats.errors.load(ordering: .relaxed)) "
              + "in_flight=\(stats.inFlight) redelivered=\(stats.redelivered.load(ordering: .relaxed)) "
              + "workers_lost=\(stats.workersLost.load(ordering: .relaxed)) worker_restarts=\(supervisor.restarts) "
              + "publish_dropped=\(stats.publishDropped.load(ordering: .relaxed)) "
              + "flow_timeouts=\(stats.errorsByKind[.flowTimeout])" + Self.authenticationSummary(node.authentication))
        fflush(nil)
        if !wasDrained { throw ExitCode(3) }
    }
}

extension ServeCommand {
    /// SIGHUP: reads the configuration file again and replaces the flows and mappings it names,
    /// or keeps the running ones when anything in it is wrong. Prints `reloaded …` or
    /// `reload_refused error=<file:line: …>` on stdout (what scripts and tests wait for).
    static func reload(config: String, node: ZManagerNode, supervisor: WorkerSupervisor, logger: Logger) {
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
        if let latencies = node.flowLatencies { exporter.exportFlowLatencies(latencies) }
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
