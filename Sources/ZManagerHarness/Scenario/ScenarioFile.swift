import Foundation
public import ZManager

/// Reads scenario YAML files. A bad scenario fails before anything runs, with the file,
/// line, key path and what was expected:
/// `scenarios/x.yaml:12: matrix.topology.transport[1]: expected one of inproc, ipc, tcp, found "udp"`.
public enum ScenarioFile {
    /// Every key a scenario may set, by section; matrix keys are `section.key`.
    static let sections: [String: [String]] = [
        "topology": ["transport", "deployment", "dispatch", "handoff", "credit", "workers", "high_water_mark", "security", "flow_timeout"],
        "workload": ["payload", "flow", "handler", "form"],
        "load": ["model", "in_flight", "rate", "to", "slo", "tolerance", "probes", "edge_repeats"],
        "phases": ["warmup", "measure", "messages", "drain", "interval"],
    ]

    /// - Parameter overrides: `KEY.PATH=VALUE` arguments (`zmanager run --set`), applied over
    ///   the file before it is checked; they are part of the scenario's hash and recorded.
    public static func load(path: String, overrides: [String] = []) throws(ConfigurationError) -> Scenario {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationError(file: path, line: nil, keyPath: "", message: "cannot read the scenario file")
        }
        let text = String(decoding: data, as: UTF8.self)
        var scenario = try parse(text, file: path, overrides: overrides)
        // The file's bytes, then one line per override: equal hashes, same scenario.
        scenario.hash = SHA256.hex(of: Array(data) + overrides.flatMap { Array("\n# --set \($0)".utf8) })
        return scenario
    }

    public static func parse(_ text: String, file: String, overrides: [String] = []) throws(ConfigurationError) -> Scenario {
        let root = try ConfigurationReader(yaml: text, file: file, overrides: overrides)
        guard root.isPresent else { throw root.error("the scenario is empty; expected a mapping with topology, workload, load, phases, matrix") }
        try root.expectMapping(allowed: (["name", "description", "repeats", "calibrate", "calibration", "matrix", "agents"] + sections.keys).sorted())
        try root["calibration"].expectMapping(allowed: ["bare", "reference", "generator"])
        for (section, keys) in sections { try root[section].expectMapping(allowed: keys) }

        let defaultName = URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent
        let name = try root["name"].string(default: defaultName)
        let description = try root["description"].string(default: "")
        let repeats = try root["repeats"].int(default: 1, in: 1...100)
        if root["calibrate"].isPresent && root["calibration"]["bare"].isPresent {
            throw root["calibrate"].error("give either calibrate or calibration.bare, not both")
        }
        let calibrate = try root["calibration"]["bare"].isPresent
            ? root["calibration"]["bare"].bool(default: true) : root["calibrate"].bool(default: true)
        let agents = try agentEndpoints(root["agents"])
        let reference = try root["calibration"]["reference"].bool(default: false)
        if reference && !agents.isEmpty {
            throw root["calibration"]["reference"].error("the C reference program generates its load on this host; it cannot run with agents")
        }
        // The generator's ceiling measures a generator on this host, which a run with agents has none of.
        let generatorCeiling = try root["calibration"]["generator"].bool(default: agents.isEmpty)
        if generatorCeiling && !agents.isEmpty {
            throw root["calibration"]["generator"].error("the generator's ceiling measures a load generator on this host; with agents there is none (leave calibration.generator out, or false)")
        }

        // The base settings: dotted key → reader.
        var base: [String: ConfigurationReader] = [:]
        for (section, keys) in sections {
            for key in keys where root[section][key].isPresent { base["\(section).\(key)"] = root[section][key] }
        }
        // The matrix: ordered axes of values.
        let matrix = root["matrix"]
        var axes: [(key: String, values: [ConfigurationReader])] = []
        for key in try matrix.keys() {
            let parts = key.split(separator: ".").map(String.init)
            guard parts.count == 2, let allowed = sections[parts[0]], allowed.contains(parts[1]) else {
                let known = sections.keys.sorted().flatMap { s in sections[s]!.map { "\(s).\($0)" } }
                throw matrix[key].error("unknown matrix key; expected one of \(known.joined(separator: ", "))")
            }
            let values = try matrix[key].list()
            guard !values.isEmpty else { throw matrix[key].error("expected a non-empty list of values to sweep") }
            axes.append((key, values))
        }

        var points: [PointSpec] = []
        var combination = Array(repeating: 0, count: axes.count)
        while true {
            var settings = base
            var idParts: [String] = []
            for (axis, index) in zip(axes, combination) {
                settings[axis.key] = axis.values[index]
                idParts.append("\(axis.key.split(separator: ".").last!)=\(try describe(axis.values[index]))")
            }
            var point = try makePoint(settings, root: root)
            if !agents.isEmpty { try checkAgents(agents.count, point, settings, root: root) }
            point.id = idParts.isEmpty ? "default" : idParts.joined(separator: ",")
            points.append(point)
            // Next combination, last axis fastest.
            var axis = axes.count - 1
            while axis >= 0 {
                combination[axis] += 1
                if combination[axis] < axes[axis].values.count { break }
                combination[axis] = 0
                axis -= 1
            }
            if axis < 0 { break }
        }
        guard points.count <= 10_000 else { throw matrix.error("the matrix expands to \(points.count) points; at most 10000") }
        var scenario = Scenario(name: name, description: description, file: file, hash: "", points: points,
                                repeats: repeats, calibrate: calibrate)
        scenario.reference = reference
        scenario.generatorCeiling = generatorCeiling
        scenario.overrides = overrides
        scenario.agents = agents
        return scenario
    }

    /// `agents:`: a list of control endpoints (`tcp://HOST:PORT`, where `zmanager agent
    /// --listen` listens), each optionally a mapping `{control: ENDPOINT, connect: ADDRESS}`.
    static func agentEndpoints(_ reader: ConfigurationReader) throws(ConfigurationError) -> [AgentEndpoint] {
        guard reader.isPresent else { return [] }
        let expected = "expected a list of agent control endpoints such as [tcp://10.0.0.2:5600, tcp://10.0.0.3:5600]"
        let entries: [ConfigurationReader]
        do { entries = try reader.list() } catch { throw reader.error("\(expected), found a single value") }
        guard !entries.isEmpty else { throw reader.error("\(expected), found an empty list") }
        guard entries.count <= 255 else { throw reader.error("at most 255 agents, found \(entries.count)") }
        var agents: [AgentEndpoint] = []
        for entry in entries {
            var agent: AgentEndpoint
            if let keys = try? entry.keys(), !keys.isEmpty {
                try entry.expectMapping(allowed: ["connect", "control"])
                guard entry["control"].isPresent else { throw entry.error("an agent mapping needs control: its endpoint, such as tcp://10.0.0.2:5600") }
                agent = AgentEndpoint(control: try entry["control"].string())
                if entry["connect"].isPresent {
                    let address = try entry["connect"].string()
                    guard !address.isEmpty, !address.contains("/"), !address.contains("*") else {
                        throw entry["connect"].error("expected the address the agent reaches this host at, such as 10.0.0.1, found \"\(address)\"")
                    }
                    agent.connect = address
                }
            } else {
                agent = AgentEndpoint(control: try entry.string())
            }
            let control = agent.control
            let at = entry["control"].isPresent ? entry["control"] : entry
            let isTCP = control.hasPrefix("tcp://") && control.dropFirst(6).contains(":") && !control.contains("*")
            guard isTCP || (control.hasPrefix("ipc://") && control.count > 6) else {
                throw at.error("expected an agent's control endpoint such as tcp://10.0.0.2:5600 (a host and a port, no wildcard) or ipc:///tmp/agent.sock, found \"\(control)\"")
            }
            guard !agents.contains(where: { $0.control == control }) else { throw at.error("agent \(control) is listed twice") }
            agents.append(agent)
        }
        return agents
    }

    /// What a point needs for its load to come from `count` agents: tcp (they are on other
    /// hosts), no CURVE (they hold no client keys), and enough load to give each a share.
    static func checkAgents(_ count: Int, _ point: PointSpec, _ s: [String: ConfigurationReader],
                            root: ConfigurationReader) throws(ConfigurationError) {
        func reader(_ key: String) -> ConfigurationReader {
            let parts = key.split(separator: ".").map(String.init)
            return s[key] ?? (root[parts[0]][parts[1]].isPresent ? root[parts[0]][parts[1]] : root["agents"])
        }
        guard point.transport == .tcp else {
            throw reader("topology.transport").error("agents reach the pipeline over the network: every point's transport must be tcp, found \(point.transport.rawValue)")
        }
        guard point.security == .none else {
            throw reader("topology.security").error("agents hold no CURVE client keys; security: curve cannot run with agents")
        }
        if case .closed(let inFlight) = point.load, inFlight < count {
            throw reader("load.in_flight").error("\(count) agents share the closed loop's messages in flight: expected at least \(count), found \(inFlight)")
        }
        if let messages = point.measureMessages, messages < count {
            throw reader("phases.messages").error("\(count) agents share the measured messages: expected at least \(count), found \(messages)")
        }
    }

    private static func describe(_ value: ConfigurationReader) throws(ConfigurationError) -> String {
        if let text = try? value.string() { return text }
        return try value.keys().map { key in "\(key):\((try? value[key].string()) ?? "…")" }.joined(separator: ";")
    }

    static func makePoint(_ s: [String: ConfigurationReader], root: ConfigurationReader) throws(ConfigurationError) -> PointSpec {
        var point = PointSpec()
        func reader(_ key: String) -> ConfigurationReader {
            let parts = key.split(separator: ".").map(String.init)
            return s[key] ?? root[parts[0]][parts[1]]
        }
        point.transport = PointSpec.Transport(rawValue: try reader("topology.transport").choice(PointSpec.Transport.allCases.map(\.rawValue), default: "tcp"))!
        point.deployment = PointSpec.Deployment(rawValue: try reader("topology.deployment").choice(PointSpec.Deployment.allCases.map(\.rawValue), default: "threads"))!
        if point.deployment == .processes && point.transport == .inproc {
            let key = s["topology.deployment"] != nil && s["topology.transport"] == nil ? "topology.deployment" : "topology.transport"
            throw reader(key).error("deployment: processes needs transport ipc or tcp; inproc endpoints exist only inside one process")
        }
        point.dispatch = DispatchOptions.Mode(rawValue: try reader("topology.dispatch").choice(DispatchOptions.Mode.allCases.map(\.rawValue), default: "fast"))!
        point.handoff = PointSpec.Handoff(rawValue: try reader("topology.handoff").choice(PointSpec.Handoff.allCases.map(\.rawValue), default: "rings"))!
        // Only reliable points deal by credit; a fast point in the same matrix ignores it.
        point.credit = try reader("topology.credit").int(default: DispatchOptions().credit, in: 1...10_000)
        point.security = PointSpec.Security(rawValue: try reader("topology.security").choice(PointSpec.Security.allCases.map(\.rawValue), default: "none"))!
        if point.security == .curve && point.transport == .inproc {
            let key = s["topology.security"] != nil && s["topology.transport"] == nil ? "topology.security" : "topology.transport"
            throw reader(key).error("security: curve needs transport ipc or tcp; inproc has no handshake to secure")
        }
        let flowTimeout = reader("topology.flow_timeout")
        if flowTimeout.isPresent, try flowTimeout.string() != "off" {
            let value = try flowTimeout.duration(default: .zero)
            guard value > .zero else { throw flowTimeout.error("expected off or a positive duration such as 30s, found \(value)") }
            point.flowTimeout = value
        }
        point.workers = try reader("topology.workers").int(default: 2, in: 1...64)
        point.highWaterMark = try reader("topology.high_water_mark").int(default: 10_000, in: 1...10_000_000)
        point.payload = try payload(reader("workload.payload"))
        point.flow = PointSpec.FlowKind(rawValue: try reader("workload.flow").choice(PointSpec.FlowKind.allCases.map(\.rawValue), default: "echo"))!
        point.handler = try handler(reader("workload.handler"))
        point.form = PointSpec.Form(rawValue: try reader("workload.form").choice(PointSpec.Form.allCases.map(\.rawValue), default: "auto"))!

        let model = try reader("load.model").choice(["closed", "open", "ramp", "search"], default: "closed")
        if model != "search" {
            for key in ["slo", "tolerance", "probes", "edge_repeats"] where reader("load.\(key)").isPresent {
                throw reader("load.\(key)").error("load.\(key) belongs to a knee search; use load.model: search")
            }
        }
        switch model {
        case "closed":
            if reader("load.rate").isPresent { throw reader("load.rate").error("a closed-loop load has no rate; use load.model: open") }
            point.load = .closed(inFlight: try reader("load.in_flight").int(default: 100, in: 1...1_000_000))
        case "open":
            if reader("load.in_flight").isPresent { throw reader("load.in_flight").error("an open-loop load has no in_flight; it sends at load.rate") }
            point.load = .open(rate: try reader("load.rate").double(in: 1...100_000_000))
        case "ramp":
            point.load = .ramp(from: try reader("load.rate").double(in: 1...100_000_000),
                               to: try reader("load.to").double(in: 1...100_000_000))
        default:
            point.load = .search(try search(reader))
        }

        point.warmup = try reader("phases.warmup").duration(default: .seconds(1))
        point.drain = try reader("phases.drain").duration(default: .seconds(2))
        point.interval = try reader("phases.interval").duration(default: .seconds(1))
        guard point.interval >= .milliseconds(10) else {
            throw reader("phases.interval").error("expected an interval of at least 10ms, such as 1s or 250ms")
        }
        if reader("phases.messages").isPresent {
            if reader("phases.measure").isPresent {
                throw reader("phases.messages").error("give either phases.measure (a duration) or phases.messages (a count), not both")
            }
            point.measureMessages = try reader("phases.messages").int(in: 1...1_000_000_000)
            point.measureDuration = nil
        } else {
            point.measureDuration = try reader("phases.measure").duration(default: .seconds(3))
            guard point.measureDuration! > .zero else { throw reader("phases.measure").error("expected a positive duration") }
        }
        if case .ramp = point.load, point.measureDuration == nil {
            throw reader("phases.messages").error("a ramp needs phases.measure (a duration), not a message count")
        }
        return point
    }

    /// `load.model: search`: `slo` (one percentile and its bound), the optional bounds `rate`
    /// (lowest) and `to` (highest), `in_flight` (the closed loop the highest is measured at
    /// when `to` is absent), `tolerance`, `probes` and `edge_repeats`.
    static func search(_ reader: (String) -> ConfigurationReader) throws(ConfigurationError) -> PointSpec.Search {
        let slo = reader("load.slo")
        let expected = "expected one percentile and its bound, such as {p99: 1ms} or {p99.9: 500us}"
        guard slo.isPresent else { throw reader("load.model").error("a knee search needs load.slo: \(expected)") }
        let keys: [String]
        do { keys = try slo.keys() } catch { throw slo.error("\(expected), found a single value") }
        guard keys.count == 1, let name = keys.first else { throw slo.error("\(expected), found \(keys.count) keys") }
        guard name.hasPrefix("p"), let percentile = Double(name.dropFirst()), percentile > 0, percentile <= 100 else {
            throw slo[name].error("expected a percentile key from p0.001 to p100, such as p50, p99 or p99.9, found \"\(name)\"")
        }
        let limit = try slo[name].duration(default: .zero)
        guard limit > .zero else { throw slo[name].error("expected a positive duration such as 1ms or 250us") }
        var spec = PointSpec.Search(percentile: percentile, limit: limit)
        if reader("load.rate").isPresent { spec.lowest = try reader("load.rate").double(in: 1...100_000_000) }
        if reader("load.to").isPresent { spec.highest = try reader("load.to").double(in: 1...100_000_000) }
        if let lowest = spec.lowest, let highest = spec.highest, lowest >= highest {
            throw reader("load.to").error("expected a highest rate above load.rate (\(Int(lowest)) msg/s), found \(Int(highest))")
        }
        if reader("load.in_flight").isPresent && spec.highest != nil {
            throw reader("load.in_flight").error("load.in_flight sets the closed loop that measures the highest rate; with load.to given, none is measured")
        }
        spec.ceilingInFlight = try reader("load.in_flight").int(default: spec.ceilingInFlight, in: 1...1_000_000)
        let tolerance = reader("load.tolerance")
        if tolerance.isPresent {
            let text = try tolerance.string()
            let value = text.hasSuffix("%") ? Double(text.dropLast()).map { $0 / 100 } : Double(text)
            guard let value, value >= 0.001, value <= 0.5 else {
                throw tolerance.error("expected a fraction from 0.001 to 0.5 or a percentage such as 5%, found \"\(text)\"")
            }
            spec.tolerance = value
        }
        spec.probes = try reader("load.probes").int(default: spec.probes, in: 2...1000)
        spec.edgeRepeats = try reader("load.edge_repeats").int(default: spec.edgeRepeats, in: 1...9)
        return spec
    }

    static func payload(_ reader: ConfigurationReader) throws(ConfigurationError) -> PointSpec.Payload {
        let limit = 64 << 20
        guard reader.isPresent else { return .fixed(64) }
        if let keys = try? reader.keys(), !keys.isEmpty {
            try reader.expectMapping(allowed: ["distribution", "min", "max", "sizes", "weights"])
            switch try reader["distribution"].choice(["uniform", "choice"], default: "uniform") {
            case "uniform":
                let min = try reader["min"].int(in: 0...limit)
                let max = try reader["max"].int(in: min...limit)
                return .uniform(min: min, max: max)
            default:
                let sizes = try reader["sizes"].list().map { (item) throws(ConfigurationError) -> Int in try item.int(in: 0...limit) }
                guard !sizes.isEmpty else { throw reader["sizes"].error("expected a non-empty list of sizes") }
                var weights = try reader["weights"].list().map { (item) throws(ConfigurationError) -> Double in try item.double(in: 0...1e9) }
                if weights.isEmpty { weights = Array(repeating: 1, count: sizes.count) }
                guard weights.count == sizes.count else {
                    throw reader["weights"].error("expected \(sizes.count) weights, one per size, found \(weights.count)")
                }
                return .choice(sizes: sizes, weights: weights)
            }
        }
        return .fixed(try reader.int(in: 0...limit))
    }

    static func handler(_ reader: ConfigurationReader) throws(ConfigurationError) -> PointSpec.Handler {
        let text = try reader.string(default: "echo")
        let words = text.split(separator: " ").map(String.init)
        let expected = "expected \"echo\", \"spin <duration>\" (e.g. spin 20us) or \"stall <duration> every <N>\" (e.g. stall 50ms every 1000)"
        switch words.first {
        case "echo" where words.count == 1:
            return .echo
        case "spin" where words.count == 2:
            guard let d = ConfigurationReader.parseDuration(words[1]) else { throw reader.error("\(expected), found \"\(text)\"") }
            return .spin(microseconds: Int(d.components.seconds * 1_000_000 + d.components.attoseconds / 1_000_000_000_000))
        case "stall" where words.count == 4 && words[2] == "every":
            guard let d = ConfigurationReader.parseDuration(words[1]), let n = Int(words[3]), n > 0 else {
                throw reader.error("\(expected), found \"\(text)\"")
            }
            return .stall(milliseconds: Int(d.components.seconds * 1000 + d.components.attoseconds / 1_000_000_000_000_000), every: n)
        default:
            throw reader.error("\(expected), found \"\(text)\"")
        }
    }
}
