import Foundation
public import Logging

/// How `zmanager serve` runs a topology: read from a YAML file (see
/// `examples/serve/zmanager.yaml` for every key with its default).
public struct ServeConfiguration: Sendable {
    public enum Deployment: String, Sendable, CaseIterable {
        /// Workers are threads of the serve process.
        case threads
        /// Workers are `zmanager worker` processes the serve process starts and stops.
        case processes
    }

    public var endpoints = Endpoints()
    /// Flow files or directories of `*.ini` files, absolute.
    public var flowPaths: [String] = []
    /// Action-mapping files or directories of `*.ini` files, absolute.
    public var mappingPaths: [String] = []
    public var workers = 2
    public var deployment = Deployment.threads
    public var limits = RoleLimits()
    public var async = AsyncOptions()
    public var dispatch = DispatchOptions()
    /// `dispatch.handoff`: whether the threads deployment's own workers take steps from the
    /// Subject and give outputs to the IM through in-process rings (`rings`, the default) or
    /// inproc sockets (`sockets`) (``ZManagerNode/Options/inProcessRings``).
    public var inProcessRings = true
    public var ioThreads = 1
    public var drainTimeout: Duration = .seconds(10)
    /// `metrics.listen`: where `serve` serves Prometheus metrics (`/metrics`) and readiness
    /// (`/health`) over HTTP; nil (the default) serves none.
    public var metricsListen: ListenAddress?
    /// `log_level`: the lowest level serve and its workers log (`--log-level` overrides it).
    public var logLevel: Logger.Level = .info
    /// `security.curve`: CURVE keys for every tcp and ipc endpoint; nil (the default) runs
    /// without authentication or encryption (docs/SECURITY.md).
    public var curve: CurveConfiguration?
    /// `multicast`: rate, recovery interval and hops of `endpoints.integration_manager_multicast`.
    public var multicast = MulticastOptions()
    /// The file this configuration was read from.
    public var file: String = "<defaults>"

    public init() {}

