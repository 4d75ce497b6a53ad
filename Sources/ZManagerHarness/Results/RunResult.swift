/// The harness's results, as written to `result.json`.
///
/// Versioned: ``RunResult/schemaVersion`` changes whenever a field changes meaning or is
/// removed (adding optional fields keeps the version). `docs/RESULTS.md` documents every
/// field. Times are in nanoseconds, rates per second, sizes in bytes.
public struct RunResult: Codable, Sendable, Equatable {
    public static let currentSchemaVersion = 2

    public var schemaVersion: Int = RunResult.currentSchemaVersion
    /// The scenario's name (its file name without extension).
    public var scenario: String
    /// The scenario file as given.
    public var scenarioFile: String
    /// SHA-256 of the scenario file's bytes (followed by one line per `--set` override, when
    /// there are any): two runs with equal hashes ran the same scenario.
    public var scenarioHash: String
    /// The `--set KEY.PATH=VALUE` overrides the run applied over the file; absent without any.
    public var scenarioOverrides: [String]?
    /// The control endpoints of the load agents that generated the load (`agents:`), in the
    /// order of ``Measurement/agents``; absent when this process generated it.
    public var agents: [String]?
    /// When the run started, ISO 8601 UTC.
    public var startedAt: String
    public var durationSeconds: Double
    public var host: HostFacts
    public var points: [PointResult]

    public init(scenario: String, scenarioFile: String, scenarioHash: String, startedAt: String,
                durationSeconds: Double, host: HostFacts, points: [PointResult]) {
        self.scenario = scenario
        self.scenarioFile = scenarioFile
        self.scenarioHash = scenarioHash
        self.startedAt = startedAt
        self.durationSeconds = durationSeconds
        self.host = host
        self.points = points
    }
}

/// What the numbers were measured on.
public struct HostFacts: Codable, Sendable, Equatable {
    public var hostname: String
    public var cores: Int
    public var memoryBytes: UInt64
    public var kernel: String
    public var libzmqVersion: String
    public var swiftVersion: String
    public var allocator: String
    public var gitRevision: String
    /// 1-minute load average when the run started and ended: an idle VM gives 2-5× worse
    /// latency than a busy one (vCPU wake-up), a loaded one less throughput.
    public var loadAverageStart: Double
    public var loadAverageEnd: Double

    public init(hostname: String, cores: Int, memoryBytes: UInt64, kernel: String, libzmqVersion: String,
                swiftVersion: String, allocator: String, gitRevision: String, loadAverageStart: Double,
                loadAverageEnd: Double) {
        self.hostname = hostname
        self.cores = cores
        self.memoryBytes = memoryBytes
        self.kernel = kernel
        self.libzmqVersion = libzmqVersion
        self.swiftVersion = swiftVersion
        self.allocator = allocator
        self.gitRevision = gitRevision
        self.loadAverageStart = loadAverageStart
        self.loadAverageEnd = loadAverageEnd
    }
}

