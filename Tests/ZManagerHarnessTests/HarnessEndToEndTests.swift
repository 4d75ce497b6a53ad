import Foundation
import Testing
@testable import ZManagerHarness

@Suite("The harness against the real pipeline")
struct HarnessEndToEndTests {
    @Test(arguments: ["inproc", "ipc", "tcp"])
    func aShortRunOnEachTransportMeasuresWithoutLoss(transport: String) throws {
        let scenario = try ScenarioFile.parse("""
            topology: {transport: \(transport), workers: 2}
            workload: {payload: 128}
            load: {model: closed, in_flight: 20}
            phases: {warmup: 100ms, measure: 400ms, drain: 2s}
            """, file: "e2e-\(transport).yaml")
        let output = try ScenarioRunner(scenario: scenario).run()
        let point = try #require(output.result.points.first)
        #expect(point.zmanager.received > 100)
        #expect(point.zmanager.lost == 0 && point.zmanager.duplicated == 0 && point.zmanager.errors == 0)
        #expect(point.zmanager.latency.count == UInt64(point.zmanager.received))
        #expect(point.zmanager.latency.p50 > 0 && point.zmanager.latency.p50 <= point.zmanager.latency.p99)
        let bare = try #require(point.bare)
        #expect(bare.received > 100 && bare.lost == 0)
        let ratios = try #require(point.ratios)
        #expect(ratios.throughput > 0)
        #expect(point.histogramFiles.count == 4)
        // The interval series adds up to the measurement's totals, and each median has its .hlog.
        let intervals = try #require(point.zmanager.intervals)
        #expect(intervals.map(\.received).reduce(0, +) == point.zmanager.received)
        #expect(intervals.map(\.sent).reduce(0, +) == point.zmanager.sent)
        #expect(intervals.map(\.unanswered).reduce(0, +) == 0 && intervals.map(\.errors).reduce(0, +) == 0)
        #expect(intervals.first?.startSeconds == 0 && intervals.dropLast().allSatisfy { $0.seconds == 1 })
        #expect(try #require(bare.intervals).map(\.received).reduce(0, +) == bare.received)
        #expect(point.intervalLogFiles == ["p000-zmanager.hlog", "p000-bare.hlog"])

        let root = FileManager.default.temporaryDirectory.appendingPathComponent("zmanager-results-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let directory = try ResultWriter.write(output, under: root)
        let reread = try ResultWriter.readJSON(directory.appendingPathComponent("result.json"))
        #expect(reread == output.result)
        let csv = try String(contentsOf: directory.appendingPathComponent("points.csv"), encoding: .utf8)
        #expect(csv.split(separator: "\n").count == 2)
        for file in point.histogramFiles {
            let text = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
            #expect(text.contains("Percentile"))
        }
        for file in point.intervalLogFiles ?? [] {
            let lines = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8).split(separator: "\n")
            #expect(lines.filter { $0.contains(",HISTFAAA") }.count == (file.contains("bare") ? bare : point.zmanager).intervals?.count)
        }
    }

    /// `topology.security: curve`: the node's endpoints are CURVE servers and the load generator
    /// and the worker processes present its key; every request is answered, and the point says so.
    @Test(arguments: ["threads", "processes"])
    func aCurvePointMeasuresASecuredNodeWithoutLoss(deployment: String) throws {
        let scenario = try ScenarioFile.parse("""
            topology: {transport: tcp, deployment: \(deployment), workers: 2, security: curve}
            load: {model: closed, in_flight: 20}
            phases: {warmup: 100ms, measure: 400ms, drain: 2s}
            calibrate: false
            """, file: "e2e-curve.yaml")
        let executable = deployment == "processes" ? try CompareTests.executable : nil
        let output = try ScenarioRunner(scenario: scenario, executable: executable).run()
        let point = try #require(output.result.points.first)
        #expect(point.parameters.security == "curve")
        #expect(point.zmanager.received > 100)
        #expect(point.zmanager.lost == 0 && point.zmanager.duplicated == 0 && point.zmanager.errors == 0)
    }