    /// Reads and validates `path`. Relative flow and mapping paths are relative to the file.
    public static func load(path: String) throws(ConfigurationError) -> ServeConfiguration {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw ConfigurationError(file: path, line: nil, keyPath: "", message: "cannot read the file")
        }
        return try parse(text, file: path)
    }

    public static func parse(_ text: String, file: String) throws(ConfigurationError) -> ServeConfiguration {
        let root = try ConfigurationReader(yaml: text, file: file)
        try root.expectMapping(allowed: ["endpoints", "flows", "mappings", "workers", "limits", "async", "dispatch", "io_threads", "drain_timeout", "metrics", "log_level",
                                           "security", "multicast"])
        var config = ServeConfiguration()
        config.file = file
        let base = URL(fileURLWithPath: file).deletingLastPathComponent()

        let endpoints = root["endpoints"]
        try endpoints.expectMapping(allowed: ["subject", "workers", "integration_manager_pull", "integration_manager_pub",
                                              "integration_manager_multicast"])
        config.endpoints.subjectFront = try endpoint(endpoints["subject"], default: config.endpoints.subjectFront)
        config.endpoints.subjectWorkers = try endpoint(endpoints["workers"], default: config.endpoints.subjectWorkers)
        config.endpoints.integrationManagerPull = try endpoint(endpoints["integration_manager_pull"], default: config.endpoints.integrationManagerPull)
        config.endpoints.integrationManagerPub = try endpoint(endpoints["integration_manager_pub"], default: config.endpoints.integrationManagerPub)
        let group = endpoints["integration_manager_multicast"]
        if group.isPresent {
            let text = try group.string()
            if let problem = MulticastOptions.problem(with: text) {
                throw group.error("expected \(MulticastOptions.expected); \"\(text)\": \(problem)")
            }
            config.endpoints.integrationManagerMulticast = text
        }
        let multicast = root["multicast"]
        try multicast.expectMapping(allowed: ["rate_kbps", "recovery_interval", "hops"])
        config.multicast.rateKilobitsPerSecond = try multicast["rate_kbps"].int(default: config.multicast.rateKilobitsPerSecond, in: 1...100_000_000)
        config.multicast.recoveryInterval = try multicast["recovery_interval"].duration(default: config.multicast.recoveryInterval)
        guard config.multicast.recoveryInterval >= .milliseconds(1) else {
            throw multicast["recovery_interval"].error("expected a duration of at least 1ms, found \(config.multicast.recoveryInterval)")
        }
        config.multicast.hops = try multicast["hops"].int(default: config.multicast.hops, in: 1...255)

        config.flowPaths = try paths(root["flows"], base: base, what: "flow file or directory")
        guard !config.flowPaths.isEmpty else { throw root["flows"].error("required: expected a flow file or directory, or a list of them") }
        config.mappingPaths = try paths(root["mappings"], base: base, what: "action-mapping file or directory")

        let workers = root["workers"]
        try workers.expectMapping(allowed: ["count", "deployment"])
        config.workers = try workers["count"].int(default: 2, in: 0...1024)
        config.deployment = Deployment(rawValue: try workers["deployment"].choice(Deployment.allCases.map(\.rawValue), default: "threads"))!

        let limits = root["limits"]
        try limits.expectMapping(allowed: ["high_water_mark", "max_message_size", "max_id_length", "held_bytes", "dispatch_timeout",
                                           "flow_timeout"])
        config.limits.highWaterMark = try limits["high_water_mark"].int(default: config.limits.highWaterMark, in: 1...10_000_000)
        config.limits.maxMessageSize = try limits["max_message_size"].int(default: config.limits.maxMessageSize, in: 64...(1 << 31))
        config.limits.maxIDLength = try limits["max_id_length"].int(default: config.limits.maxIDLength, in: 1...65_536)
        config.limits.heldBytes = try limits["held_bytes"].int(default: config.limits.heldBytes, in: (1 << 20)...(1 << 40))
        config.limits.dispatchTimeout = try limits["dispatch_timeout"].duration(default: config.limits.dispatchTimeout)
        let flowTimeout = limits["flow_timeout"]
        if flowTimeout.isPresent {
            let value = try flowTimeout.duration(default: .zero)
            guard value > .zero else { throw flowTimeout.error("expected a positive duration such as 30s, found \(value)") }
            config.limits.flowTimeout = value
        }

        let async = root["async"]
        try async.expectMapping(allowed: ["timeout", "capacity", "early_answer_window", "early_answer_capacity"])
        config.async.timeout = try async["timeout"].duration(default: config.async.timeout)
        config.async.capacity = try async["capacity"].int(default: config.async.capacity, in: 1...10_000_000)
        config.async.earlyAnswerWindow = try async["early_answer_window"].duration(default: config.async.earlyAnswerWindow)
        config.async.earlyAnswerCapacity = try async["early_answer_capacity"].int(default: config.async.earlyAnswerCapacity, in: 1...1_000_000)

        let dispatch = root["dispatch"]
        try dispatch.expectMapping(allowed: ["mode", "handoff", "credit", "heartbeat", "heartbeat_timeout", "max_attempts"])
        config.dispatch.mode = DispatchOptions.Mode(
            rawValue: try dispatch["mode"].choice(DispatchOptions.Mode.allCases.map(\.rawValue), default: "fast"))!
        config.dispatch.credit = try dispatch["credit"].int(default: config.dispatch.credit, in: 1...10_000)
        config.dispatch.heartbeat = try dispatch["heartbeat"].duration(default: config.dispatch.heartbeat)
        config.dispatch.heartbeatTimeout = try dispatch["heartbeat_timeout"].duration(default: config.dispatch.heartbeatTimeout)
        config.dispatch.maxAttempts = try dispatch["max_attempts"].int(default: config.dispatch.maxAttempts, in: 1...100)
        let handoff = dispatch["handoff"]
        config.inProcessRings = try handoff.choice(["rings", "sockets"], default: "rings") == "rings"
        if handoff.isPresent, config.inProcessRings, config.dispatch.mode == .reliable {
            throw handoff.error("handoff: rings needs dispatch.mode: fast; reliable dispatch hands steps over its ROUTER/DEALER channel, with receipts")
        }
        guard config.dispatch.heartbeatTimeout > config.dispatch.heartbeat else {
            throw dispatch["heartbeat_timeout"].error(
                "expected a duration longer than dispatch.heartbeat (\(config.dispatch.heartbeat)), found \(config.dispatch.heartbeatTimeout)")
        }

        let metrics = root["metrics"]
        try metrics.expectMapping(allowed: ["listen"])
        if metrics["listen"].isPresent {
            let text = try metrics["listen"].string()
            guard let address = ListenAddress(text) else {
                throw metrics["listen"].error("expected \(ListenAddress.expected), found \"\(text)\"")
            }
            config.metricsListen = address
        }

        let security = root["security"]
        try security.expectMapping(allowed: ["curve"])
        if security["curve"].isPresent {
            config.curve = try CurveConfiguration.parse(security["curve"], base: base)
            if config.endpoints.integrationManagerMulticast != nil {
                throw security["curve"].error("\(MulticastRefused().description) (endpoints.integration_manager_multicast is set)")
            }
        }

        config.logLevel = Logger.Level(rawValue: try root["log_level"].choice(Logger.Level.allCases.map(\.rawValue), default: "info"))!
        config.ioThreads = try root["io_threads"].int(default: 1, in: 1...64)
        config.drainTimeout = try root["drain_timeout"].duration(default: config.drainTimeout)
        return config
    }

    private static func endpoint(_ reader: ConfigurationReader, default value: String) throws(ConfigurationError) -> String {
        let text = try reader.string(default: value)
        guard ["inproc://", "ipc://", "tcp://"].contains(where: text.hasPrefix) else {
            throw reader.error("expected an endpoint such as tcp://127.0.0.1:19030 or ipc:///tmp/zmanager.sock, found \"\(text)\"")
        }
        return text
    }

    private static func paths(_ reader: ConfigurationReader, base: URL, what: String) throws(ConfigurationError) -> [String] {
        var result: [String] = []
        for item in try reader.list() {
            let text = try item.string()
            let path = text.hasPrefix("/") ? text : base.appendingPathComponent(text).standardizedFileURL.path
            guard FileManager.default.fileExists(atPath: path) else {
                throw item.error("expected a \(what), but \(path) does not exist")
            }
            result.append(path)
        }
        return result
    }

    /// Loads every flow file (directories: their `*.ini` files, sorted).
    public func loadFlows() throws(FlowFileError) -> FlowTable {
        try FlowTable(contentsOfFiles: Self.expand(flowPaths))
    }

    /// Loads every action-mapping file (directories: their `*.ini` files, sorted).
    public func loadMapping() throws(ActionMappingError) -> ActionMapping {
        try ActionMapping(contentsOfFiles: Self.expand(mappingPaths))
    }

    static func expand(_ paths: [String]) -> [String] {
        paths.flatMap { path -> [String] in
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else { return [path] }
            let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
            return names.filter { $0.hasSuffix(".ini") && !$0.hasPrefix(".") }.sorted().map { "\(path)/\($0)" }
        }
    }
}