/// One point of the matrix: its parameters, every ZManager and bare repeat (run in
/// alternating order, ZB, BZ, …), the median repeats and the paired ratios.
public struct PointResult: Codable, Sendable, Equatable {
    /// Stable identifier of the point within the scenario, e.g.
    /// `transport=tcp,workers=2,payload=64,load=closed-100`; `compare` matches points by it.
    public var id: String
    public var parameters: PointParameters
    /// Every repeat of the ZManager pipeline, in run order.
    public var repeats: [Measurement]
    /// The repeat with the median throughput.
    public var zmanager: Measurement
    /// The bare libzmq pipeline with the same hops, transport, threads and load (median repeat).
    public var bare: Measurement?
    /// ZManager ÷ bare: throughput (higher is better, 1.0 = as fast as bare libzmq) and
    /// latency (lower is better, 1.0 = no added latency).
    public var ratios: Ratios?
    /// The `.hgrm` files written for this point, relative to the run directory.
    public var histogramFiles: [String]
    /// The HdrHistogram interval logs (`.hlog`) of the median ZManager and bare measurements.
    public var intervalLogFiles: [String]?
    /// Every repeat of the bare calibration, in run order (index i pairs with `repeats[i]`).
    public var bareRepeats: [Measurement]?
    /// Repeat i's ratios (ZManager_i ÷ bare_i) and which pipeline ran first in it.
    public var pairs: [RepeatPair]?
    /// Spread of the paired throughput ratios.
    public var throughputRatioSpread: Spread?
    /// The load generator alone through one forwarder, and its headroom over this point.
    public var generator: GeneratorCeiling?
    /// The C reference program of the same topology (`zmanager-bare-c`), one run per repeat.
    public var reference: [ReferenceRun]?
    /// Median over repeats of bare_i ÷ reference_i: how close the harness's calibration is
    /// to the C program (the instrument's own accuracy; ≥ 0.9 expected).
    public var bareOverReference: Double?
    /// Why no ratio is given (a flow with no equivalent bare chain), or what to beware of.
    public var calibrationNote: String?
    /// A `load.model: search` point's knees, ZManager's and bare's, and the probes that found
    /// them; the point's measurements are those at each knee.
    public var knee: KneeResult?
    /// With `repeats` above 1: every repeat's searches, in run order (``knee`` is the one
    /// with the median knee ratio).
    public var kneeRepeats: [KneeResult]?

    public init(id: String, parameters: PointParameters, repeats: [Measurement], zmanager: Measurement,
                bare: Measurement?, ratios: Ratios?, histogramFiles: [String]) {
        self.id = id
        self.parameters = parameters
        self.repeats = repeats
        self.zmanager = zmanager
        self.bare = bare
        self.ratios = ratios
        self.histogramFiles = histogramFiles
    }
}

extension PointResult {
    /// Whether the generator's headroom is below ``GeneratorCeiling/requiredHeadroom`` at a
    /// point where it could limit throughput (not at one message in flight, which is
    /// latency-bound: the loopback's figure there is a round trip, not a ceiling).
    public var generatorMayLimit: Bool {
        guard let generator, generator.headroom < GeneratorCeiling.requiredHeadroom else { return false }
        return parameters.inFlight.map { $0 > 1 } ?? true
    }
}

/// One repeat's pair: ZManager_i ÷ bare_i, measured back to back.
public struct RepeatPair: Codable, Sendable, Equatable {
    /// Whether ZManager ran before bare in this repeat (the order alternates).
    public var zmanagerFirst: Bool
    public var throughputRatio: Double
    public var p50LatencyRatio: Double
    public var p99LatencyRatio: Double

    public init(zmanagerFirst: Bool, throughputRatio: Double, p50LatencyRatio: Double, p99LatencyRatio: Double) {
        self.zmanagerFirst = zmanagerFirst
        self.throughputRatio = throughputRatio
        self.p50LatencyRatio = p50LatencyRatio
        self.p99LatencyRatio = p99LatencyRatio
    }
}

/// Minimum, median and maximum of a set of values.
public struct Spread: Codable, Sendable, Equatable {
    public var min: Double
    public var median: Double
    public var max: Double

    public init(min: Double, median: Double, max: Double) {
        self.min = min
        self.median = median
        self.max = max
    }

    /// nil for no values; the median of an even count is the mean of the two middle values.
    public init?(_ values: [Double]) {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        let middle = sorted.count / 2
        self.init(min: sorted[0], median: sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2,
                  max: sorted[sorted.count - 1])
    }
}

