import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
@testable import ZManagerHarness

/// Runs with several points of every kind, for the report and compare tests.
enum ReportSamples {
    static func latency(p50: UInt64, p99: UInt64, curve: Bool = true) -> LatencySummary {
        let max = p99 * 4
        let points: [LatencySummary.CurvePoint] = curve
            ? [.init(percentile: 0, nanoseconds: p50 / 2), .init(percentile: 50, nanoseconds: p50),
               .init(percentile: 90, nanoseconds: (p50 + p99) / 2), .init(percentile: 99, nanoseconds: p99),
               .init(percentile: 99.9, nanoseconds: p99 * 2), .init(percentile: 99.99, nanoseconds: p99 * 3),
               .init(percentile: 100, nanoseconds: max)]
            : []
        return LatencySummary(count: 100_000, min: p50 / 2, mean: Double(p50) * 1.2, p50: p50, p90: (p50 + p99) / 2, p99: p99,
                              p999: p99 * 2, p9999: p99 * 3, max: max, curve: points)
    }

    static func measurement(rate: Double, p50: UInt64, p99: UInt64, lost: Int = 0, open: (target: Double, reached: Bool)? = nil,
                            curve: Bool = true) -> ZManagerHarness.Measurement {
        let achieved = open.map { $0.reached ? $0.target : rate }
        return ZManagerHarness.Measurement(sent: Int(rate * 2), received: Int(rate * 2) - lost, lost: lost, duplicated: 0, reordered: 0, errors: 0,
                           elapsedSeconds: 2, messagesPerSecond: rate, megabytesPerSecond: rate * 64 / 1e6,
                           targetRateReached: open?.reached, achievedSendRate: achieved,
                           latency: latency(p50: p50, p99: p99, curve: curve),
                           uncorrectedLatency: latency(p50: p50 * 3 / 4, p99: open == nil ? p99 : p99 / 3, curve: curve),
                           cpuMicrosecondsPerMessage: 2.5, peakRSSBytes: 40 << 20, workerProcessesPeakRSSBytes: nil)
    }

    /// A point measured `repeats` times around `rate` (spread ±4 %), with its bare calibration.
    static func point(transport: String, workers: Int, rate: Double, p50: UInt64 = 100_000, p99: UInt64 = 400_000,
                      repeats: Int = 5, targetRate: Double? = nil, reached: Bool = true, lost: Int = 0,
                      calibrated: Bool = true) -> PointResult {
        let open = targetRate.map { (target: $0, reached: reached) }
        let spread: [Double] = [0.96, 0.98, 1.0, 1.02, 1.04]
        let measurements = (0..<repeats).map { index in
            measurement(rate: rate * spread[index % spread.count], p50: p50, p99: p99, lost: lost, open: open)
        }
        let median = measurements.sorted { $0.messagesPerSecond < $1.messagesPerSecond }[repeats / 2]
        let bare = measurement(rate: rate / 0.9, p50: p50 * 9 / 10, p99: p99 * 8 / 10, open: open.map { ($0.target, true) })
        let load = targetRate.map { "open-\(Int($0))" } ?? "closed-100"
        let parameters = PointParameters(transport: transport, deployment: "threads", workers: workers, highWaterMark: 1000,
                                         payloadSize: 64, payloadDistribution: "fixed 64", flow: "echo", handler: "echo",
                                         loadModel: targetRate == nil ? "closed" : "open", inFlight: targetRate == nil ? 100 : nil,
                                         targetRate: targetRate, warmupSeconds: 0.5, measureSeconds: 2, measureMessages: nil)
        return PointResult(
            id: "transport=\(transport),workers=\(workers),payload=64,load=\(load)", parameters: parameters,
            repeats: measurements, zmanager: median, bare: calibrated ? bare : nil,
            ratios: calibrated
                ? Ratios(throughput: median.messagesPerSecond / bare.messagesPerSecond,
                         p50Latency: Double(median.latency.p50) / Double(bare.latency.p50),
                         p99Latency: Double(median.latency.p99) / Double(bare.latency.p99))
                : nil,
            histogramFiles: ["p000-zmanager-corrected.hgrm", "p000-zmanager-uncorrected.hgrm"])
    }

