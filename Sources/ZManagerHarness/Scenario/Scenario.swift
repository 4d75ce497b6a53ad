public import ZManager

/// A benchmark scenario: what to run (topology, workload), how to load it, for how long,
/// and which parameters to sweep. Read from YAML by ``ScenarioFile``; `docs/SCENARIOS.md`
/// documents every key.
public struct Scenario: Sendable {
    public var name: String
    public var description: String
    /// The file it came from.
    public var file: String
    /// SHA-256 of the file's bytes.
    public var hash: String
    /// One entry per matrix combination, in sweep order.
    public var points: [PointSpec]
    /// Measurements per point; the median (by throughput) is reported.
    public var repeats: Int
    /// Whether each point is also run on the bare topology (the ratio CI compares).
    public var calibrate: Bool
    /// Whether each repeat also runs the C reference program of the topology
    /// (`zmanager-bare-c`), which checks the calibration itself (closed-loop points only).
    public var reference = false
    /// Whether each point measures the load generator alone through one forwarder.
    public var generatorCeiling = true
    /// `KEY.PATH=VALUE` overrides applied over the file (`zmanager run --set`).
    public var overrides: [String] = []
    /// Load agents (`zmanager agent`) that generate every point's load instead of this
    /// process, each its share (``PointSpec/share(_:of:)``); empty: the load is generated here.
    public var agents: [AgentEndpoint] = []
}

/// One `zmanager agent` a scenario's `agents:` names.
public struct AgentEndpoint: Sendable, Equatable, Codable {
    /// Where the agent listens for its coordinator: `tcp://HOST:PORT` (`zmanager agent --listen`).
    public var control: String
    /// The address the agent reaches this host's pipelines at; nil: the address this host's
    /// control connection reaches the agent from (libzmq's `Peer-Address`), which is right
    /// unless network address translation sits in between.
    public var connect: String?

    public init(control: String, connect: String? = nil) {
        self.control = control
        self.connect = connect
    }
}

/// Everything one measurement point needs.
public struct PointSpec: Sendable, Equatable, Codable {
    public enum Transport: String, Sendable, CaseIterable, Codable { case inproc, ipc, tcp }
    public enum Deployment: String, Sendable, CaseIterable, Codable { case threads, processes }
    public enum FlowKind: String, Sendable, CaseIterable, Codable {
        /// `Push → Echo → done`: one worker step.
        case echo
        /// `Push → S1 → S2 → S3 → done`: three consecutive worker steps.
        case steps3
        /// `Push → Echo → @PUBLISH Notify → done`: an intermediate result is published
        /// mid-flow and the worker carries on.
        case publish
        /// `Push → Start → @ASYNC Finish → done`: the flow parks at the Subject and the load
        /// generator, as the external party, answers each parked request.
        case async
    }

    public enum Handler: Sendable, Equatable, Codable, CustomStringConvertible {
        case echo
        /// Burn this much CPU per step.
        case spin(microseconds: Int)
        /// Sleep `milliseconds` every `every`-th message per worker.
        case stall(milliseconds: Int, every: Int)

        /// The built-in mapping target (see `BuiltinHandlers`).
        public var target: String {
            switch self {
            case .echo: "zmanager.builtin.echo"
            case .spin(let us): "zmanager.builtin.spin_\(us)us"
            case .stall(let ms, let every): "zmanager.builtin.stall_\(ms)ms_every_\(every)"
            }
        }

        public var description: String {
            switch self {
            case .echo: "echo"
            case .spin(let us): "spin \(us)us"
            case .stall(let ms, let every): "stall \(ms)ms every \(every)"
            }
        }
    }

    public enum Payload: Sendable, Equatable, Codable, CustomStringConvertible {
        case fixed(Int)
        /// Uniformly distributed sizes in `min...max`.
        case uniform(min: Int, max: Int)
        /// One of `sizes`, chosen with the given weights.
        case choice(sizes: [Int], weights: [Double])

        public var mean: Int {
            switch self {
            case .fixed(let size): size
            case .uniform(let min, let max): (min + max) / 2
            case .choice(let sizes, let weights):
                Int(zip(sizes, weights).map { Double($0) * $1 }.reduce(0, +) / max(weights.reduce(0, +), 1e-9))
            }
        }

        public var description: String {
            switch self {
            case .fixed(let size): "fixed \(size)"
            case .uniform(let min, let max): "uniform \(min)-\(max)"
            case .choice(let sizes, _): "choice \(sizes.map(String.init).joined(separator: "/"))"
            }
        }
    }

    public enum Load: Sendable, Equatable, Codable {
        /// Keep `inFlight` messages outstanding; send one for each that comes back.
        case closed(inFlight: Int)
        /// Send at `rate` msg/s on a fixed schedule, whatever comes back (coordinated-omission safe).
        case open(rate: Double)
        /// Open loop whose rate grows linearly from `from` to `to` over the measure phase.
        case ramp(from: Double, to: Double)
        /// The highest open-loop rate whose corrected latency percentile stays within an SLO,
        /// found by a bounded search of open-loop probes (``KneeSearch``).
        case search(Search)
    }

