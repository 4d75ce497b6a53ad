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
    /// With agents: how long each may take to say it is ready for a measurement.
    var agentPrepareTimeout: Duration = .seconds(45)

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
            let measured = try measurePoint(point, index: index)
            points.append(measured.result)
            let stem = String(format: "p%03d", index)
            var files: [String] = []
            for (label, recorder) in measured.recorders {
                for (kind, histogram) in [("corrected", recorder.corrected), ("uncorrected", recorder.uncorrected)] {
                    let name = "\(stem)-\(label)-\(kind).hgrm"
                    var text = ""
                    histogram.outputPercentileDistribution(to: &text, outputValueUnitScalingRatio: 1000)
                    histograms.append((name, "# \(point.id) \(label) \(kind) latency, microseconds\n" + text))
                    files.append(name)
                }
            }
            points[points.count - 1].histogramFiles = files
            var logs: [String] = []
            for (label, recorder) in measured.recorders where !recorder.intervals.isEmpty {
                let name = "\(stem)-\(label).hlog"
                histograms.append((name, Self.intervalLog(recorder, comment: "\(point.id) \(label) corrected latency per interval, nanoseconds")))
                logs.append(name)
            }
            points[points.count - 1].intervalLogFiles = logs.isEmpty ? nil : logs
        }
        var finalHost = host
        finalHost.loadAverageEnd = HostFacts.loadAverage()
        var result = RunResult(scenario: scenario.name, scenarioFile: scenario.file, scenarioHash: scenario.hash,
                               startedAt: ISO8601DateFormatter().string(from: started),
                               durationSeconds: Date().timeIntervalSince(started), host: finalHost, points: points)
        result.scenarioOverrides = scenario.overrides.isEmpty ? nil : scenario.overrides
        result.agents = scenario.agents.isEmpty ? nil : scenario.agents.map(\.control)
        return Output(result: result, histograms: histograms)
    }

    /// Every repeat of one point, ZManager and bare alternating (ZB, BZ, ZB, …) so that
    /// neither always runs first on a warming or cooling machine; each repeat's ratio is
    /// ZManager_i ÷ bare_i, and the point's ratio is their median.
    func measurePoint(_ point: PointSpec, index: Int) throws -> (result: PointResult, recorders: [(String, LatencyRecorder)]) {
        if case .search(let spec) = point.load { return try measureSearchPoint(point, spec, index: index) }
        let total = scenario.points.count
        let note = scenario.calibrate ? BenchmarkFlows.noBareEquivalent(point.flow) : nil
        let calibrate = scenario.calibrate && note == nil
        var zmanager: [(Measurement, LatencyRecorder)] = []
        var bare: [(Measurement, LatencyRecorder)] = []
        var pairs: [RepeatPair] = []
        var references: [ReferenceRun] = []
        for repeatIndex in 0..<scenario.repeats {
            let zmanagerFirst = repeatIndex % 2 == 0
            for runsZManager in calibrate ? [zmanagerFirst, !zmanagerFirst] : [true] {
                progress?(index, total, repeatIndex, scenario.repeats, "\(runsZManager ? "zmanager" : "bare") \(point.id)")
                if runsZManager {
                    zmanager.append(try measure(point, pipeline: .zmanager))
                } else {
                    bare.append(try measure(point, pipeline: .bare))
                }
            }
            if calibrate, let z = zmanager.last?.0, let b = bare.last?.0 {
                pairs.append(RepeatPair(zmanagerFirst: zmanagerFirst,
                                        throughputRatio: z.messagesPerSecond / max(b.messagesPerSecond, 1e-9),
                                        p50LatencyRatio: Double(z.latency.p50) / Double(max(b.latency.p50, 1)),
                                        p99LatencyRatio: Double(z.latency.p99) / Double(max(b.latency.p99, 1))))
            }
            if scenario.reference, case .closed = point.load {
                progress?(index, total, repeatIndex, scenario.repeats, "C reference \(point.id)")
                references.append(try ReferenceProgram(executable: executable).run(point))
            }
        }
        let medianZ = Self.median(zmanager)
        let medianB = bare.isEmpty ? nil : Self.median(bare)
        let ratios: Ratios? = pairs.isEmpty ? nil : Ratios(
            throughput: PointSummary.median(pairs.map(\.throughputRatio)),
            p50Latency: PointSummary.median(pairs.map(\.p50LatencyRatio)),
            p99Latency: PointSummary.median(pairs.map(\.p99LatencyRatio)))
        var result = PointResult(id: point.id, parameters: PointParameters(point), repeats: zmanager.map(\.0),
                                 zmanager: medianZ.0, bare: medianB?.0, ratios: ratios, histogramFiles: [])
        if calibrate {
            result.bareRepeats = bare.map(\.0)
            result.pairs = pairs
            result.throughputRatioSpread = Spread(pairs.map(\.throughputRatio))
        }
        result.calibrationNote = note
        if !references.isEmpty {
            result.reference = references
            if calibrate {
                result.bareOverReference = PointSummary.median(zip(bare, references).map { $0.0.messagesPerSecond / max($1.messagesPerSecond, 1e-9) })
            }
        }
        if scenario.generatorCeiling {
            result.generator = try generatorCeiling(point, index: index, zmanager: medianZ.0, bare: medianB?.0)
        }
        var recorders = [("zmanager", medianZ.1)]
        if let medianB { recorders.append(("bare", medianB.1)) }
        return (result, recorders)
    }

    /// The load generator alone through one forwarder, in each form the pipelines were driven
    /// with: ZManager's, and the bare topology's single frame when calibrated; the headroom is
    /// the smaller of the two.
    func generatorCeiling(_ point: PointSpec, index: Int, zmanager: Measurement, bare: Measurement?) throws -> GeneratorCeiling {
        progress?(index, scenario.points.count, scenario.repeats - 1, scenario.repeats, "generator alone \(point.id)")
        let zmanagerForm = point.form.wireForm(for: point.payload)
        let ceilingPoint = GeneratorCeiling.ceilingPoint(for: point)
        let (alone, _) = try measure(ceilingPoint, pipeline: .loopback(zmanagerForm))
        var headroom = alone.messagesPerSecond / max(zmanager.messagesPerSecond, 1e-9)
        var ceiling = GeneratorCeiling(messagesPerSecond: alone.messagesPerSecond,
                                       cpuMicrosecondsPerMessage: alone.generatorCPUMicrosecondsPerMessage ?? 0, headroom: 0)
        if let bare {
            let single = zmanagerForm == .single ? alone : try measure(ceilingPoint, pipeline: .loopback(.single)).0
            ceiling.singleFrameMessagesPerSecond = single.messagesPerSecond
            headroom = min(headroom, single.messagesPerSecond / max(bare.messagesPerSecond, 1e-9))
        }
        ceiling.headroom = headroom
        if scenario.reference {
            progress?(index, scenario.points.count, scenario.repeats - 1, scenario.repeats, "C client alone \(point.id)")
            let reference = try ReferenceProgram(executable: executable).run(ceilingPoint, loopback: true)
            ceiling.referenceMessagesPerSecond = reference.messagesPerSecond
            ceiling.overReference = (ceiling.singleFrameMessagesPerSecond ?? ceiling.messagesPerSecond)
                / max(reference.messagesPerSecond, 1e-9)
        }
        return ceiling
    }

    /// A `load.model: search` point: ZManager's knee search and, calibrated, bare's, their
    /// probes interleaved (ZB, BZ, …) as the repeats of other points are, the whole pair
    /// repeated `repeats` times (one search on a shared machine moves by tens of percent).
    /// Each search's highest rate is that pipeline's own closed-loop throughput unless the
    /// scenario gives one, measured again in every repeat. The point reports the repeat with
    /// the median knee ratio among those with one (uncalibrated: the median ZManager knee); its
    /// measurements are those at each knee (or at the lowest rate, without one), its pairs the
    /// knee ratios.
    func measureSearchPoint(_ point: PointSpec, _ spec: PointSpec.Search, index: Int) throws
        -> (result: PointResult, recorders: [(String, LatencyRecorder)]) {
        let note = scenario.calibrate ? BenchmarkFlows.noBareEquivalent(point.flow) : nil
        let pipelines: [(label: String, kind: PipelineKind)] = [("zmanager", .zmanager)]
            + (scenario.calibrate && note == nil ? [("bare", .bare)] : [])
        let searches = try (0..<scenario.repeats).map { repeatIndex in
            try searchOnce(point, spec, pipelines: pipelines, index: index, repeatIndex: repeatIndex)
        }
        let calibrated = pipelines.count > 1
        // The median over the repeats that have a figure (a ratio; uncalibrated, a knee): a
        // repeat whose search found none says so in kneeRepeats, not by pulling the median.
        func figure(_ index: Int) -> Double? { calibrated ? searches[index].knee.ratio : searches[index].knee.zmanager.knee }
        let measured = searches.indices.filter { figure($0) != nil }
        let order = (measured.isEmpty ? Array(searches.indices) : measured).sorted { (figure($0) ?? 0) < (figure($1) ?? 0) }
        let median = searches[order[order.count / 2]]
        let z = median.atKnee[0], b = calibrated ? median.atKnee[1] : nil
        var result = PointResult(id: point.id, parameters: PointParameters(point), repeats: searches.map(\.atKnee[0].0),
                                 zmanager: z.0, bare: b?.0, ratios: nil, histogramFiles: [])
        result.knee = median.knee
        if searches.count > 1 { result.kneeRepeats = searches.map(\.knee) }
        if calibrated {
            result.bareRepeats = searches.map(\.atKnee[1].0)
            let pairs = searches.enumerated().compactMap { repeatIndex, search -> RepeatPair? in
                guard let ratio = search.knee.ratio else { return nil }
                let (zk, bk) = (search.atKnee[0].0, search.atKnee[1].0)
                return RepeatPair(zmanagerFirst: repeatIndex % 2 == 0, throughputRatio: ratio,
                                  p50LatencyRatio: Double(zk.latency.p50) / Double(max(bk.latency.p50, 1)),
                                  p99LatencyRatio: Double(zk.latency.p99) / Double(max(bk.latency.p99, 1)))
            }
            if let ratio = median.knee.ratio, !pairs.isEmpty {
                result.ratios = Ratios(throughput: ratio, p50Latency: PointSummary.median(pairs.map(\.p50LatencyRatio)),
                                       p99Latency: PointSummary.median(pairs.map(\.p99LatencyRatio)))
                result.pairs = pairs
                result.throughputRatioSpread = Spread(pairs.map(\.throughputRatio))
            }
        }
        result.calibrationNote = note
        if scenario.generatorCeiling {
            result.generator = try generatorCeiling(point, index: index, zmanager: z.0, bare: b?.0)
        }
        var recorders = [("zmanager", z.1)]
        if let b { recorders.append(("bare", b.1)) }
        return (result, recorders)
    }

    /// One repeat of a search point: every pipeline's search, and its measurement at the knee.
    struct SearchRepeat {
        var knee: KneeResult
        /// Per pipeline, the measurement at its knee (at the lowest rate without one).
        var atKnee: [(Measurement, LatencyRecorder)]
    }

    func searchOnce(_ point: PointSpec, _ spec: PointSpec.Search, pipelines: [(label: String, kind: PipelineKind)],
                    index: Int, repeatIndex: Int) throws -> SearchRepeat {
        let total = scenario.points.count
        let step = { (what: String) in self.progress?(index, total, repeatIndex, self.scenario.repeats, what) }
        var searches: [KneeSearch] = []
        for (label, kind) in pipelines {
            var ceiling: Double?
            if spec.highest == nil {
                var closed = point
                closed.load = .closed(inFlight: spec.ceilingInFlight)
                step("\(label) closed-loop ceiling \(point.id)")
                ceiling = try measure(closed, pipeline: kind).0.messagesPerSecond
            }
            let highest = spec.highest ?? max(ceiling!, 1)
            searches.append(KneeSearch(spec: spec, lowest: spec.lowest ?? max(highest / 100, 1), highest: highest, ceiling: ceiling))
        }
        // Per pipeline, the last measurement at each rate: the knee's is the repeat's figure.
        var byRate: [[Double: (Measurement, LatencyRecorder)]] = Array(repeating: [:], count: pipelines.count)
        var round = repeatIndex % 2
        while searches.contains(where: { !$0.isFinished }) {
            for i in round % 2 == 0 ? Array(pipelines.indices) : pipelines.indices.reversed() {
                guard let rate = searches[i].nextRate() else { continue }
                var probe = point
                probe.load = .open(rate: rate)
                step("\(pipelines[i].label) probe \(searches[i].measurements + 1)/\(spec.probes) at \(Format.rate(rate)) msg/s \(point.id)")
                let (measurement, recorder) = try measure(probe, pipeline: pipelines[i].kind)
                searches[i].record(KneeSearch.Observation(
                    rate: rate, achievedRate: measurement.achievedSendRate ?? measurement.messagesPerSecond,
                    value: recorder.corrected.valueAtPercentile(spec.percentile), lost: measurement.lost,
                    errors: measurement.errors, targetRateReached: measurement.targetRateReached ?? true))
                byRate[i][rate] = (measurement, recorder)
            }
            round += 1
        }
        let results = searches.map(\.result)
        let knee = KneeResult(percentile: spec.percentile, sloNanoseconds: LoadGenerator.nanoseconds(spec.limit),
                              zmanager: results[0], bare: results.count > 1 ? results[1] : nil)
        return SearchRepeat(knee: knee, atKnee: pipelines.indices.map { i in byRate[i][results[i].knee ?? results[i].lowest]! })
    }

    /// The `.hlog` of a recorder's interval series (``IntervalLog``).
    static func intervalLog(_ recorder: LatencyRecorder, comment: String) -> String {
        let length = Double(recorder.intervalLength) / 1e9
        let spans = IntervalSample.spans(recorder)
        return IntervalLog.text(intervals: recorder.intervals.enumerated().map { index, histogram in
            (spans[index].start, spans[index].seconds, histogram)
        }, startTime: recorder.wallClockStart, comment: comment + String(format: ", %g s intervals", length))
    }

    static func median(_ measurements: [(Measurement, LatencyRecorder)]) -> (Measurement, LatencyRecorder) {
        let sorted = measurements.sorted { $0.0.messagesPerSecond < $1.0.messagesPerSecond }
        return sorted[sorted.count / 2]
    }

    enum PipelineKind { case zmanager, bare, loopback(WireForm) }

    /// One measurement of one pipeline: its load from this process, or from the scenario's
    /// agents (then its request and publish endpoints bind on every interface, 0.0.0.0).
    func measure(_ point: PointSpec, pipeline kind: PipelineKind) throws -> (Measurement, LatencyRecorder) {
        var point = point
        let agents: [AgentEndpoint]
        if case .loopback = kind { agents = [] } else { agents = scenario.agents }
        if !agents.isEmpty { point.bindAddress = "0.0.0.0" }
        let pipeline: any PipelineUnderTest
        switch kind {
        case .zmanager: pipeline = try ZManagerPipeline(point: point, executable: executable)
        case .bare: pipeline = try BarePipeline(point: point, executable: executable)
        case .loopback(let form): pipeline = try LoopbackPipeline(point: point, form: form)
        }
        defer { pipeline.stop() }
        ProcessMemory.resetPeak()
        if !agents.isEmpty { return try AgentCoordinator(agents: agents, prepareTimeout: agentPrepareTimeout).measure(point, pipeline: pipeline) }
        let generator = LoadGenerator(point: point, pipeline: pipeline)
        let outcome = try generator.run()
        let children = pipeline.stageProcesses.map(\.process.processIdentifier)
        let childRSS = children.map { ProcessMemory.peakRSS(pid: $0) }.reduce(0, +)
        return (Measurement(outcome, point: point, childRSS: children.isEmpty ? nil : childRSS), outcome.recorder)
    }
}

