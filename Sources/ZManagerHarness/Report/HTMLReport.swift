public import Foundation

/// `report.html`: one self-contained page (inline CSS and SVG, no script, no external asset) with
/// the host facts, the charts and the tables of `report.md`. This file lays out the sections;
/// each chart has a file of its own, drawn by ``ChartBuilder`` with the primitives of
/// `Chart.swift`:
/// - `LatencyChart.swift`: latency percentile curves, corrected, uncorrected and bare;
/// - `ThroughputChart.swift`: throughput against workers, closed-loop points;
/// - `RateChart.swift`: delivered rate against latency, open-loop points;
/// - `KneeChart.swift`: a knee search's probes, its SLO and knees, and the knees table;
/// - `TimeSeriesChart.swift`: each point's interval series over time;
/// - `StageCPUChart.swift`: CPU per message per stage.
///
/// The document is well-formed XML as well as HTML, so tests can parse it.
public struct HTMLReport: Sendable {
    public var runs: [ReportRun]

    public init(_ result: RunResult) {
        self.runs = [ReportRun(result)]
    }

    public init(runs: [ReportRun]) {
        self.runs = runs
    }

    public func render() -> String {
        let overlay = runs.count > 1
        let title = overlay
            ? "ZManager load tests: \(runs.count) runs overlaid"
            : "ZManager load test: \(runs.first?.result.scenario ?? "no run")"
        var html = """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8"/>
            <meta name="viewport" content="width=device-width, initial-scale=1"/>
            <title>\(HTML.escape(title))</title>
            <style>\(Self.style)</style>
            </head>
            <body>
            <h1>\(HTML.escape(title))</h1>

            """
        html += header()
        html += hostSection()
        let charts = ChartBuilder(runs: runs)
        html += chartSection(id: "latency", title: "Latency percentiles",
                             key: "Solid: corrected (from the intended send time). Dashed: uncorrected (from the actual send time). "
                                + "Dotted: the bare topology's corrected curve, the physical limit of the same hops. "
                                + "x: percentile on a log scale, y: latency on a log scale.",
                             charts: charts.latencyCharts(), empty: "No latency recorded.")
        let singleWorkerCount = charts.closedLoopWorkerCounts.count == 1
        html += chartSection(id: "throughput", title: "Throughput vs. workers",
                             key: "Closed-loop points. Solid: ZManager. Dashed, hollow markers: the bare libzmq pipeline of the same run. "
                                + "Vertical bars: lowest to highest of the repeats."
                                + (singleWorkerCount ? " Every point ran with the same worker count: sweep topology.workers in the "
                                   + "scenario's matrix to see scaling (with a CPU-costly handler, on 2 cores)." : ""),
                             charts: charts.throughputCharts(),
                             empty: "No closed-loop points: throughput vs. workers needs closed-loop load.")
        html += chartSection(id: "rate", title: "Rate vs. latency",
                             key: "Open-loop points, corrected latency against the delivered rate (answers per second). "
                                + "Solid: p50. Dashed: p99. Dotted, hollow squares: the bare topology's p99 at the same target rate. "
                                + "A red ring marks a point whose target rate was NOT reached.",
                             charts: charts.rateCharts(),
                             empty: "No open-loop points: rate vs. latency needs open-loop load (a target rate).")
        html += chartSection(id: "knee", title: "Sustainable rate under the SLO (knee search)",
                             key: "Knee-search points: the SLO's percentile of the corrected latency at each probed rate. "
                                + "Solid: ZManager. Dashed, hollow markers: the bare libzmq pipeline, probed interleaved. "
                                + "Grey: the SLO. Dotted verticals: each pipeline's knee, the highest rate that met it. "
                                + "A red ring marks a probe that missed (latency, rate not reached or messages lost).",
                             charts: charts.kneeCharts(),
                             empty: "No knee-search points: load.model: search finds the highest rate within an SLO.")
        html += kneeTables()
        html += timeSeriesSection(charts.timeSeries())
        html += stageSection()
        html += tableSections()
        html += "</body>\n</html>\n"
        return html
    }

    // MARK: Sections

    private func header() -> String {
        var html = ""
        if runs.count > 1 {
            html += "<ol class=\"runs\">\n"
            for (index, run) in runs.enumerated() {
                html += "<li>\(ChartBuilder.swatch(color: Palette.color(index), dash: nil, marker: nil)) "
                    + "\(HTML.escape(run.label)): \(summary(run.result))</li>\n"
            }
            html += "</ol>\n"
        } else if let run = runs.first {
            html += "<p class=\"meta\">\(summary(run.result))</p>\n"
        }
        return html
    }

    private func summary(_ result: RunResult) -> String {
        "scenario <code>\(HTML.escape(result.scenarioFile))</code> (sha256 <code>\(HTML.escape(String(result.scenarioHash.prefix(16))))</code>), "
            + "started \(HTML.escape(result.startedAt)), \(HTML.escape(Format.duration(result.durationSeconds))), "
            + "\(result.points.count) point\(result.points.count == 1 ? "" : "s"), schema v\(result.schemaVersion)"
    }