    /// `load.model: search`: what the knee search bounds and how hard it looks.
    public struct Search: Sendable, Equatable, Codable {
        /// The percentile the SLO bounds: 99 for `slo: {p99: 1ms}`, 99.9 for `p99.9`.
        public var percentile: Double
        /// The SLO: that percentile of the corrected latency at most this.
        public var limit: Duration
        /// The lowest rate probed; nil: 1 % of the highest.
        public var lowest: Double?
        /// The highest rate probed; nil: the pipeline's own closed-loop throughput at
        /// ``ceilingInFlight``, measured before its search (open loop above it cannot keep up).
        public var highest: Double?
        /// The closed-loop load the highest rate is measured at when ``highest`` is nil.
        public var ceilingInFlight = 1000
        /// The search ends when the bracket between the highest passing and the lowest failing
        /// rate is at most this fraction of the failing one.
        public var tolerance = 0.05
        /// Measurements per pipeline at most, repeats near the edge included.
        public var probes = 16
        /// A probe whose percentile lands within ``edgeBand`` of the SLO is measured up to this
        /// many times and judged by the majority (a noisy machine moves a p99 by a tenth).
        public var edgeRepeats = 3
        /// How near the SLO counts as the edge: |value ÷ limit − 1| ≤ this.
        public var edgeBand = 0.2

        public init(percentile: Double, limit: Duration) {
            self.percentile = percentile
            self.limit = limit
        }

        /// `p99`, `p99.9`, `p50`.
        public var percentileName: String { KneeResult.percentileName(percentile) }
    }

    /// How the load generator sends requests to ZManager: two frames `[header][body]`,
    /// DigitalPy's single frame, or `auto`, what `ZManagerClient` does by default (single
    /// below ``WireForm/splitThreshold``, split from there, decided here by the payload's mean
    /// size). The bare topology is always single.
    public enum Form: String, Sendable, CaseIterable, Codable {
        case auto, split, single

        /// The form requests of `payload` are sent in.
        public func wireForm(for payload: Payload) -> WireForm {
            switch self {
            case .split: .split
            case .single: .single
            case .auto: .preferred(forBodyCount: payload.mean)
            }
        }
    }

    public var transport: Transport = .tcp
    public var form = Form.auto
    public var deployment: Deployment = .threads
    /// How the Subject deals to the workers (``DispatchOptions/Mode``); the bare topology is
    /// always a plain PUSH, so a reliable point's ratio shows what reliability costs.
    public var dispatch = DispatchOptions.Mode.fast
    /// Reliable dispatch: steps one worker holds at once (``DispatchOptions/credit``).
    public var credit = DispatchOptions().credit
    /// How the threads deployment hands messages between the Subject, its workers and the IM:
    /// in-process rings (the default, ``ZManagerNode/Options/inProcessRings``) or inproc
    /// sockets. The bare topology is sockets either way.
    public var handoff = Handoff.rings

    public enum Handoff: String, Sendable, CaseIterable, Codable {
        case rings, sockets
    }
    /// `none`, or `curve`: CURVE on every tcp and ipc endpoint of the node (docs/SECURITY.md);
    /// the bare topology is never secured, so a curve point's ratio shows what CURVE costs.
    public var security = Security.none

    public enum Security: String, Sendable, CaseIterable, Codable {
        case none, curve
    }
    /// The node's `limits.flow_timeout` (nil: off, the default): what the open-flow table that
    /// deadlines need costs, against a bare topology that has none.
    public var flowTimeout: Duration?
    public var workers = 2
    public var highWaterMark = 10_000
    public var payload = Payload.fixed(64)
    public var flow = FlowKind.echo
    public var handler = Handler.echo
    public var load = Load.closed(inFlight: 100)
    public var warmup: Duration = .seconds(1)
    /// Measure for this long …
    public var measureDuration: Duration? = .seconds(3)
    /// … or for this many messages.
    public var measureMessages: Int?
    /// After the measure phase, wait this long at most for outstanding messages.
    public var drain: Duration = .seconds(2)
    /// The interval series' length: throughput and latency per interval of this long.
    public var interval: Duration = .seconds(1)
    /// The matrix values that made this point, `key=value` joined by `,` (its id).
    public var id = "default"
    /// The address the pipeline's request and publish endpoints bind on over tcp: `0.0.0.0`
    /// when agents on other hosts generate the load; nil: 127.0.0.1, this host only.
    public var bindAddress: String?

    public init() {}

    /// Agent `index`'s part of this point's load when `count` agents generate it together:
    /// the rates divided by `count`, the closed loop's messages in flight and a message-count
    /// phase dealt out whole (the first agents take one more of a remainder). The shares add
    /// up to the point. A search is divided probe by probe, as open loops.
    public func share(_ index: Int, of count: Int) -> PointSpec {
        precondition(count > 0 && (0..<count).contains(index))
        func deal(_ total: Int) -> Int { total / count + (index < total % count ? 1 : 0) }
        var part = self
        switch load {
        case .closed(let inFlight): part.load = .closed(inFlight: deal(inFlight))
        case .open(let rate): part.load = .open(rate: rate / Double(count))
        case .ramp(let from, let to): part.load = .ramp(from: from / Double(count), to: to / Double(count))
        case .search: break
        }
        part.measureMessages = measureMessages.map(deal)
        return part
    }
}
