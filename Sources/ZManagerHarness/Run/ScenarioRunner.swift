public import Foundation
import Histogram
import ZManager
import ZeroMQ

#if canImport(Glibc)
import Glibc
#endif

/// Runs every point of a scenario — the ZManager pipeline and, interleaved repeat by
/// repeat, the bare libzmq pipeline with the same hops — and collects a ``RunResult``.
public struct ScenarioRunner {
    public let scenario: Scenario
    /// The `zmanager` executable, for `deployment: processes`.
    public var executable: URL?
    /// The allocator the process runs with, for the host facts (the executable links jemalloc).
    public var allocator = "system malloc"
    /// Called before each measurement: (point index, point count, repeat, repeats, what).
    public var progress: ((Int, Int, Int, Int, String) -> Void)?

    public init(scenario: Scenario, executable: URL? = nil) {
        self.scenario = scenario
        self.executable = executable
    }

    /// What a run produced: the result and the histograms to write next to it.
    public struct Output {
        public var result: RunResult
        /// File name → `.hgrm` text.
        public var histograms: [(name: String, text: String)]
    }

    public func run() throws -> Output {
        let started = Date()
        let host = HostFacts.current(allocator: allocator)
        var points: [PointResult] = []
        var histograms: [(name: String, text: String)] = []
        for (index, point) in scenario.points.enumerated() {
            var zmanager: [(Measurement, LatencyRecorder)] = []
            var bare: [(Measurement, LatencyRecorder)] = []
            for repeatIndex in 0..<scenario.repeats {
                progress?(index, scenario.points.count, repeatIndex, scenario.repeats, "zmanager \(point.id)")
                zmanager.append(try measure(point, bare: false))
                if scenario.calibrate {
                    progress?(index, scenario.points.count, repeatIndex, scenario.repeats, "bare \(point.id)")
                    bare.append(try measure(point, bare: true))
                }
            }
            let medianZ = Self.median(zmanager)
            let medianB = bare.isEmpty ? nil : Self.median(bare)
            let ratios = medianB.map { b in
                Ratios(throughput: medianZ.0.messagesPerSecond / max(b.0.messagesPerSecond, 1e-9),
                       p50Latency: Double(medianZ.0.latency.p50) / Double(max(b.0.latency.p50, 1)),
                       p99Latency: Double(medianZ.0.latency.p99) / Double(max(b.0.latency.p99, 1)))
            }
            var files: [String] = []
            let stem = String(format: "p%03d", index)
            for (label, recorder) in [("zmanager", medianZ.1)] + (medianB.map { [("bare", $0.1)] } ?? []) {
                for (kind, histogram) in [("corrected", recorder.corrected), ("uncorrected", recorder.uncorrected)] {
                    let name = "\(stem)-\(label)-\(kind).hgrm"
                    var text = ""
                    histogram.outputPercentileDistribution(to: &text, outputValueUnitScalingRatio: 1000)
                    histograms.append((name, "# \(point.id) \(label) \(kind) latency, microseconds\n" + text))
                    files.append(name)
                }
            }
            points.append(PointResult(id: point.id, parameters: PointParameters(point), repeats: zmanager.map(\.0),
                                      zmanager: medianZ.0, bare: medianB?.0, ratios: ratios, histogramFiles: files))
            _ = bare
        }
        var finalHost = host
        finalHost.loadAverageEnd = HostFacts.loadAverage()
        let result = RunResult(scenario: scenario.name, scenarioFile: scenario.file, scenarioHash: scenario.hash,
                               startedAt: ISO8601DateFormatter().string(from: started),
                               durationSeconds: Date().timeIntervalSince(started), host: finalHost, points: points)
        return Output(result: result, histograms: histograms)
    }

    static func median(_ measurements: [(Measurement, LatencyRecorder)]) -> (Measurement, LatencyRecorder) {
        let sorted = measurements.sorted { $0.0.messagesPerSecond < $1.0.messagesPerSecond }
        return sorted[sorted.count / 2]
    }

    /// One measurement of one pipeline.
    func measure(_ point: PointSpec, bare: Bool) throws -> (Measurement, LatencyRecorder) {
        let pipeline: any PipelineUnderTest = bare ? try BarePipeline(point: point) : try ZManagerPipeline(point: point, executable: executable)
        defer { pipeline.stop() }
        let childCPUStart = pipeline.childProcesses.map { ProcessFacts.cpuNanoseconds(pid: $0.processIdentifier) }.reduce(0, +)
        let generator = LoadGenerator(point: point, pipeline: pipeline, flowName: BenchmarkFlows.name(point.flow))
        let outcome = try generator.run()
        let childCPU = pipeline.childProcesses.map { ProcessFacts.cpuNanoseconds(pid: $0.processIdentifier) }.reduce(0, +) - childCPUStart
        let childRSS = pipeline.childProcesses.map { ProcessFacts.peakRSS(pid: $0.processIdentifier) }.reduce(0, +)
        return (Measurement(outcome, point: point, childCPU: childCPU,
                            childRSS: pipeline.childProcesses.isEmpty ? nil : childRSS), outcome.recorder)
    }
}