    private func hostSection() -> String {
        var html = "<h2 id=\"host\">Host</h2>\n<table class=\"facts\">\n"
        if runs.count > 1 {
            html += "<thead><tr><th></th>" + runs.indices.map { "<th>run \($0 + 1)</th>" }.joined() + "</tr></thead>\n"
        }
        html += "<tbody>\n"
        let rows = runs.map { HostTable.rows($0.result.host) }
        for (index, (name, _)) in (rows.first ?? []).enumerated() {
            html += "<tr><th>\(HTML.escape(name))</th>" + rows.map { "<td>\(HTML.escape($0[index].1))</td>" }.joined() + "</tr>\n"
        }
        html += "</tbody>\n</table>\n"
        for (index, run) in runs.enumerated() {
            if let warning = LoadAssessment(host: run.result.host).warning {
                let which = runs.count > 1 ? "run \(index + 1): " : ""
                html += "<p class=\"warning\"><strong>⚠ Warning:</strong> \(which)\(HTML.escape(warning))</p>\n"
            }
        }
        return html
    }

    private func chartSection(id: String, title: String, key: String, charts: [Chart], empty: String) -> String {
        var html = "<h2 id=\"\(id)\">\(HTML.escape(title))</h2>\n"
        guard !charts.isEmpty else { return html + "<p class=\"key\">\(HTML.escape(empty))</p>\n" }
        html += "<p class=\"key\">\(HTML.escape(key))</p>\n<div class=\"charts\">\n"
        for chart in charts { html += chart.html() }
        return html + "</div>\n"
    }

    /// One collapsible pair of charts per point (open when there are few): the received rate
    /// and the corrected p50 and p99, interval by interval.
    private func timeSeriesSection(_ series: [ChartBuilder.TimeSeries]) -> String {
        var html = "<h2 id=\"over-time\">Over time</h2>\n"
        guard !series.isEmpty else { return html + "<p class=\"key\">No interval series recorded.</p>\n" }
        html += "<p class=\"key\">Each point's measure phase (and the drain after it) in intervals of <code>phases.interval</code>: "
            + "answers by the interval they were received in. Solid: ZManager. Dashed, hollow markers: the bare libzmq pipeline. "
            + "A red ring marks an interval with unanswered messages or errors. The last interval ends at the last answer; "
            + "one under a quarter of the length is left off the rate chart.</p>\n"
        let open = series.count <= 4 ? " open=\"open\"" : ""
        for item in series {
            html += "<details class=\"series\"\(open)><summary>\(HTML.escape(item.caption))</summary>\n<div class=\"charts\">\n"
            html += item.rate.html() + item.latency.html() + "</div>\n</details>\n"
        }
        return html
    }

    private func kneeTables() -> String {
        var html = ""
        for (index, run) in runs.enumerated() {
            let rows = KneeTable.rows(run.result)
            guard !rows.isEmpty else { continue }
            html += "<h3>Knees\(runs.count > 1 ? " (run \(index + 1))" : "")</h3>\n"
            html += Self.table(columns: KneeTable.columns, rows: rows, cssClass: "knees")
        }
        return html
    }

    private func stageSection() -> String {
        var html = "<h2 id=\"stages\">CPU per message per stage</h2>\n"
        let charts = runs.enumerated().flatMap { index, run in
            StageCPUChart.charts(run.result, caption: runs.count > 1 ? "run \(index + 1): \(run.label)" : run.result.scenario)
        }
        guard !charts.isEmpty else { return html + "<p class=\"key\">No CPU per stage was measured.</p>\n" }
        html += "<p class=\"key\">CPU µs per message received, from the start of the measure phase to the last measured "
            + "receive, by the threads of each stage (the table below has the figures). Per point: ZManager, then the bare topology.</p>\n"
        return html + charts.map { $0.html() }.joined()
    }

    private func tableSections() -> String {
        var html = "<h2 id=\"points\">Points</h2>\n"
        for (index, run) in runs.enumerated() {
            let result = run.result
            if runs.count > 1 { html += "<h3>Run \(index + 1): \(HTML.escape(run.label))</h3>\n" }
            html += Self.table(columns: PointTable.columns, rows: result.points.map(PointTable.row), cssClass: "points")
            let agents = AgentTable.rows(result)
            if !agents.isEmpty {
                html += "<h3>Load agents\(runs.count > 1 ? " (run \(index + 1))" : "")</h3>\n"
                html += "<p class=\"key\">Each agent measured its own round trips; the totals add their histograms up.</p>\n"
                html += Self.table(columns: AgentTable.columns, rows: agents, cssClass: "agents")
            }
            html += "<h3>Calibration and resources\(runs.count > 1 ? " (run \(index + 1))" : "")</h3>\n"
            html += Self.table(columns: PointTable.resourceColumns, rows: result.points.map(PointTable.resourceRow),
                               cssClass: "resources")
            html += "<h3>CPU per message per stage, µs\(runs.count > 1 ? " (run \(index + 1))" : "")</h3>\n"
            html += Self.table(columns: StageTable.columns(result), rows: StageTable.rows(result), cssClass: "stages")
            html += "<h3>Notes\(runs.count > 1 ? " (run \(index + 1))" : "")</h3>\n<ul class=\"notes\">\n"
            for note in ReportNotes.notes(for: result) {
                html += "<li>\(HTML.withCode(note.text))</li>\n"
            }
            html += "</ul>\n"
        }
        return html
    }

