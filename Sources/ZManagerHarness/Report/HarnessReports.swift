public import Foundation

/// Writes the human-readable reports of one or more runs into a directory.
public enum HarnessReports {
    /// report.md and report.html for `results` (several runs: an overlay).
    public static func write(results: [RunResult], to directory: URL) throws {
        // Filled in by the report module; until then a minimal markdown summary.
        var text = "# \(results.map(\.scenario).joined(separator: ", "))\n\n"
        for result in results {
            for point in result.points {
                text += "- \(point.id): \(Int(point.zmanager.messagesPerSecond)) msg/s, p99 \(point.zmanager.latency.p99 / 1000) µs\n"
            }
        }
        try text.write(to: directory.appendingPathComponent("report.md"), atomically: true, encoding: .utf8)
    }
}
