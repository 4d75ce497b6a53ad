import Foundation
import Testing
@testable import ZManager
@testable import ZManagerMetrics

/// `zmanager_flow_duration_seconds{flow=…}`: each result's time from the Subject's intake, per
/// flow, recorded while flows have a deadline.
@Suite("Metrics: per-flow latency histograms")
struct FlowLatencyTests {
    @Test func observationsLandInTheirBucketAndRenderCumulatively() {
        let latencies = FlowLatencies()
        latencies.record(flow: "Echo", seconds: 0.00003)   // ≤ 50 µs
        latencies.record(flow: "Echo", seconds: 0.0003)    // ≤ 500 µs
        latencies.record(flow: "Echo", seconds: 0.0005)    // ≤ 500 µs, on the bound
        latencies.record(flow: "Echo", seconds: 120)       // +Inf
        latencies.record(flow: "a\"b", seconds: 1)
        let echo = latencies.snapshot["Echo"]!
        #expect(echo.count == 4)
        #expect(abs(echo.sum - 120.00083) < 1e-9)
        let cumulative = echo.cumulative
        #expect(cumulative.first == 1 && cumulative.last == 4)
        #expect(cumulative[FlowLatencies.bounds.firstIndex(of: 0.0005)!] == 3)
        #expect(cumulative[FlowLatencies.bounds.firstIndex(of: 60)!] == 3)

        let text = MetricsExporter.histogramText(latencies.snapshot)
        #expect(text.contains("# TYPE zmanager_flow_duration_seconds histogram\n"))
        #expect(text.contains(#"zmanager_flow_duration_seconds_bucket{flow="Echo",le="5e-05"} 1"#))
        #expect(text.contains(#"zmanager_flow_duration_seconds_bucket{flow="Echo",le="+Inf"} 4"#))
        #expect(text.contains(#"zmanager_flow_duration_seconds_count{flow="Echo"} 4"#))
        #expect(text.contains(#"zmanager_flow_duration_seconds_count{flow="a\"b"} 1"#), "label values are escaped")
    }

    @Test func aNodeWithDeadlinesRecordsEachResultOfEachFlow() throws {
        var options = ZManagerNode.Options()
        options.limits.flowTimeout = .seconds(30)
        let pipeline = try TestPipeline(transport: .inproc, flows: "[Echo]\n?Echo?Push\nSubject?Echo?Echo\n??done\n",
                                        mapping: "[actionmapping]\n??Echo = zmanager.builtin.echo\n", options: options)
        defer { pipeline.stop() }
        try pipeline.subscribe(Topics.resultPrefix(flow: "Echo"))
        let clock = ContinuousClock()
        let start = clock.now
        for i in 0..<25 { _ = try #require(try pipeline.roundTrip(flow: "Echo", body: "\(i)")) }
        let elapsed = clock.now - start
        _ = try #require(try pipeline.roundTrip(flow: "NoSuchFlow", body: "x"))  // an error: not a result
        let latencies = try #require(pipeline.node.flowLatencies)
        let echo = try #require(latencies.snapshot["Echo"])
        #expect(echo.count == 25)
        #expect(echo.sum > 0 && echo.sum <= Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18,
                "each flow took part of the time the test waited for it")
        #expect(pipeline.node.flowLatencies?.snapshot.count == 1, "errors are not recorded")
    }

    @Test func withoutDeadlinesNothingIsTracked() throws {
        let pipeline = try TestPipeline(transport: .inproc, flows: "[Echo]\n?Echo?Push\nSubject?Echo?Echo\n??done\n",
                                        mapping: "[actionmapping]\n??Echo = zmanager.builtin.echo\n")
        defer { pipeline.stop() }
        #expect(pipeline.node.flowLatencies == nil)
    }
}