extension Measurement {
    init(_ o: LoadGenerator.Outcome, point: PointSpec, childCPU: UInt64, childRSS: UInt64?) {
        let seconds = Double(o.elapsedNanoseconds) / 1e9
        let received = o.tracker.unique
        var targetReached: Bool?
        var achieved: Double?
        switch point.load {
        case .open(let rate):
            achieved = Double(o.sent) / (Double(o.sendElapsedNanoseconds) / 1e9)
            targetReached = achieved! >= rate * 0.95
        case .ramp(_, let to):
            achieved = Double(o.sent) / (Double(o.sendElapsedNanoseconds) / 1e9)
            targetReached = nil
            _ = to
        case .closed:
            break
        }
        // Pipeline CPU: this process minus the load generator's own threads, plus workers.
        let pipelineCPU = Double(o.processCPUNanoseconds &- min(o.generatorCPUNanoseconds, o.processCPUNanoseconds) + childCPU)
        self.init(sent: o.sent, received: received, lost: o.tracker.lost(sent: o.sent) - min(o.errors, o.tracker.lost(sent: o.sent)),
                  duplicated: o.tracker.duplicated, reordered: o.tracker.reordered, errors: o.errors,
                  elapsedSeconds: seconds, messagesPerSecond: Double(received) / seconds,
                  megabytesPerSecond: Double(o.bytes) / seconds / 1e6, targetRateReached: targetReached, achievedSendRate: achieved,
                  latency: LatencySummary(o.recorder.corrected), uncorrectedLatency: LatencySummary(o.recorder.uncorrected),
                  cpuMicrosecondsPerMessage: received > 0 ? pipelineCPU / 1000 / Double(received) : 0,
                  peakRSSBytes: ProcessFacts.peakRSS(pid: getpid()), workerProcessesPeakRSSBytes: childRSS)
    }
}

extension LatencySummary {
    init(_ h: Histogram<UInt64>) {
        var curve: [CurvePoint] = []
        if h.totalCount > 0 {
            for value in h.percentiles(ticksPerHalfDistance: 2) {
                curve.append(CurvePoint(percentile: value.percentileLevelIteratedTo, nanoseconds: value.value))
                if value.percentileLevelIteratedTo >= 99.999 || curve.count > 64 { break }
            }
        }
        self.init(count: h.totalCount, min: h.totalCount > 0 ? h.min : 0, mean: h.totalCount > 0 ? h.mean : 0,
                  p50: h.valueAtPercentile(50), p90: h.valueAtPercentile(90), p99: h.valueAtPercentile(99),
                  p999: h.valueAtPercentile(99.9), p9999: h.valueAtPercentile(99.99), max: h.totalCount > 0 ? h.max : 0,
                  curve: curve)
    }
}

extension PointParameters {
    init(_ p: PointSpec) {
        var inFlight: Int?
        var rate: Double?
        let model: String
        switch p.load {
        case .closed(let n): model = "closed"; inFlight = n
        case .open(let r): model = "open"; rate = r
        case .ramp(let from, let to): model = "ramp \(Int(from))-\(Int(to))"; rate = to
        }
        func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18 }
        self.init(transport: p.transport.rawValue, deployment: p.deployment.rawValue, workers: p.workers,
                  highWaterMark: p.highWaterMark, payloadSize: p.payload.mean, payloadDistribution: p.payload.description,
                  flow: p.flow.rawValue, handler: p.handler.description, loadModel: model, inFlight: inFlight,
                  targetRate: rate, warmupSeconds: seconds(p.warmup), measureSeconds: p.measureDuration.map(seconds),
                  measureMessages: p.measureMessages)
    }
}

/// Facts about processes read from /proc.
enum ProcessFacts {
    static func cpuNanoseconds(pid: pid_t) -> UInt64 {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return 0 }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // After the command: state(0) … utime is field 14 overall → index 11 here, stime 12.
        guard fields.count > 12, let utime = UInt64(fields[11]), let stime = UInt64(fields[12]) else { return 0 }
        let ticks = UInt64(sysconf(Int32(_SC_CLK_TCK)))
        return (utime + stime) * 1_000_000_000 / max(ticks, 1)
    }

    static func peakRSS(pid: pid_t) -> UInt64 {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            let kb = line.split(separator: " ").compactMap { UInt64($0) }.first ?? 0
            return kb * 1024
        }
        return 0
    }
}

extension HostFacts {
    static func loadAverage() -> Double {
        var loads = [Double](repeating: 0, count: 3)
        return getloadavg(&loads, 3) > 0 ? loads[0] : 0
    }

    static func current(allocator: String) -> HostFacts {
        func read(_ path: String) -> String {
            ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        }
        var memory: UInt64 = 0
        for line in read("/proc/meminfo").split(separator: "\n") where line.hasPrefix("MemTotal:") {
            memory = (line.split(separator: " ").compactMap { UInt64($0) }.first ?? 0) * 1024
        }
        let load = loadAverage()
        return HostFacts(hostname: ProcessInfo.processInfo.hostName, cores: ProcessInfo.processInfo.activeProcessorCount,
                         memoryBytes: memory, kernel: read("/proc/sys/kernel/osrelease"),
                         libzmqVersion: Context.libzmqVersion, swiftVersion: swiftVersion, allocator: allocator,
                         gitRevision: gitRevision(), loadAverageStart: load, loadAverageEnd: load)
    }

    /// The compiler that built this binary, to the patch level the compiler lets us see.
    static var swiftVersion: String {
        #if compiler(>=6.4)
        "6.4 or later"
        #elseif compiler(>=6.3.1)
        "6.3.1"
        #elseif compiler(>=6.3)
        "6.3"
        #else
        "before 6.3"
        #endif
    }

    static func gitRevision() -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["git", "rev-parse", "--short=12", "HEAD"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return "unknown" }
        process.waitUntilExit()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        return process.terminationStatus == 0 && !text.isEmpty ? text : "unknown"
    }
}