    /// Two transports × 1 and 2 workers, closed loop; tcp at three open-loop rates, the last not
    /// reached; one point that lost messages.
    static func run(load: (start: Double, end: Double) = (1.0, 1.2), startedAt: String = "2026-11-29T10:00:00Z") -> RunResult {
        var points: [PointResult] = []
        for transport in ["ipc", "tcp"] {
            for workers in [1, 2] {
                points.append(point(transport: transport, workers: workers, rate: transport == "ipc" ? 800_000 : 700_000,
                                    lost: transport == "ipc" && workers == 2 ? 12 : 0))
            }
        }
        points.append(point(transport: "tcp", workers: 2, rate: 10_000, p50: 150_000, p99: 300_000, targetRate: 10_000))
        points.append(point(transport: "tcp", workers: 2, rate: 50_000, p50: 160_000, p99: 500_000, targetRate: 50_000))
        points.append(point(transport: "tcp", workers: 2, rate: 41_000, p50: 900_000, p99: 9_000_000, targetRate: 100_000,
                            reached: false))
        let host = HostFacts(hostname: "vm", cores: 2, memoryBytes: 24 << 30, kernel: "6.18.44", libzmqVersion: "4.3.4",
                             swiftVersion: "6.3.1", allocator: "jemalloc 5.3.0", gitRevision: "9e2424c5a973",
                             loadAverageStart: load.start, loadAverageEnd: load.end)
        return RunResult(scenario: "sample", scenarioFile: "scenarios/sample.yaml", scenarioHash: String(repeating: "ab", count: 32),
                         startedAt: startedAt, durationSeconds: 95, host: host, points: points)
    }

    static func occurrences(of needle: String, in text: String) -> Int {
        text.components(separatedBy: needle).count - 1
    }

    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("zmanager-report-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    static func writeJSON(_ result: RunResult, to url: URL) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try JSONEncoder().encode(result).write(to: url)
    }
}

/// Checks that a document is well-formed XML (the HTML report is written to be).
final class WellFormedness: NSObject, XMLParserDelegate, @unchecked Sendable {
    var error: String?
    var elements: [String: Int] = [:]

    static func check(_ text: String) -> WellFormedness {
        let checker = WellFormedness()
        let parser = XMLParser(data: Data(text.utf8))
        parser.delegate = checker
        if !parser.parse() {
            checker.error = checker.error ?? "\(parser.parserError.map { "\($0)" } ?? "unknown error") at line \(parser.lineNumber)"
        }
        return checker
    }

    func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String] = [:]) {
        elements[elementName, default: 0] += 1
    }

    func parser(_ parser: XMLParser, parseErrorOccurred parseError: any Error) {
        error = "\(parseError) at line \(parser.lineNumber), column \(parser.columnNumber)"
    }
}

@Suite("Reports: report.md and report.html")
struct ReportTests {
    @Test func markdownHasHostFactsOneRowPerPointAndFlags() throws {
        let result = ReportSamples.run()
        let markdown = MarkdownReport(result).render()
        #expect(markdown.hasPrefix("# ZManager load test: sample\n"))
        for fact in ["| cores | 2 |", "| memory | 24 GiB |", "| kernel | 6.18.44 |", "| libzmq | 4.3.4 |", "| Swift | 6.3.1 |",
                     "| allocator | jemalloc 5.3.0 |", "| git revision | 9e2424c5a973 |", "| load average (1 min) start → end | 1.00 → 1.20 |"] {
            #expect(markdown.contains(fact), "host fact \(fact)")
        }
        #expect(!markdown.contains("Warning"), "a load of 1.0-1.2 on 2 cores is unremarkable")
        let header = "| point | transport | deployment | workers | payload | load | msg/s | MB/s | p50 | p99 | p99.99 | max | "
            + "p99 uncorr. | lost | dup | reord | err | thr ÷ bare | p50 ÷ bare | p99 ÷ bare | target rate |"
        #expect(markdown.contains(header))
        let lines = markdown.split(separator: "\n").map(String.init)
        for point in result.points {
            // Once in the points table, once in the calibration table.
            #expect(lines.filter { $0.hasPrefix("| \(point.id) |") }.count == 2, "rows of \(point.id)")
        }
        let ipc = try #require(lines.first { $0.hasPrefix("| transport=ipc,workers=1,payload=64,load=closed-100 |") })
        #expect(ipc.contains("| ipc | threads | 1 | 64 B | closed 100 | 800k |"))
        #expect(ipc.contains("| 100 µs | 400 µs | 1.2 ms | 1.6 ms | 400 µs |"), "p50, p99, p99.99, max corrected; p99 uncorrected")
        #expect(ipc.contains("| 0.90 | 1.11 | 1.25 | n/a |"), "ratios, then no target for a closed loop")

        let unreached = try #require(lines.first { $0.hasPrefix("| transport=tcp,workers=2,payload=64,load=open-100000 |") })
        #expect(unreached.contains("**⚠ NOT REACHED: 41k/s of 100k/s**"))
        let reached = try #require(lines.first { $0.hasPrefix("| transport=tcp,workers=2,payload=64,load=open-10000 |") })
        #expect(reached.contains("| reached (10k/s) |"))
        let lossy = try #require(lines.first { $0.hasPrefix("| transport=ipc,workers=2,payload=64,load=closed-100 |") })
        #expect(lossy.contains("| **⚠ 12** |"), "lost messages stand out")

        #expect(markdown.contains("## Notes"))
        #expect(markdown.contains("Target rate NOT reached"))
        #expect(markdown.contains("`transport=tcp,workers=2,payload=64,load=open-100000` (NOT REACHED: 41k/s of 100k/s)"))
        #expect(markdown.contains("lost 12"))
        #expect(markdown.contains("p000-zmanager-*.hgrm (2 files)"))
    }