extension Measurement {
    init(_ o: LoadGenerator.Outcome, point: PointSpec, childRSS: UInt64?) {
        let seconds = Double(o.elapsedNanoseconds) / 1e9
        let received = o.tracker.unique
        var targetReached: Bool?
        var achieved: Double?
        switch point.load {
        case .open(let rate):
            let phase = point.measureDuration.map(LoadGenerator.seconds) ?? Double(o.sendElapsedNanoseconds) / 1e9
            achieved = Double(o.sent) / max(phase, 1e-9)
            // Missed at a 1 % shortfall. Unsent messages are already missing from `sent`; a
            // sender a millisecond behind when the phase ends (descheduled on a shared machine)
            // leaves a few, which are counted and recorded but do not flag the point alone.
            // The schedule sends whole messages, so one message short is no shortfall: 28 sent
            // in 400 ms at 70.9 msg/s (28.4 due) reached it.
            targetReached = Double(o.sent) >= rate * phase * 0.99 - 1
        case .ramp:
            achieved = Double(o.sent) / (Double(o.sendElapsedNanoseconds) / 1e9)
            targetReached = o.unsent == 0 ? nil : false
        case .closed, .search:
            break
        }
        let stages = (o.cpuStart != nil && o.cpuEnd != nil)
            ? StageCPU.perMessage(from: o.cpuStart!, to: o.cpuEnd!, messages: received) : []
        let pipelineCPU = Self.pipelineCPU(stages)
        let generatorCPU = stages.filter { Self.generatorStages.contains($0.stage) }.map(\.cpuMicrosecondsPerMessage).reduce(0, +)
        let lost = o.tracker.lost(sent: o.sent)
        self.init(sent: o.sent, received: received, lost: lost - min(o.errors, lost),
                  duplicated: o.tracker.duplicated, reordered: o.tracker.reordered, errors: o.errors,
                  elapsedSeconds: seconds, messagesPerSecond: Double(received) / seconds,
                  megabytesPerSecond: Double(o.bytes) / seconds / 1e6, targetRateReached: targetReached, achievedSendRate: achieved,
                  latency: LatencySummary(o.recorder.corrected), uncorrectedLatency: LatencySummary(o.recorder.uncorrected),
                  cpuMicrosecondsPerMessage: pipelineCPU,
                  peakRSSBytes: ProcessMemory.peakRSS(pid: getpid()), workerProcessesPeakRSSBytes: childRSS)
        self.stages = stages
        generatorCPUMicrosecondsPerMessage = generatorCPU
        intervals = IntervalSample.series(o)
        if case .closed = point.load {} else {
            unsent = o.unsent
            sendDelay = o.sendDelay.map(LatencySummary.init)
        }
    }
}