    static func table(columns: [PointTable.Column], rows: [[PointTable.Cell]], cssClass: String) -> String {
        var html = "<div class=\"scroll\">\n<table class=\"\(cssClass)\">\n<thead><tr>"
        for column in columns {
            html += "<th title=\"\(HTML.escape(column.help))\"\(column.numeric ? " class=\"num\"" : "")>\(HTML.escape(column.header))</th>"
        }
        html += "</tr></thead>\n<tbody>\n"
        for row in rows {
            html += "<tr>"
            for (column, cell) in zip(columns, row) {
                var classes: [String] = []
                if column.numeric { classes.append("num") }
                if column.wraps { classes.append("wrap") }
                if cell.alert { classes.append("alert") }
                let classAttribute = classes.isEmpty ? "" : " class=\"\(classes.joined(separator: " "))\""
                let text = HTML.escape(cell.text).replacingOccurrences(of: ",", with: ",<wbr/>")
                html += "<td\(classAttribute)>\(cell.alert ? "⚠ " : "")\(text)</td>"
            }
            html += "</tr>\n"
        }
        return html + "</tbody>\n</table>\n</div>\n"
    }

    static let style = """

        body{font:14px/1.45 "DejaVu Sans",system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#1d1d1f;background:#fff;margin:24px}
        h1{font-size:22px;margin:0 0 6px}
        h2{font-size:18px;margin:30px 0 8px;padding-bottom:4px;border-bottom:1px solid #ddd}
        h3{font-size:15px;margin:18px 0 6px}
        .meta,.key{color:#555}
        .key{font-size:13px;margin:4px 0 10px}
        ol.runs{padding-left:22px}
        ol.runs li{margin:2px 0}
        .warning{background:#fff4e5;border-left:4px solid #e67700;padding:8px 12px;margin:10px 0;max-width:1100px}
        code{font-size:12px;background:#f1f3f5;padding:0 3px;border-radius:3px}
        table{border-collapse:collapse;font-size:12px}
        th,td{border:1px solid #d6d6d6;padding:3px 7px;text-align:left;vertical-align:top}
        th{background:#f1f3f5;font-weight:600}
        td{white-space:nowrap}
        td.wrap{white-space:normal;max-width:24em}
        th.num,td.num{text-align:right}
        td.num{font-variant-numeric:tabular-nums}
        td.alert{background:#fdecea;color:#b00020;font-weight:600}
        tbody tr:nth-child(even) td{background-color:#fafbfc}
        tbody tr:nth-child(even) td.alert{background:#fdecea}
        table.facts td,table.facts th{text-align:left}
        .scroll{overflow-x:auto;max-width:100%}
        details.series{margin:6px 0}
        details.series summary{cursor:pointer;font-weight:600;font-size:13px}
        .charts{display:flex;flex-wrap:wrap;gap:24px}
        figure{margin:0;width:640px;max-width:100%}
        figcaption{font-weight:600;margin:0 0 4px}
        svg.chart{display:block;width:100%;height:auto;font-family:inherit}
        svg.swatch{vertical-align:middle;margin-right:4px}
        ul.legend{list-style:none;margin:6px 0 0;padding:0;font-size:12px}
        ul.legend li{display:inline-block;margin:1px 14px 1px 0;white-space:nowrap}
        ul.notes li{margin:3px 0;max-width:1100px}

        """
}

/// Writes `report.md` and `report.html` for one run or an overlay of several.
public enum ReportFiles {
    public static let markdownName = "report.md"
    public static let htmlName = "report.html"

    /// Writes both reports into `directory` (created if missing) and returns their URLs.
    @discardableResult
    public static func write(_ runs: [ReportRun], to directory: URL) throws -> [URL] {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let markdown = directory.appendingPathComponent(markdownName)
        let html = directory.appendingPathComponent(htmlName)
        try Data(MarkdownReport(runs: runs).render().utf8).write(to: markdown, options: .atomic)
        try Data(HTMLReport(runs: runs).render().utf8).write(to: html, options: .atomic)
        return [markdown, html]
    }

    /// Writes the reports of one run next to its `result.json`.
    @discardableResult
    public static func write(_ result: RunResult, to directory: URL) throws -> [URL] {
        try write([ReportRun(result)], to: directory)
    }
}

// MARK: - HTML text

enum HTML {
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }

    /// Escapes `text`, turning `back-quoted` spans into `<code>`.
    static func withCode(_ text: String) -> String {
        text.split(separator: "`", omittingEmptySubsequences: false).enumerated().map { index, part in
            index % 2 == 1 ? "<code>\(escape(String(part)))</code>" : escape(String(part))
        }.joined()
    }
}