    @Test func loadAverageWarnings() {
        let busy = MarkdownReport(ReportSamples.run(load: (2.1, 2.5))).render()
        #expect(busy.contains("> **⚠ Warning:** load average 2.10 → 2.50 reached the 2 cores"))
        let idle = MarkdownReport(ReportSamples.run(load: (0.05, 0.3))).render()
        #expect(idle.contains("> **⚠ Warning:** the machine was idle (load average 0.05 → 0.30 on 2 cores)"))
        #expect(idle.contains("2-5× worse"))
        #expect(LoadAssessment(host: ReportSamples.run(load: (0.6, 1.9)).host).condition == .normal)
        #expect(LoadAssessment(host: ReportSamples.run(load: (0.6, 1.9)).host, idleLoadPerCore: 1).condition == .idle)
        #expect(HTMLReport(ReportSamples.run(load: (2.1, 2.5))).render().contains("<p class=\"warning\">"))
    }

    @Test func htmlIsSelfContainedAndWellFormed() throws {
        let html = HTMLReport(ReportSamples.run()).render()
        #expect(WellFormedness.check("<svg><g></svg>").error != nil, "the checker catches unbalanced tags")
        let checked = WellFormedness.check(html)
        #expect(checked.error == nil, "XML parse: \(checked.error ?? "")")
        #expect(ReportSamples.occurrences(of: "<svg", in: html) == ReportSamples.occurrences(of: "</svg>", in: html))
        #expect(ReportSamples.occurrences(of: "<table", in: html) == ReportSamples.occurrences(of: "</table>", in: html))
        #expect(ReportSamples.occurrences(of: "<table", in: html) == 4, "host, points, calibration, CPU per stage")
        #expect(checked.elements["svg", default: 0] >= 3)
        for external in ["<script", "src=", "<link", "url(", "@import"] {
            #expect(!html.contains(external), "no external asset or script: \(external)")
        }
        let links = html.components(separatedBy: "http").dropFirst().map { $0.prefix(30) }
        #expect(links.allSatisfy { $0.hasPrefix("://www.w3.org/2000/svg\"") }, "only the SVG namespace: \(links)")
    }

