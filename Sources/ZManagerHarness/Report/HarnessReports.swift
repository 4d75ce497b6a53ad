public import Foundation

/// Writes the human-readable reports of one or more runs into a directory.
public enum HarnessReports {
    /// report.md and report.html for `results` (several runs: an overlay).
    public static func write(results: [RunResult], to directory: URL) throws {
        try ReportFiles.write(ReportRun.labelled(results), to: directory)
    }
}
