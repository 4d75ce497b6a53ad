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

    @Test func roundTripsThroughJSON() throws {
        let result = Self.sample()
        let data = try JSONEncoder().encode(result)
        let decoded = try JSONDecoder().decode(RunResult.self, from: data)
        #expect(decoded == result)
        #expect(decoded.schemaVersion == RunResult.currentSchemaVersion)
    }
}