    @Test func htmlDrawsOnePercentileCurvePerPointAndTheOtherCharts() throws {
        let result = ReportSamples.run()
        let html = HTMLReport(result).render()
        #expect(ReportSamples.occurrences(of: "<polyline class=\"curve corrected\"", in: html) == result.points.count)
        #expect(ReportSamples.occurrences(of: "<polyline class=\"curve uncorrected\"", in: html) == result.points.count)
        #expect(html.contains("stroke-dasharray=\"6 4\""), "uncorrected curves are dashed")
        // Throughput vs. workers: one ZManager and one bare line per transport (closed loop only).
        #expect(ReportSamples.occurrences(of: "<polyline class=\"throughput zmanager\"", in: html) == 2)
        #expect(ReportSamples.occurrences(of: "<polyline class=\"throughput bare\"", in: html) == 2)
        // Rate vs. latency: the tcp open-loop points, p50 and p99, the unreached one ringed twice.
        #expect(ReportSamples.occurrences(of: "<polyline class=\"rate p50\"", in: html) == 1)
        #expect(ReportSamples.occurrences(of: "<polyline class=\"rate p99\"", in: html) == 1)
        #expect(ReportSamples.occurrences(of: "stroke=\"#d00000\"", in: html) == 2)
        // The bare calibration on both: a dotted curve per calibrated point, a dotted p99 on the
        // rate chart, whose x is the delivered rate.
        #expect(ReportSamples.occurrences(of: "<polyline class=\"curve bare\"", in: html) == result.points.filter { $0.bare != nil }.count)
        #expect(ReportSamples.occurrences(of: "<polyline class=\"rate bare p99\"", in: html) == 1)
        #expect(html.contains(">delivered rate (msg/s received)</text>"))
        #expect(html.contains("41k/s delivered, 41k/s sent (target 100k/s), p50 900 µs — target rate NOT reached"))
        // The percentile axis runs from 0 % to max on HdrHistogram's scale.
        for label in [">0%<", ">90%<", ">99%<", ">99.9%<", ">99.99%<", ">max<"] { #expect(html.contains(label), "\(label)") }
        // The same table as the markdown, the unreached target flagged.
        #expect(html.contains("<td class=\"wrap\">transport=tcp,<wbr/>workers=2,<wbr/>payload=64,<wbr/>load=open-100000</td>"))
        #expect(html.contains("<td class=\"alert\">⚠ NOT REACHED: 41k/s of 100k/s</td>"))
        #expect(html.contains("<td class=\"num alert\">⚠ 12</td>"))
        for column in PointTable.columns { #expect(html.contains(">\(HTML.escape(column.header))</th>")) }
    }

    /// A knee-search point: ZManager's knee at 300k, bare's at 400k, one probe each missed.
    static func kneeRun() -> RunResult {
        var result = ReportSamples.run()
        var point = ReportSamples.point(transport: "ipc", workers: 2, rate: 300_000)
        point.id = "transport=ipc,slo=p99:1ms"
        point.parameters.loadModel = "search p99<=1ms"
        point.parameters.inFlight = nil
        func probe(_ rate: Double, _ value: UInt64, _ repeats: Int = 1) -> KneeProbe {
            KneeProbe(rate: rate, achievedRate: rate, percentileNanoseconds: value, values: Array(repeating: value, count: repeats),
                      lost: 0, errors: 0, targetRateReached: true, passed: value <= 1_000_000,
                      reason: value <= 1_000_000 ? nil : "p99 \(Format.nanoseconds(Double(value))) > 1 ms")
        }
        let z = KneeSearchResult(status: .found, knee: 300_000, failingRate: 312_000, ceiling: 500_000, lowest: 5_000, highest: 500_000,
                                 probes: [probe(5_000, 90_000), probe(500_000, 80_000_000), probe(300_000, 950_000, 2), probe(312_000, 1_400_000)])
        let b = KneeSearchResult(status: .atHighest, knee: 400_000, failingRate: nil, ceiling: 400_000, lowest: 4_000, highest: 400_000,
                                 probes: [probe(4_000, 60_000), probe(400_000, 700_000)])
        point.knee = KneeResult(percentile: 99, sloNanoseconds: 1_000_000, zmanager: z, bare: b)
        result.points.append(point)
        return result
    }

    @Test func aKneeSearchGetsItsChartAndTable() throws {
        let result = Self.kneeRun()
        let html = HTMLReport(result).render()
        let checked = WellFormedness.check(html)
        #expect(checked.error == nil, "XML parse: \(checked.error ?? "")")
        // One probe line per pipeline, the SLO, and a vertical marker at each knee.
        #expect(ReportSamples.occurrences(of: "<polyline class=\"knee probes\"", in: html) == 2)
        #expect(ReportSamples.occurrences(of: "<polyline class=\"knee slo\"", in: html) == 1)
        #expect(ReportSamples.occurrences(of: "<polyline class=\"knee marker\"", in: html) == 2)
        #expect(html.contains("<title>ZManager knee: 300k msg/s</title>") && html.contains("<title>bare knee: 400k msg/s</title>"))
        #expect(html.contains("ZManager at 312k/s (sent 312k/s): p99 1.4 ms, MISSED: p99 1.4 ms &gt; 1 ms"))
        #expect(html.contains("ZManager at 300k/s (sent 300k/s): p99 950 µs (median of 2), within the SLO"))
        // The search point is neither closed nor open loop: the throughput and rate charts leave it out.
        let search = try #require(result.points.last?.parameters)
        #expect(PointText.isSearch(search) && !PointText.isClosedLoop(search) && !PointText.isOpenLoop(search))
        #expect(ChartBuilder(runs: [ReportRun(result)]).throughputCharts().flatMap(\.lines).allSatisfy { line in
            line.points.allSatisfy { $0.tooltip?.contains("slo=") != true }
        })
        // The knees table: statuses and the ratio, an unsettled search flagged.
        #expect(html.contains("<h3>Knees</h3>"))
        #expect(html.contains(">0.75</td>"))
        #expect(html.contains("⚠ Z: found (300k–312k/s); B: met at the highest rate 400k/s (the closed-loop ceiling)"))
        let markdown = MarkdownReport(result).render()
        #expect(markdown.contains("## Knees: sustainable rate under the SLO"))
        #expect(markdown.contains("| transport=ipc,slo=p99:1ms | ipc | p99 ≤ 1 ms | 300k | ≥ 400k | 0.75 | 5/2 |"), "\(markdown)")
        // A run without search points has no knees table and says how to get the chart.
        let plain = HTMLReport(ReportSamples.run()).render()
        #expect(!plain.contains("<h3>Knees</h3>") && plain.contains("No knee-search points"))
        #expect(!MarkdownReport(ReportSamples.run()).render().contains("Knees"))
    }