/// The load generator's own ceiling: the point's form through a single forwarder
/// (client → PULL → PUB → client), so nothing but the generator and one hop limits it.
/// A closed-loop point is measured at its own load; an open-loop point (fixed rate or ramp)
/// closed-loop at ``closedLoopInFlight``, because a generator held to the target rate can
/// only ever report that rate, whatever it could do.
public struct GeneratorCeiling: Codable, Sendable, Equatable {
    /// In the wire form the ZManager pipeline was driven with.
    public var messagesPerSecond: Double
    /// In the bare topology's single-frame form, when that differs (ZManager split).
    public var singleFrameMessagesPerSecond: Double?
    /// The generator's threads (and its libzmq I/O thread) per message.
    public var cpuMicrosecondsPerMessage: Double
    /// With `calibration.reference`: the C client of `zmanager-bare-c` through the same
    /// forwarder (`--loopback`), in the single frame it sends. On a machine whose cores the
    /// generator shares with the pipeline, this says what headroom is attainable at all.
    public var referenceMessagesPerSecond: Double?
    /// The generator's single-frame ceiling ÷ ``referenceMessagesPerSecond``: the generator
    /// against a C client doing the same job (1.0: as fast as C).
    public var overReference: Double?
    /// The smaller of ceiling ÷ ZManager's throughput and single-frame ceiling ÷ bare's, each
    /// in the form that pipeline was driven with; below 2 the generator may be what limits
    /// the point, and the point is flagged.
    public var headroom: Double

    public init(messagesPerSecond: Double, singleFrameMessagesPerSecond: Double? = nil, cpuMicrosecondsPerMessage: Double,
                headroom: Double) {
        self.messagesPerSecond = messagesPerSecond
        self.singleFrameMessagesPerSecond = singleFrameMessagesPerSecond
        self.cpuMicrosecondsPerMessage = cpuMicrosecondsPerMessage
        self.headroom = headroom
    }

    /// The headroom below which a point is flagged.
    public static let requiredHeadroom = 2.0

    /// The in-flight count an open-loop point's ceiling is measured at.
    public static let closedLoopInFlight = 1000

    /// The point the generator's ceiling is measured on: `point` itself when it is closed
    /// loop, otherwise the same point closed-loop at ``closedLoopInFlight``.
    public static func ceilingPoint(for point: PointSpec) -> PointSpec {
        guard case .closed = point.load else {
            var closed = point
            closed.load = .closed(inFlight: closedLoopInFlight)
            return closed
        }
        return point
    }
}

/// One run of the C reference program of the topology.
public struct ReferenceRun: Codable, Sendable, Equatable {
    public var messagesPerSecond: Double
    public var p50Nanoseconds: UInt64
    public var p99Nanoseconds: UInt64
    public var lost: Int

    public init(messagesPerSecond: Double, p50Nanoseconds: UInt64, p99Nanoseconds: UInt64, lost: Int) {
        self.messagesPerSecond = messagesPerSecond
        self.p50Nanoseconds = p50Nanoseconds
        self.p99Nanoseconds = p99Nanoseconds
        self.lost = lost
    }
}

/// CPU one stage spent per message during the measure phase (its threads added up).
public struct StageCPUUsage: Codable, Sendable, Equatable {
    /// `generator`, `generator-io` (its libzmq I/O thread), `subject`, `worker` (all workers),
    /// `integration-manager`, `pipeline-io` (the pipeline's libzmq I/O threads), `other`.
    public var stage: String
    public var cpuMicrosecondsPerMessage: Double
    /// Threads counted in it.
    public var threads: Int

    public init(stage: String, cpuMicrosecondsPerMessage: Double, threads: Int) {
        self.stage = stage
        self.cpuMicrosecondsPerMessage = cpuMicrosecondsPerMessage
        self.threads = threads
    }
}

