import Foundation
import Testing
@testable import ZManagerHarness

@Suite("Result schema")
struct RunResultTests {
    static func sample() -> RunResult {
        let latency = LatencySummary(count: 10, min: 1_000, mean: 2_500, p50: 2_000, p90: 4_000, p99: 9_000,
                                     p999: 9_500, p9999: 9_900, max: 10_000,
                                     curve: [.init(percentile: 50, nanoseconds: 2_000), .init(percentile: 99, nanoseconds: 9_000)])
        let measurement = Measurement(sent: 10, received: 10, lost: 0, duplicated: 0, reordered: 0, errors: 0,
                                      elapsedSeconds: 1, messagesPerSecond: 10, megabytesPerSecond: 0.00064,
                                      targetRateReached: nil, achievedSendRate: nil, latency: latency,
                                      uncorrectedLatency: latency, cpuMicrosecondsPerMessage: 3.5, peakRSSBytes: 1 << 20,
                                      workerProcessesPeakRSSBytes: nil)
        let parameters = PointParameters(transport: "tcp", deployment: "threads", workers: 2, highWaterMark: 1000,
                                         payloadSize: 64, payloadDistribution: "fixed", flow: "echo", handler: "echo",
                                         loadModel: "closed", inFlight: 100, targetRate: nil, warmupSeconds: 1,
                                         measureSeconds: 2, measureMessages: nil)
        let host = HostFacts(hostname: "h", cores: 2, memoryBytes: 1 << 34, kernel: "6.1", libzmqVersion: "4.3.4",
                             swiftVersion: "6.3.1", allocator: "jemalloc 5.3.0", gitRevision: "abc", loadAverageStart: 0.5,
                             loadAverageEnd: 1.5)
        let point = PointResult(id: "transport=tcp", parameters: parameters, repeats: [measurement], zmanager: measurement,
                                bare: measurement, ratios: Ratios(throughput: 1, p50Latency: 1, p99Latency: 1),
                                histogramFiles: ["p0-zmanager.hgrm"])
        return RunResult(scenario: "ci", scenarioFile: "scenarios/ci.yaml", scenarioHash: "00", startedAt: "2026-11-29T00:00:00Z",
                         durationSeconds: 3, host: host, points: [point])
    }

    /// Every optional field the instrument adds, filled in, survives encoding and decoding.
    @Test func instrumentFieldsRoundTrip() throws {
        var result = Self.sample()
        var measurement = result.points[0].zmanager
        measurement.stages = [StageCPUUsage(stage: "subject", cpuMicrosecondsPerMessage: 0.31, threads: 1),
                              StageCPUUsage(stage: "worker", cpuMicrosecondsPerMessage: 0.42, threads: 2)]
        measurement.generatorCPUMicrosecondsPerMessage = 0.6
        measurement.unsent = 7
        measurement.sendDelay = measurement.latency
        result.points[0].zmanager = measurement
        result.points[0].bareRepeats = [measurement, measurement]
        result.points[0].pairs = [RepeatPair(zmanagerFirst: true, throughputRatio: 0.5, p50LatencyRatio: 1.2, p99LatencyRatio: 1.5),
                                  RepeatPair(zmanagerFirst: false, throughputRatio: 0.6, p50LatencyRatio: 1.1, p99LatencyRatio: 1.4)]
        result.points[0].throughputRatioSpread = Spread([0.5, 0.6])
        result.points[0].generator = GeneratorCeiling(messagesPerSecond: 2e6, singleFrameMessagesPerSecond: 3e6,
                                                      cpuMicrosecondsPerMessage: 0.5, headroom: 2.5)
        result.points[0].reference = [ReferenceRun(messagesPerSecond: 1e6, p50Nanoseconds: 60_000, p99Nanoseconds: 90_000, lost: 0)]
        result.points[0].bareOverReference = 0.97
        result.points[0].calibrationNote = "why not"
        let decoded = try JSONDecoder().decode(RunResult.self, from: try JSONEncoder().encode(result))
        #expect(decoded == result)
        #expect(decoded.points[0].throughputRatioSpread == Spread(min: 0.5, median: 0.55, max: 0.6))
    }

    @Test func roundTripsThroughJSON() throws {
        let result = Self.sample()
        let data = try JSONEncoder().encode(result)
        let decoded = try JSONDecoder().decode(RunResult.self, from: data)
        #expect(decoded == result)
        #expect(decoded.schemaVersion == RunResult.currentSchemaVersion)
    }
}