    @Test func theIntervalSeriesIsDrawnOverTimePerPoint() throws {
        var result = ReportSamples.run()
        func series(_ rates: [Int], lostAt: Int? = nil) -> [IntervalSample] {
            rates.enumerated().map { index, received in
                IntervalSample(startSeconds: Double(index), seconds: index == rates.count - 1 ? 0.1 : 1, sent: received,
                               received: received, p50Nanoseconds: 100_000, p90Nanoseconds: 200_000,
                               p99Nanoseconds: UInt64(300_000 + index * 100_000), maxNanoseconds: 900_000,
                               errors: 0, unanswered: index == lostAt ? 5 : 0)
            }
        }
        result.points[0].zmanager.intervals = series([1000, 2000, 3000, 40], lostAt: 1)
        result.points[0].bare?.intervals = series([1500, 2500, 3500, 10])
        let html = HTMLReport(result).render()
        #expect(WellFormedness.check(html).error == nil)
        #expect(html.contains("<h2 id=\"over-time\">Over time</h2>"))
        // One point has a series: a rate and a latency chart, each with ZManager and bare.
        #expect(ReportSamples.occurrences(of: "<details class=\"series\" open=\"open\">", in: html) == 1)
        #expect(ReportSamples.occurrences(of: "<polyline class=\"series rate\"", in: html) == 2)
        #expect(ReportSamples.occurrences(of: "<polyline class=\"series p99\"", in: html) == 2)
        // The 0.1 s tail is left off the rate line but not off the latency lines.
        let builder = ChartBuilder(runs: [ReportRun(result)])
        let charts = try #require(builder.timeSeries().first)
        #expect(charts.rate.lines[0].points.map(\.y) == [1000, 2000, 3000])
        #expect(charts.rate.lines[0].points.map(\.flagged) == [false, true, false])
        #expect(charts.latency.lines[1].points.count == 4)
        #expect(html.contains("ZManager 1–2 s: 2k msg/s received, 2000 sent, 5 unanswered"))
        #expect(HTMLReport(ReportSamples.run()).render().contains("No interval series recorded."))
    }