public struct PointParameters: Codable, Sendable, Equatable {
    public var transport: String
    public var deployment: String
    public var workers: Int
    public var highWaterMark: Int
    /// Payload bytes per message (the mean, for a distribution).
    public var payloadSize: Int
    public var payloadDistribution: String
    public var flow: String
    public var handler: String
    /// `closed` (N in flight) or `open` (target rate).
    public var loadModel: String
    public var inFlight: Int?
    /// Target rate, messages per second (open loop).
    public var targetRate: Double?
    public var warmupSeconds: Double
    public var measureSeconds: Double?
    public var measureMessages: Int?
    /// The wire form requests were sent to ZManager in, `single` or `split` (`workload.form`,
    /// with `auto` resolved). Absent in results written before the key existed (split).
    public var wireForm: String?
    /// `fast` or `reliable` (`topology.dispatch`). Absent in results written before the key existed (fast).
    public var dispatch: String?
    /// Reliable dispatch: the credit per worker (`topology.credit`); absent in fast mode.
    public var credit: Int?
    /// `sockets` when the threads deployment's roles handed messages over inproc sockets
    /// (`topology.handoff`); absent for rings (the default) and in results written before the
    /// key existed (sockets, then the only way).
    public var handoff: String?
    /// `curve` for a node secured with CURVE (`topology.security`); absent without (and in
    /// results written before the key existed).
    public var security: String?
    /// The node's flow timeout in seconds (`topology.flow_timeout`); absent when off (and in
    /// results written before the key existed).
    public var flowTimeoutSeconds: Double?

    public init(transport: String, deployment: String, workers: Int, highWaterMark: Int, payloadSize: Int,
                payloadDistribution: String, flow: String, handler: String, loadModel: String, inFlight: Int?,
                targetRate: Double?, warmupSeconds: Double, measureSeconds: Double?, measureMessages: Int?) {
        self.transport = transport
        self.deployment = deployment
        self.workers = workers
        self.highWaterMark = highWaterMark
        self.payloadSize = payloadSize
        self.payloadDistribution = payloadDistribution
        self.flow = flow
        self.handler = handler
        self.loadModel = loadModel
        self.inFlight = inFlight
        self.targetRate = targetRate
        self.warmupSeconds = warmupSeconds
        self.measureSeconds = measureSeconds
        self.measureMessages = measureMessages
    }
}

/// One measured phase of one pipeline.
public struct Measurement: Codable, Sendable, Equatable {
    public var sent: Int
    public var received: Int
    /// Sent during the measure phase and never received (after the drain phase).
    public var lost: Int
    public var duplicated: Int
    /// Received with a sequence number lower than one received before.
    public var reordered: Int
    /// Error messages received instead of results.
    public var errors: Int
    public var elapsedSeconds: Double
    public var messagesPerSecond: Double
    public var megabytesPerSecond: Double
    /// Open loop: whether the achieved send rate reached 99 % of the target and nothing
    /// scheduled was left unsent.
    public var targetRateReached: Bool?
    /// Achieved send rate (open loop), messages per second.
    public var achievedSendRate: Double?
    /// Latency from each message's *intended* send time (coordinated-omission corrected).
    public var latency: LatencySummary
    /// Latency from each message's actual send time (what a naive tool reports).
    public var uncorrectedLatency: LatencySummary
    /// CPU the pipeline used (every stage but the load generator; its processes included)
    /// from the start of the measure phase to the last measured receive, per message
    /// received, in microseconds.
    public var cpuMicrosecondsPerMessage: Double
    /// Peak resident set size of this process during the measurement (the peak is reset
    /// before it), bytes; and of the pipeline's own processes.
    public var peakRSSBytes: UInt64
    public var workerProcessesPeakRSSBytes: UInt64?
    /// The same CPU, stage by stage (generator included, listed apart).
    public var stages: [StageCPUUsage]?
    /// The load generator's threads and libzmq I/O thread per message, microseconds.
    public var generatorCPUMicrosecondsPerMessage: Double?
    /// Open loop: messages the schedule called for during the measure phase that were never
    /// sent (the generator or the pipeline could not keep up). Their latency is recorded in
    /// the corrected histogram as at least the time they waited until the run ended.
    public var unsent: Int?
    /// Open loop: actual − intended send time of every measured message (the generator's
    /// publish delay); large values mean the load was not applied as scheduled.
    public var sendDelay: LatencySummary?
    /// The measure phase (and the drain that followed it) interval by interval
    /// (`phases.interval`, 1 s by default): what a ramp, a stall or a stepped load does over time.
    public var intervals: [IntervalSample]?
    /// With load agents (`agents:`), what each one measured of its own share; the figures
    /// above are their sum (latencies: their histograms added up).
    public var agents: [AgentMeasurement]?

