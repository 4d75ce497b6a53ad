/// What a scenario will run and about how long it takes, without running it: `zmanager run
/// --dry-run` and `zmanager scenarios` print it.
///
/// The estimate counts each measurement's warm-up and measure phase, which dominate; start-up,
/// drain and report writing come on top, so it is a lower bound. A point measured by message
/// count rather than duration has no estimate of its own and is named in ``unestimated``.
public struct ScenarioPlan: Sendable {
    public let scenario: Scenario

    public init(_ scenario: Scenario) { self.scenario = scenario }

    /// Measurements of one point: each repeat runs ZManager, then the bare topology and the C
    /// reference program when the scenario asks for them; the generator's ceiling runs once.
    public var measurementsPerPoint: Int {
        scenario.repeats * (1 + (scenario.calibrate ? 1 : 0) + (scenario.reference ? 1 : 0))
            + (scenario.generatorCeiling ? 1 : 0)
    }

    /// Measurements of `point` at most: a knee search takes up to its probe budget per
    /// pipeline and repeat (plus the closed-loop ceiling each).
    public func measurements(_ point: PointSpec) -> Int {
        guard case .search(let spec) = point.load else { return measurementsPerPoint }
        return scenario.repeats * (1 + (scenario.calibrate ? 1 : 0)) * (spec.probes + (spec.highest == nil ? 1 : 0))
            + (scenario.generatorCeiling ? 1 : 0)
    }

    /// Every point's ``measurements(_:)``.
    public var totalMeasurements: Int { scenario.points.map(measurements).reduce(0, +) }

    /// Whether a point is a knee search, whose measurement count and time are upper bounds.
    public var hasSearch: Bool { scenario.points.contains { if case .search = $0.load { true } else { false } } }

    /// Warm-up plus measure phase of every measurement, in seconds (a knee search counted at
    /// its whole probe budget: an upper bound for it).
    public var estimatedSeconds: Double {
        scenario.points.reduce(0) { total, point in
            guard let measure = point.measureDuration else { return total }
            return total + Double(measurements(point)) * Self.seconds(point.warmup + measure)
        }
    }

    /// Points measured by message count, whose time the estimate leaves out.
    public var unestimated: [String] { scenario.points.filter { $0.measureDuration == nil }.map(\.id) }

    /// The plan as `zmanager run --dry-run` prints it: one line per point, then the totals.
    public var text: String {
        var lines = ["scenario \(scenario.name) (\(scenario.file))"]
        if !scenario.overrides.isEmpty { lines.append("  with " + scenario.overrides.map { "--set \($0)" }.joined(separator: " ")) }
        if !scenario.description.isEmpty { lines.append("  \(scenario.description)") }
        if !scenario.agents.isEmpty {
            lines.append("  load from \(scenario.agents.count) agent\(scenario.agents.count == 1 ? "" : "s"), each 1/\(scenario.agents.count) of every point: "
                         + scenario.agents.map { $0.control + ($0.connect.map { " (reaching this host at \($0))" } ?? "") }.joined(separator: ", "))
        }
        for (index, point) in scenario.points.enumerated() {
            let warmup = Self.text(point.warmup)
            let phase = point.measureDuration.map { "warm-up \(warmup) + \(Self.text($0))" }
                ?? "warm-up \(warmup) + \(point.measureMessages ?? 0) messages"
            lines.append("  [\(index + 1)] \(point.id): \(point.deployment.rawValue) \(point.transport.rawValue), "
                         + "\(point.workers) workers, \(point.dispatch.rawValue) dispatch\(point.handoff == .sockets && point.deployment == .threads ? ", socket handoff" : "")\(point.security == .curve ? ", CURVE" : "")\(point.flowTimeout.map { ", flow timeout \($0)" } ?? ""), \(point.flow.rawValue) flow, "
                         + "\(point.handler), payload \(point.payload), \(Self.describe(point.load)), \(phase)")
        }
        let what = ["ZManager"] + (scenario.calibrate ? ["bare"] : []) + (scenario.reference ? ["C reference"] : [])
        lines.append("\(scenario.points.count) points × \(scenario.repeats) repeats (\(what.joined(separator: " + ")))"
                     + (scenario.generatorCeiling ? " + the generator's ceiling" : "")
                     + " = \(totalMeasurements) measurements" + (hasSearch ? " at most (a knee search stops early)" : ""))
        var estimate = hasSearch
            ? "estimated at most \(Self.clock(estimatedSeconds)) for the full probe budget (warm-up and measure phases; start-up and drain come on top)"
            : "estimated at least \(Self.clock(estimatedSeconds)) (warm-up and measure phases; start-up and drain come on top)"
        if !unestimated.isEmpty { estimate += "; not counted: \(unestimated.joined(separator: ", ")), measured by message count" }
        lines.append(estimate)
        return lines.joined(separator: "\n")
    }

    static func describe(_ load: PointSpec.Load) -> String {
        switch load {
        case .closed(let inFlight): "closed loop, \(inFlight) in flight"
        case .open(let rate): "open loop at \(Int(rate)) msg/s"
        case .ramp(let from, let to): "ramp \(Int(from)) → \(Int(to)) msg/s"
        case .search(let spec):
            "knee search for \(spec.percentileName) ≤ \(text(spec.limit)) between "
                + "\(spec.lowest.map { "\(Int($0))" } ?? "1 % of the highest") and \(spec.highest.map { "\(Int($0)) msg/s" } ?? "the closed-loop ceiling")"
                + ", at most \(spec.probes) probes"
        }
    }

    /// `300ms`, `1.5s`.
    static func text(_ duration: Duration) -> String {
        let s = seconds(duration)
        return s < 1 ? String(format: "%gms", (s * 1e3 * 1e6).rounded() / 1e6) : String(format: "%gs", s)
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
    }

    /// `m:ss`, or `h:mm:ss` from an hour on.
    public static func clock(_ seconds: Double) -> String {
        let total = Int(seconds.rounded(.up))
        let (h, m, s) = (total / 3600, total / 60 % 60, total % 60)
        let mmss = (m < 10 && h > 0 ? "0" : "") + "\(m):" + (s < 10 ? "0" : "") + "\(s)"
        return h > 0 ? "\(h):\(mmss)" : mmss
    }
}