    @Test func throughputPointsCarryTheirRepeatSpreadAndStagesGetAChart() throws {
        var result = ReportSamples.run()
        // Closed-loop points have 5 repeats (±4 %): one error bar per ZManager point; the bare
        // side has no repeats here, so none.
        let closed = result.points.filter { $0.parameters.targetRate == nil }
        var html = HTMLReport(result).render()
        #expect(ReportSamples.occurrences(of: "<g class=\"errorbar\"", in: html) == closed.count)
        #expect(!html.contains("class=\"chart stage-cpu\""), "no stages measured: no stage chart")
        #expect(html.contains("No CPU per stage was measured."))
        // Stages on the first point: a chart with a bar per pipeline, a segment per stage.
        result.points[0].zmanager.stages = [StageCPUUsage(stage: "subject", cpuMicrosecondsPerMessage: 1.2, threads: 1),
                                            StageCPUUsage(stage: "worker", cpuMicrosecondsPerMessage: 1.5, threads: 2),
                                            StageCPUUsage(stage: "integration-manager", cpuMicrosecondsPerMessage: 0.8, threads: 1)]
        result.points[0].bare?.stages = [StageCPUUsage(stage: "subject", cpuMicrosecondsPerMessage: 0.4, threads: 1),
                                         StageCPUUsage(stage: "worker", cpuMicrosecondsPerMessage: 0.5, threads: 2)]
        html = HTMLReport(result).render()
        #expect(ReportSamples.occurrences(of: "class=\"chart stage-cpu\"", in: html) == 1)
        #expect(ReportSamples.occurrences(of: "<rect class=\"stage\"", in: html) == 5)
        let first = result.points[0].parameters
        let workers = first.workers == 2 ? "" : ", \(first.workers) worker\(first.workers == 1 ? "" : "s")"
        #expect(html.contains("\(first.transport), \(first.deployment)\(workers) · ZManager: worker 1.50 µs per message"))
        #expect(html.contains(">3.50</text>"), "the ZManager bar's total")
        #expect(WellFormedness.check(html).error == nil, "\(WellFormedness.check(html).error ?? "")")
    }

    @Test func curvesFallBackToThePercentilesAndEscapeText() throws {
        var result = RunResultTests.sample()
        result.points[0].id = "odd <id> & \"quotes\""
        result.points[0].zmanager = ReportSamples.measurement(rate: 10, p50: 2_000, p99: 9_000, curve: false)
        let html = HTMLReport(result).render()
        #expect(WellFormedness.check(html).error == nil)
        #expect(html.contains("odd &lt;id&gt; &amp; &quot;quotes&quot;"))
        #expect(ReportSamples.occurrences(of: "<polyline class=\"curve corrected\"", in: html) == 1)
        let curve = ChartBuilder.curve(result.points[0].zmanager.latency)
        #expect(curve.map(\.percentile) == [0, 50, 90, 99, 99.9, 99.99, 100])
    }

    @Test func flatTailOfTheCurveIsTrimmed() {
        let latency = LatencySummary(count: 10, min: 1, mean: 2, p50: 2, p90: 3, p99: 5, p999: 5, p9999: 5, max: 5, curve: [
            .init(percentile: 0, nanoseconds: 1), .init(percentile: 50, nanoseconds: 2), .init(percentile: 99, nanoseconds: 5),
            .init(percentile: 99.9, nanoseconds: 5), .init(percentile: 99.99, nanoseconds: 5), .init(percentile: 100, nanoseconds: 5),
        ])
        #expect(ChartBuilder.curve(latency).map(\.percentile) == [0, 50, 99, 100])
        // A curve that stops short of 100 % ends at the recorded maximum.
        var short = latency
        short.curve.removeLast(3)
        short.max = 7
        #expect(ChartBuilder.curve(short).map(\.percentile) == [0, 50, 99, 100])
        #expect(ChartBuilder.curve(short).last?.nanoseconds == 7)
    }

    @Test func percentileAxisLabels() {
        let withMaximum = ChartAxis.percentile(maxFinite: 10_000, hasMaximum: true)
        #expect(withMaximum.ticks.map(\.label) == ["0%", "90%", "99%", "99.9%", "99.99%", "max"])
        #expect(withMaximum.upper == 100_000)
        #expect(ChartAxis.percentile(maxFinite: 40, hasMaximum: false).ticks.map(\.label) == ["0%", "90%", "99%"])
        let latency = ChartAxis.logarithmic([45_000, 3_100_000], title: "latency") { Format.nanoseconds($0) }
        #expect(latency.lower == 20_000 && latency.upper == 5_000_000)
        #expect(latency.ticks.map(\.label) == ["20 µs", "50 µs", "100 µs", "200 µs", "500 µs", "1 ms", "2 ms", "5 ms"])
        let rate = ChartAxis.linearFromZero([0, 730_000], title: "rate") { Format.rate($0) }
        #expect(rate.ticks.map(\.label) == ["0", "200k", "400k", "600k", "800k"])
    }