    public init(sent: Int, received: Int, lost: Int, duplicated: Int, reordered: Int, errors: Int,
                elapsedSeconds: Double, messagesPerSecond: Double, megabytesPerSecond: Double,
                targetRateReached: Bool?, achievedSendRate: Double?, latency: LatencySummary,
                uncorrectedLatency: LatencySummary, cpuMicrosecondsPerMessage: Double, peakRSSBytes: UInt64,
                workerProcessesPeakRSSBytes: UInt64?) {
        self.sent = sent
        self.received = received
        self.lost = lost
        self.duplicated = duplicated
        self.reordered = reordered
        self.errors = errors
        self.elapsedSeconds = elapsedSeconds
        self.messagesPerSecond = messagesPerSecond
        self.megabytesPerSecond = megabytesPerSecond
        self.targetRateReached = targetRateReached
        self.achievedSendRate = achievedSendRate
        self.latency = latency
        self.uncorrectedLatency = uncorrectedLatency
        self.cpuMicrosecondsPerMessage = cpuMicrosecondsPerMessage
        self.peakRSSBytes = peakRSSBytes
        self.workerProcessesPeakRSSBytes = workerProcessesPeakRSSBytes
    }
}

/// What one load agent measured of its share of a measurement (``Measurement/agents``).
public struct AgentMeasurement: Codable, Sendable, Equatable {
    /// The agent's control endpoint, as the scenario names it.
    public var agent: String
    public var measurement: Measurement

    public init(agent: String, measurement: Measurement) {
        self.agent = agent
        self.measurement = measurement
    }
}

/// Percentiles in nanoseconds, plus the full percentile curve for charts.
public struct LatencySummary: Codable, Sendable, Equatable {
    public var count: UInt64
    public var min: UInt64
    public var mean: Double
    public var p50: UInt64
    public var p90: UInt64
    public var p99: UInt64
    public var p999: UInt64
    public var p9999: UInt64
    public var max: UInt64
    /// (percentile, nanoseconds) pairs, log-spaced towards 100 (HdrHistogram's iteration).
    public var curve: [CurvePoint]

    public struct CurvePoint: Codable, Sendable, Equatable {
        public var percentile: Double
        public var nanoseconds: UInt64
        public init(percentile: Double, nanoseconds: UInt64) {
            self.percentile = percentile
            self.nanoseconds = nanoseconds
        }
    }

    public init(count: UInt64, min: UInt64, mean: Double, p50: UInt64, p90: UInt64, p99: UInt64, p999: UInt64,
                p9999: UInt64, max: UInt64, curve: [CurvePoint]) {
        self.count = count
        self.min = min
        self.mean = mean
        self.p50 = p50
        self.p90 = p90
        self.p99 = p99
        self.p999 = p999
        self.p9999 = p9999
        self.max = max
        self.curve = curve
    }
}

public struct Ratios: Codable, Sendable, Equatable {
    /// ZManager msg/s ÷ bare msg/s.
    public var throughput: Double
    /// ZManager p50 ÷ bare p50 (corrected latency).
    public var p50Latency: Double
    /// ZManager p99 ÷ bare p99 (corrected latency).
    public var p99Latency: Double

    public init(throughput: Double, p50Latency: Double, p99Latency: Double) {
        self.throughput = throughput
        self.p50Latency = p50Latency
        self.p99Latency = p99Latency
    }
}
