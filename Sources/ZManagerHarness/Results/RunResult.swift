/// The harness's results, as written to `result.json`.
///
/// Versioned: ``RunResult/schemaVersion`` changes whenever a field changes meaning or is
/// removed (adding optional fields keeps the version). `docs/RESULTS.md` documents every
/// field. Times are in nanoseconds, rates per second, sizes in bytes.
public struct RunResult: Codable, Sendable, Equatable {
    public static let currentSchemaVersion = 1

    public var schemaVersion: Int = RunResult.currentSchemaVersion
    /// The scenario's name (its file name without extension).
    public var scenario: String
    /// The scenario file as given.
    public var scenarioFile: String
    /// SHA-256 of the scenario file's bytes: two runs with equal hashes ran the same scenario.
    public var scenarioHash: String
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

/// One point of the matrix: its parameters, the ZManager measurement (median of the
/// repeats), the bare-libzmq calibration measured right after it, and their ratios.
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
    /// Open loop: whether the achieved send rate stayed within 5 % of the target.
    public var targetRateReached: Bool?
    /// Achieved send rate (open loop), messages per second.
    public var achievedSendRate: Double?
    /// Latency from each message's *intended* send time (coordinated-omission corrected).
    public var latency: LatencySummary
    /// Latency from each message's actual send time (what a naive tool reports).
    public var uncorrectedLatency: LatencySummary
    /// CPU seconds used by this process (and by worker processes, when deployed so) during
    /// the phase, per message received, in microseconds.
    public var cpuMicrosecondsPerMessage: Double
    /// Peak resident set size of this process, bytes (and of the worker processes).
    public var peakRSSBytes: UInt64
    public var workerProcessesPeakRSSBytes: UInt64?

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