    @Test func formats() {
        #expect(Format.nanoseconds(850) == "850 ns")
        #expect(Format.nanoseconds(12_345) == "12.3 µs")
        #expect(Format.nanoseconds(1_250_000) == "1.25 ms")
        #expect(Format.nanoseconds(2_000_000_000) == "2 s")
        #expect(Format.rate(950) == "950")
        #expect(Format.rate(45_600) == "45.6k")
        #expect(Format.rate(1_234_567) == "1.23M")
        #expect(Format.bytes(65_536) == "64 KiB")
        #expect(Format.percentChange(-0.3) == "-30.0 %")
        #expect(Format.percentChange(0.032) == "+3.2 %")
        #expect(Format.percentChange(0) == "±0.0 %")
        #expect(Format.percentChange(nil) == "—")
    }

    @Test func overlayShowsEveryRunOnTheSameCharts() throws {
        let first = ReportSamples.run()
        var second = ReportSamples.run(startedAt: "2026-11-29T11:00:00Z")
        second.points.removeLast()
        let runs = ReportRun.labelled([first, second])
        #expect(runs.map(\.label) == ["sample @9e2424c 2026-11-29T10:00:00Z", "sample @9e2424c 2026-11-29T11:00:00Z"])
        #expect(ReportRun.labelled([first, first]).map(\.label).allSatisfy { $0.hasSuffix("#1") || $0.hasSuffix("#2") })

        let markdown = MarkdownReport(runs: runs).render()
        #expect(markdown.hasPrefix("# ZManager load tests: 2 runs overlaid\n"))
        #expect(markdown.contains("## Run 1: sample @9e2424c 2026-11-29T10:00:00Z"))
        #expect(markdown.contains("## Run 2: sample @9e2424c 2026-11-29T11:00:00Z"))

        let html = HTMLReport(runs: runs).render()
        #expect(WellFormedness.check(html).error == nil)
        let curves = ReportSamples.occurrences(of: "<polyline class=\"curve corrected\"", in: html)
        #expect(curves == first.points.count + second.points.count)
        // One latency chart per point id, a line per run; legends name the runs.
        #expect(ReportSamples.occurrences(of: "<figcaption>transport=", in: html) == first.points.count)
        #expect(html.contains("run 1: sample @9e2424c 2026-11-29T10:00:00Z"))
        #expect(html.contains("run 2 · closed · 100 in flight"), "throughput legend by run")
        #expect(html.contains("<th>run 1</th><th>run 2</th>"), "host facts side by side")
    }

    @Test func writesBothReportsAndFindsResults() throws {
        let root = try ReportSamples.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let older = root.appendingPathComponent("sample/2026-11-29T10-00-00Z")
        let newer = root.appendingPathComponent("sample/2026-11-29T11-00-00Z")
        try ReportSamples.writeJSON(ReportSamples.run(), to: older.appendingPathComponent("result.json"))
        try ReportSamples.writeJSON(ReportSamples.run(startedAt: "2026-11-29T11:00:00Z"), to: newer.appendingPathComponent("result.json"))

        #expect(try ResultLocator.resolve(older.path).lastPathComponent == "result.json")
        #expect(try ResultLocator.resolve(root.appendingPathComponent("sample").path).deletingLastPathComponent().lastPathComponent
                == "2026-11-29T11-00-00Z", "a scenario directory means its newest run")
        let loaded = try ResultLocator.load(older.appendingPathComponent("result.json").path)
        #expect(loaded.result == ReportSamples.run())
        #expect(throws: ResultLoadingError.self) { try ResultLocator.load(root.appendingPathComponent("nothing").path) }
        #expect(throws: ResultLoadingError.self) { try ResultLocator.load(root.path) }
        try Data("{\"schemaVersion\": 1}".utf8).write(to: root.appendingPathComponent("bad.json"))
        do {
            _ = try ResultLocator.load(root.appendingPathComponent("bad.json").path)
            Issue.record("a result.json without its keys loaded")
        } catch let error as ResultLoadingError {
            #expect(error.description.contains("missing key 'scenario'"), "\(error)")
        }

        let written = try ReportFiles.write(loaded.result, to: older)
        #expect(written.map(\.lastPathComponent) == ["report.md", "report.html"])
        for url in written { #expect(FileManager.default.fileExists(atPath: url.path)) }
    }
}