    /// `topology.flow_timeout`: the node runs with deadlines (every flow in the open-flow table),
    /// nothing times out within the run, and the point records the timeout.
    @Test func aFlowTimeoutPointRunsTheNodeWithDeadlines() throws {
        let scenario = try ScenarioFile.parse("""
            topology: {transport: inproc, workers: 2, flow_timeout: 60s}
            load: {model: closed, in_flight: 20}
            phases: {warmup: 100ms, measure: 300ms}
            calibrate: false
            """, file: "e2e-flow-timeout.yaml")
        let point = try #require(try ScenarioRunner(scenario: scenario).run().result.points.first)
        #expect(point.parameters.flowTimeoutSeconds == 60)
        #expect(point.zmanager.received > 100)
        #expect(point.zmanager.lost == 0 && point.zmanager.errors == 0)

        // The pipeline's node has the open-flow table (per-flow latencies exist only with it).
        let pipeline = try ZManagerPipeline(point: try #require(scenario.points.first), executable: nil)
        defer { pipeline.stop() }
        #expect(pipeline.node.flowLatencies != nil)
    }

    @Test func anAsyncFlowIsAnsweredByTheGeneratorAsTheExternalParty() throws {
        let scenario = try ScenarioFile.parse("""
            topology: {transport: inproc, workers: 2}
            workload: {flow: async}
            load: {model: closed, in_flight: 10}
            phases: {warmup: 100ms, measure: 300ms}
            calibrate: false
            """, file: "async.yaml")
        let point = try #require(try ScenarioRunner(scenario: scenario).run().result.points.first)
        #expect(point.zmanager.received > 50)
        #expect(point.zmanager.lost == 0 && point.zmanager.errors == 0)
    }

    /// A handler that stalls 200 ms every 100 messages, under an open-loop schedule with
    /// tiny queues: the sender is held back during each stall. Latency from the intended
    /// send time shows the stall for every message that should have gone out during it;
    /// latency from the actual send time (the uncorrected, "coordinated omission" figure)
    /// hides it.
    @Test func anOpenLoopScheduleShowsAStallThatUncorrectedLatencyHides() throws {
        let scenario = try ScenarioFile.parse("""
            topology: {transport: inproc, workers: 1, high_water_mark: 1}
            workload: {payload: 64, handler: stall 200ms every 100}
            load: {model: open, rate: 2000}
            phases: {warmup: 0s, measure: 1500ms, drain: 3s}
            calibrate: false
            """, file: "stall.yaml")
        let point = try #require(try ScenarioRunner(scenario: scenario).run().result.points.first)
        let corrected = point.zmanager.latency
        let uncorrected = point.zmanager.uncorrectedLatency
        #expect(point.zmanager.lost == 0)
        #expect(corrected.p99 >= 150_000_000, "the stall shows in corrected p99: \(corrected.p99) ns")
        #expect(corrected.p50 >= 10 * max(uncorrected.p50, 1), "corrected p50 \(corrected.p50) vs uncorrected \(uncorrected.p50)")
    }

    /// A knee search against the real pipeline, whose one worker spins 100 µs a message: it
    /// cannot sustain more than 10k msg/s, so neither knee may lie above that. Both searches
    /// ran interleaved within their budgets, every passing probe lies below every failing one,
    /// and the point's figures are those at ZManager's knee.
    @Test func aKneeSearchFindsARateThePipelineCanSustain() throws {
        let scenario = try ScenarioFile.parse("""
            topology: {transport: inproc, workers: 1}
            workload: {payload: 64, handler: spin 100us}
            load: {model: search, slo: {p99: 5ms}, in_flight: 20, tolerance: 10%, probes: 8}
            phases: {warmup: 100ms, measure: 400ms, drain: 2s}
            calibration: {bare: true, generator: false}
            repeats: 2
            """, file: "knee.yaml")
        let output = try ScenarioRunner(scenario: scenario).run()
        let point = try #require(output.result.points.first)
        let knee = try #require(point.knee)
        // Two repeats of the interleaved pair: the point reports one of them, and keeps both.
        let repeated = try #require(point.kneeRepeats)
        #expect(repeated.count == 2 && repeated.contains(knee))
        #expect(point.repeats.count == 2 && point.bareRepeats?.count == 2)
        #expect(point.pairs?.count == repeated.filter { $0.ratio != nil }.count)
        #expect(knee.percentile == 99 && knee.sloNanoseconds == 5_000_000)
        for search in [knee.zmanager, try #require(knee.bare)] {
            #expect(search.ceiling != nil && search.highest == search.ceiling && search.lowest == max(search.highest / 100, 1))
            #expect(search.probes.map(\.values.count).reduce(0, +) <= 8)
            let passed = search.probes.filter(\.passed).map(\.rate), failed = search.probes.filter { !$0.passed }.map(\.rate)
            #expect((passed.max() ?? 0) < (failed.min() ?? .infinity), "passes \(passed) below fails \(failed)")
            #expect(search.knee == passed.max())
            if let rate = search.knee { #expect(rate <= 10_500, "a 100 µs handler on one worker sustains \(rate) msg/s?") }
        }
        let rate = try #require(knee.zmanager.knee)
        #expect(point.parameters.loadModel == "search p99<=5ms")
        #expect(abs((point.zmanager.achievedSendRate ?? 0) - rate) / rate < 0.05, "the point's figures are the knee's")
        if let ratio = knee.ratio { #expect(point.ratios?.throughput == ratio) }
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("zmanager-knee-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let directory = try ResultWriter.write(output, under: root)
        #expect(try ResultWriter.readJSON(directory.appendingPathComponent("result.json")) == output.result)
        let csv = try String(contentsOf: directory.appendingPathComponent("points.csv"), encoding: .utf8).split(separator: "\n")
        let columns = csv[0].split(separator: ",", omittingEmptySubsequences: false)
        let row = csv[1].split(separator: ",", omittingEmptySubsequences: false)
        let index = try #require(columns.firstIndex(of: "knee_msg_per_s"))
        #expect(row.count == columns.count && Double(row[index]) == rate.rounded())
    }

    /// A ramp drawn over time: the sender's schedule doubles and more across the measure phase,
    /// and the series shows it interval by interval (sends are counted by intended time, so the
    /// counts follow the schedule on a noisy machine too).
    @Test func aRampShowsInTheIntervalSeries() throws {
        let scenario = try ScenarioFile.parse("""
            topology: {transport: inproc, workers: 2}
            load: {model: ramp, rate: 1000, to: 5000}
            phases: {warmup: 100ms, measure: 2s, drain: 2s, interval: 500ms}
            calibration: {bare: false, generator: false}
            """, file: "ramp.yaml")
        let point = try #require(try ScenarioRunner(scenario: scenario).run().result.points.first)
        let intervals = try #require(point.zmanager.intervals)
        #expect(intervals.count >= 4)
        let sent = intervals.prefix(4).map(\.sent)
        // The schedule: 1000 → 5000 msg/s over 2 s, so about 750, 1250, 1750 and 2250 per half second.
        #expect(zip(sent, sent.dropFirst()).allSatisfy { $0 < $1 }, "\(sent)")
        #expect(Double(sent[3]) > 2.4 * Double(sent[0]), "\(sent)")
        #expect(intervals.map(\.received).reduce(0, +) == point.zmanager.received)
        #expect(intervals.map(\.sent).reduce(0, +) == point.zmanager.sent)
    }

    @Test func anUnreachableTargetRateIsFlagged() throws {
        let scenario = try ScenarioFile.parse("""
            topology: {transport: inproc, workers: 1, high_water_mark: 100}
            workload: {payload: 64, handler: spin 100us}
            load: {model: open, rate: 1000000}
            phases: {warmup: 0s, measure: 300ms, drain: 5s}
            calibrate: false
            """, file: "unreachable.yaml")
        let point = try #require(try ScenarioRunner(scenario: scenario).run().result.points.first)
        #expect(point.zmanager.targetRateReached == false)
        #expect((point.zmanager.achievedSendRate ?? .infinity) < 950_000)
    }
}

@Suite("The regression gate against real runs", .serialized)
struct RegressionGateTests {
    static func run(handler: String, calibrate: Bool = true) throws -> RunResult {
        let scenario = try ScenarioFile.parse("""
            topology: {workers: 2}
            workload: {payload: 64, handler: \(handler)}
            load: {model: closed, in_flight: 20}
            phases: {warmup: 100ms, measure: 400ms, drain: 2s}
            repeats: 3
            calibration: {bare: \(calibrate), generator: false}
            matrix:
              topology.transport: [inproc, tcp]
            """, file: "gate.yaml")
        return try ScenarioRunner(scenario: scenario).run().result
    }

    /// The same point ids, one pipeline made slower by a 300 µs handler: the gate must
    /// fail it. The unchanged pipeline, run again, must pass. The test machine runs other
    /// suites at the same time (a p99 can jump tenfold), so "unchanged" is judged with far
    /// wider thresholds than CI's, which runs the gate alone; the slowed pipeline loses over
    /// 90 % of its throughput and fails even at that width. (The bare calibration runs the
    /// handler too, so the slowed run is compared on absolute msg/s: no calibration.)
    @Test func aSlowedPipelineFailsAndAnUnchangedOnePasses() throws {
        let baseline = try Self.run(handler: "echo")
        let unchanged = try Self.run(handler: "echo")
        let slowed = try Self.run(handler: "spin 300us", calibrate: false)
        let wide = ComparisonThresholds(throughputDrop: 0.6, latencyRise: 50)
        let pass = Comparison(baseline: baseline, new: unchanged, thresholds: wide)
        #expect(pass.exitStatus == 0, "\(pass.render())")
        let fail = Comparison(baseline: baseline, new: slowed, thresholds: wide)
        #expect(fail.exitStatus == 1, "\(fail.render())")
        #expect(fail.regressions.count == 2)
    }
}
