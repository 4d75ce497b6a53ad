public import Foundation

/// Writes a run's files under `results/<scenario>/<timestamp>/`: `result.json`,
/// `points.csv`, one `.hgrm` per histogram, and the reports.
public enum ResultWriter {
    /// Creates the run directory and writes everything; returns the directory.
    public static func write(_ output: ScenarioRunner.Output, under root: URL) throws -> URL {
        let stamp = output.result.startedAt.replacingOccurrences(of: ":", with: "-")
        let directory = root.appendingPathComponent(output.result.scenario).appendingPathComponent(stamp)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try writeJSON(output.result, to: directory.appendingPathComponent("result.json"))
        try csv(output.result).write(to: directory.appendingPathComponent("points.csv"), atomically: true, encoding: .utf8)
        for (name, text) in output.histograms {
            try text.write(to: directory.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        return directory
    }

    public static func writeJSON(_ result: RunResult, to url: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(result).write(to: url)
    }

    public static func readJSON(_ url: URL) throws -> RunResult {
        let result = try JSONDecoder().decode(RunResult.self, from: Data(contentsOf: url))
        guard result.schemaVersion == RunResult.currentSchemaVersion else {
            throw HarnessError("\(url.path): result schema version \(result.schemaVersion); this zmanager reads version \(RunResult.currentSchemaVersion)")
        }
        return result
    }

    /// One row per point: parameters, then the ZManager and bare figures and their ratios, then
    /// a knee search's knees (empty for other points).
    public static func csv(_ result: RunResult) -> String {
        let header = [
            "id", "transport", "deployment", "workers", "payload_bytes", "flow", "handler", "load", "in_flight", "target_rate",
            "sent", "received", "lost", "duplicated", "reordered", "errors", "msg_per_s", "mb_per_s", "target_rate_reached",
            "p50_us", "p90_us", "p99_us", "p999_us", "p9999_us", "max_us", "uncorrected_p50_us", "uncorrected_p99_us",
            "cpu_us_per_msg", "peak_rss_bytes", "bare_msg_per_s", "bare_p50_us", "bare_p99_us",
            "ratio_throughput", "ratio_p50", "ratio_p99", "knee_msg_per_s", "bare_knee_msg_per_s", "knee_ratio",
        ]
        var lines = [header.joined(separator: ",")]
        func us(_ ns: UInt64) -> String { String(format: "%.1f", Double(ns) / 1000) }
        for point in result.points {
            let p = point.parameters, z = point.zmanager
            let row: [String] = [
                "\"\(point.id)\"", p.transport, p.deployment, "\(p.workers)", "\(p.payloadSize)", p.flow, "\"\(p.handler)\"",
                p.loadModel, p.inFlight.map(String.init) ?? "", p.targetRate.map { String(format: "%.0f", $0) } ?? "",
                "\(z.sent)", "\(z.received)", "\(z.lost)", "\(z.duplicated)", "\(z.reordered)", "\(z.errors)",
                String(format: "%.0f", z.messagesPerSecond), String(format: "%.2f", z.megabytesPerSecond),
                z.targetRateReached.map { $0 ? "yes" : "no" } ?? "",
                us(z.latency.p50), us(z.latency.p90), us(z.latency.p99), us(z.latency.p999), us(z.latency.p9999), us(z.latency.max),
                us(z.uncorrectedLatency.p50), us(z.uncorrectedLatency.p99),
                String(format: "%.2f", z.cpuMicrosecondsPerMessage), "\(z.peakRSSBytes)",
                point.bare.map { String(format: "%.0f", $0.messagesPerSecond) } ?? "",
                point.bare.map { us($0.latency.p50) } ?? "", point.bare.map { us($0.latency.p99) } ?? "",
                point.ratios.map { String(format: "%.3f", $0.throughput) } ?? "",
                point.ratios.map { String(format: "%.3f", $0.p50Latency) } ?? "",
                point.ratios.map { String(format: "%.3f", $0.p99Latency) } ?? "",
                point.knee?.zmanager.knee.map { String(format: "%.0f", $0) } ?? "",
                point.knee?.bare?.knee.map { String(format: "%.0f", $0) } ?? "",
                point.knee?.ratio.map { String(format: "%.3f", $0) } ?? "",
            ]
            lines.append(row.joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
