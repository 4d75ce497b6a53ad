public import ArgumentParser
import Foundation
import Logging
import ZManager
import ZManagerMetrics
import ServiceLifecycle
import ZeroMQ

/// `zmanager worker`: one worker in its own process, connected to a running `serve`.
public struct WorkerCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
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

    public func validate() throws {
        if let metrics, ListenAddress(metrics) == nil {
            throw ValidationError("--metrics: expected \(ListenAddress.expected), found \"\(metrics)\"")
        }
    }

    public init() {}

    public func run() throws {
        // Used only by the task `runBlocking` runs while this thread waits for it.
        nonisolated(unsafe) let command = self
        try runBlocking { try await command.runServices() }
    }

    func runServices() async throws {
        let signals = await Lifecycle.signals()  // first: see Lifecycle
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
            routing: routing, mapping: mapping, handlers: ZManagerComponent.handlers,
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
        let metricsServer = server
        let (config, name) = (self.config, self.name)
        _ = try await Lifecycle.run([StopOnShutdown {
            metricsServer?.stop()
            context.shutdown()
            thread.join()
            context.terminate()
        }], signals: signals, ready: {}, reload: {
            Self.reload(config: config, source: source, name: name, logger: logger)
        }, logger: logger)
    }

    /// SIGHUP: the flows and mappings of the configuration file again, or the running ones kept
    /// when anything is wrong. Prints `reloaded worker=NAME …` or `reload_refused worker=NAME error=…`.
    static func reload(config: String, source: RoutingSource, name: String, logger: Logger) {
        do {
            let configuration = try ServeConfiguration.load(path: config)
            let flows = try configuration.loadFlows()
            let mapping = try configuration.loadMapping()
            _ = try ZManagerComponent.handlers.resolve(mapping)
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
        try Lifecycle.withSignalsBlocked { try process.run() }
        return process
    }
}