extension Measurement {
    /// The load generator's stages (its threads, its libzmq I/O thread).
    static let generatorStages: Set<String> = ["generator", "generator-io"]

    /// The pipeline's CPU per message: every stage but the generator's and `other`.
    static func pipelineCPU(_ stages: [StageCPUUsage]) -> Double {
        stages.filter { !generatorStages.contains($0.stage) && $0.stage != "other" }.map(\.cpuMicrosecondsPerMessage).reduce(0, +)
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
        case .search(let spec): model = "search \(spec.percentileName)<=\(ScenarioPlan.text(spec.limit))"
        }
        func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18 }
        self.init(transport: p.transport.rawValue, deployment: p.deployment.rawValue, workers: p.workers,
                  highWaterMark: p.highWaterMark, payloadSize: p.payload.mean, payloadDistribution: p.payload.description,
                  flow: p.flow.rawValue, handler: p.handler.description, loadModel: model, inFlight: inFlight,
                  targetRate: rate, warmupSeconds: seconds(p.warmup), measureSeconds: p.measureDuration.map(seconds),
                  measureMessages: p.measureMessages)
        wireForm = p.form.wireForm(for: p.payload) == .single ? "single" : "split"
        dispatch = p.dispatch.rawValue
        credit = p.dispatch == .reliable ? p.credit : nil
        handoff = p.handoff == .sockets && p.deployment == .threads ? "sockets" : nil
        security = p.security == .curve ? "curve" : nil
        flowTimeoutSeconds = p.flowTimeout.map(seconds)
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
