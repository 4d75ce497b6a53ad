public import Foundation

/// `report.html`: one self-contained page (inline CSS and SVG, no script, no external asset) with
/// the host facts, three kinds of chart and the tables of `report.md`.
///
/// Charts:
/// - **latency percentile curves**: x is the percentile on HdrHistogram's log scale
///   (1 / (1 − p), so 90 %, 99 %, 99.9 % … are evenly spaced), y the latency on a log scale;
///   corrected latency solid, uncorrected dashed. One chart per transport (a point per line), or,
///   overlaying several runs, one chart per point (a run per line).
/// - **throughput vs. workers**, per transport, closed-loop points: ZManager solid, bare libzmq dashed.
/// - **rate vs. latency**, per transport, open-loop points: achieved send rate against p50 (solid)
///   and p99 (dashed); a red ring marks a target rate that was not reached.
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
                             key: "Open-loop points, corrected latency. Solid: p50. Dashed: p99. "
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

// MARK: - Charts

/// Series colours, distinguishable on white and for the common colour-vision deficiencies first.
enum Palette {
    static let colors = ["#1f6fb4", "#e3620c", "#2a9d3c", "#c9243f", "#7b4fb8", "#8c564b", "#d6479e", "#12a3b4",
                         "#6b6b6b", "#a4a400"]

    static func color(_ index: Int) -> String { colors[index % colors.count] }
}

enum MarkerShape: Int, CaseIterable, Sendable {
    case circle, square, triangle, diamond, cross

    static func shape(_ index: Int) -> MarkerShape { allCases[index % allCases.count] }

    /// An SVG element centred on (x, y).
    func svg(x: Double, y: Double, color: String, hollow: Bool, title: String?) -> String {
        let fill = hollow ? "#ffffff" : color
        let paint = "fill=\"\(fill)\" stroke=\"\(color)\" stroke-width=\"1.4\""
        let tooltip = title.map { "<title>\(HTML.escape($0))</title>" } ?? ""
        let element: String
        switch self {
        case .circle:
            element = "<circle cx=\"\(SVG.n(x))\" cy=\"\(SVG.n(y))\" r=\"3.6\" \(paint)>\(tooltip)</circle>"
        case .square:
            element = "<rect x=\"\(SVG.n(x - 3.3))\" y=\"\(SVG.n(y - 3.3))\" width=\"6.6\" height=\"6.6\" \(paint)>\(tooltip)</rect>"
        case .triangle:
            element = "<path d=\"M\(SVG.n(x)) \(SVG.n(y - 4.4))L\(SVG.n(x + 4)) \(SVG.n(y + 3))L\(SVG.n(x - 4)) \(SVG.n(y + 3))Z\" \(paint)>\(tooltip)</path>"
        case .diamond:
            element = "<path d=\"M\(SVG.n(x)) \(SVG.n(y - 4.6))L\(SVG.n(x + 4.2)) \(SVG.n(y))L\(SVG.n(x)) \(SVG.n(y + 4.6))L\(SVG.n(x - 4.2)) \(SVG.n(y))Z\" \(paint)>\(tooltip)</path>"
        case .cross:
            element = "<path d=\"M\(SVG.n(x - 3.6)) \(SVG.n(y - 3.6))L\(SVG.n(x + 3.6)) \(SVG.n(y + 3.6))M\(SVG.n(x - 3.6)) \(SVG.n(y + 3.6))L\(SVG.n(x + 3.6)) \(SVG.n(y - 3.6))\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\">\(tooltip)</path>"
        }
        return element
    }
}

enum SVG {
    /// A coordinate with one decimal.
    static func n(_ value: Double) -> String { String(format: "%.1f", value) }
}

struct ChartAxis: Sendable {
    enum Scale: Sendable { case linear, log }

    struct Tick: Sendable {
        var value: Double
        var label: String
    }

    var scale: Scale
    var lower: Double
    var upper: Double
    var ticks: [Tick]
    var title: String

    /// Where `value` falls between `lower` (0) and `upper` (1), clamped.
    func fraction(_ value: Double) -> Double {
        let result: Double
        switch scale {
        case .linear:
            result = upper > lower ? (value - lower) / (upper - lower) : 0.5
        case .log:
            let low = log10(lower), high = log10(upper)
            result = high > low ? (log10(max(value, lower)) - low) / (high - low) : 0.5
        }
        return result.isFinite ? min(max(result, 0), 1) : 0
    }

    /// A log axis over `values` (positive ones) with bounds on the 1-2-5 sequence; decade ticks,
    /// plus 2 and 5 when the axis spans less than three decades.
    static func logarithmic(_ values: [Double], title: String, label: (Double) -> String) -> ChartAxis {
        let positive = values.filter { $0 > 0 && $0.isFinite }
        let low = positive.min() ?? 1, high = positive.max() ?? 10
        let steps: [Double] = [1, 2, 5]
        func below(_ v: Double) -> Double {
            let decade = pow(10, floor(log10(v)))
            return steps.reversed().map { $0 * decade }.first { $0 <= v * 1.000001 } ?? decade
        }
        func above(_ v: Double) -> Double {
            let decade = pow(10, floor(log10(v)))
            return (steps + [10]).map { $0 * decade }.first { $0 >= v * 0.999999 } ?? decade * 10
        }
        var lower = below(low), upper = above(high)
        if upper <= lower { upper = above(lower * 1.5) }
        if upper / lower < 4 { lower = below(lower / 1.5); upper = above(upper * 1.5) }
        let dense = log10(upper / lower) < 3
        var ticks: [Tick] = []
        var decade = pow(10, floor(log10(lower)))
        while decade <= upper * 1.000001 {
            for step in dense ? steps : [1] {
                let value = step * decade
                if value >= lower * 0.999999 && value <= upper * 1.000001 { ticks.append(Tick(value: value, label: label(value))) }
            }
            decade *= 10
        }
        return ChartAxis(scale: .log, lower: lower, upper: upper, ticks: ticks, title: title)
    }

    /// A linear axis from zero to a round number above `values`, about five ticks.
    static func linearFromZero(_ values: [Double], title: String, label: (Double) -> String) -> ChartAxis {
        let high = max(values.filter(\.isFinite).max() ?? 1, 1e-9)
        let raw = high / 5
        let magnitude = pow(10, floor(log10(raw)))
        let step = [1, 2, 2.5, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? 10 * magnitude
        let upper = ceil(high / step * 0.999999) * step
        let ticks = stride(from: 0, through: upper * 1.000001, by: step).map { Tick(value: $0, label: label($0)) }
        return ChartAxis(scale: .linear, lower: 0, upper: upper, ticks: ticks, title: title)
    }

    /// Log axis when the values span more than `ratio`, linear from zero otherwise.
    static func automatic(_ values: [Double], ratio: Double = 10, title: String, label: (Double) -> String) -> ChartAxis {
        let positive = values.filter { $0 > 0 && $0.isFinite }
        if let low = positive.min(), let high = positive.max(), high / low > ratio {
            return logarithmic(positive, title: title, label: label)
        }
        return linearFromZero(values, title: title, label: label)
    }

    /// Integer categories (worker counts): one tick per value, half a step of margin.
    static func discrete(_ values: [Int], title: String) -> ChartAxis {
        let distinct = Set(values).sorted()
        let low = Double(distinct.first ?? 0), high = Double(distinct.last ?? 1)
        let margin = max((high - low) * 0.08, 0.5)
        return ChartAxis(scale: .linear, lower: low - margin, upper: high + margin,
                         ticks: distinct.map { Tick(value: Double($0), label: String($0)) }, title: title)
    }

    /// HdrHistogram's percentile axis: 1 / (1 − p) on a log scale, from 0 % to the highest
    /// percentile plotted, with one more decade labelled "max" when the curves reach 100 %.
    static func percentile(maxFinite: Double, hasMaximum: Bool) -> ChartAxis {
        let decades = max(2, Int(ceil(log10(max(maxFinite, 1)) - 1e-6)))
        let top = hasMaximum ? decades + 1 : decades
        var ticks: [Tick] = []
        for decade in 0...top {
            let label: String
            if hasMaximum && decade == top {
                label = "max"
            } else if decade == 0 {
                label = "0%"
            } else if decade == 1 {
                label = "90%"
            } else {
                label = "99" + (decade > 2 ? "." + String(repeating: "9", count: decade - 2) : "") + "%"
            }
            ticks.append(Tick(value: pow(10, Double(decade)), label: label))
        }
        return ChartAxis(scale: .log, lower: 1, upper: pow(10, Double(top)), ticks: ticks, title: "percentile")
    }
}

struct ChartPoint: Sendable {
    var x: Double
    var y: Double
    var tooltip: String? = nil
    /// Drawn with a red ring (a target rate not reached).
    var flagged: Bool = false
    /// The spread of the repeats (lowest, highest), drawn as a vertical error bar.
    var spread: (low: Double, high: Double)? = nil
}

struct ChartLine: Sendable {
    var points: [ChartPoint]
    var color: String
    var dash: String? = nil
    var width: Double = 2
    var opacity: Double = 1
    var cssClass: String
    var title: String
    var marker: MarkerShape? = nil
    var hollowMarkers: Bool = false
}

struct LegendEntry: Sendable {
    var label: String
    var color: String
    var dash: String? = nil
    var marker: MarkerShape? = nil
}

struct Chart: Sendable {
    static let width = 640.0, height = 380.0
    static let left = 74.0, right = 34.0, top = 14.0, bottom = 50.0

    var caption: String
    var x: ChartAxis
    var y: ChartAxis
    var lines: [ChartLine]
    var legend: [LegendEntry]

    func html() -> String {
        var html = "<figure>\n<figcaption>\(HTML.escape(caption))</figcaption>\n"
        html += svg()
        html += "<ul class=\"legend\">\n"
        for entry in legend {
            html += "<li>\(ChartBuilder.swatch(color: entry.color, dash: entry.dash, marker: entry.marker))\(HTML.escape(entry.label))</li>\n"
        }
        return html + "</ul>\n</figure>\n"
    }

    func svg() -> String {
        let plotWidth = Self.width - Self.left - Self.right
        let plotHeight = Self.height - Self.top - Self.bottom
        func px(_ value: Double) -> Double { Self.left + x.fraction(value) * plotWidth }
        func py(_ value: Double) -> Double { Self.top + (1 - y.fraction(value)) * plotHeight }

        var svg = "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(Int(Self.width)) \(Int(Self.height))\" "
            + "width=\"\(Int(Self.width))\" height=\"\(Int(Self.height))\" role=\"img\" aria-label=\"\(HTML.escape(caption))\">\n"
        svg += "<rect x=\"0\" y=\"0\" width=\"\(Int(Self.width))\" height=\"\(Int(Self.height))\" fill=\"#ffffff\"/>\n"
        // Grid and tick labels.
        svg += "<g font-size=\"11\" fill=\"#444444\">\n"
        for tick in x.ticks {
            let position = px(tick.value)
            svg += "<line x1=\"\(SVG.n(position))\" y1=\"\(SVG.n(Self.top))\" x2=\"\(SVG.n(position))\" y2=\"\(SVG.n(Self.top + plotHeight))\" stroke=\"#e4e4e4\"/>"
            svg += "<text x=\"\(SVG.n(position))\" y=\"\(SVG.n(Self.top + plotHeight + 16))\" text-anchor=\"middle\">\(HTML.escape(tick.label))</text>\n"
        }
        for tick in y.ticks {
            let position = py(tick.value)
            svg += "<line x1=\"\(SVG.n(Self.left))\" y1=\"\(SVG.n(position))\" x2=\"\(SVG.n(Self.left + plotWidth))\" y2=\"\(SVG.n(position))\" stroke=\"#e4e4e4\"/>"
            svg += "<text x=\"\(SVG.n(Self.left - 6))\" y=\"\(SVG.n(position + 4))\" text-anchor=\"end\">\(HTML.escape(tick.label))</text>\n"
        }
        svg += "</g>\n"
        svg += "<rect x=\"\(SVG.n(Self.left))\" y=\"\(SVG.n(Self.top))\" width=\"\(SVG.n(plotWidth))\" height=\"\(SVG.n(plotHeight))\" fill=\"none\" stroke=\"#9a9a9a\"/>\n"
        // Axis titles.
        svg += "<text x=\"\(SVG.n(Self.left + plotWidth / 2))\" y=\"\(SVG.n(Self.height - 10))\" text-anchor=\"middle\" font-size=\"12\" fill=\"#222222\">\(HTML.escape(x.title))</text>\n"
        let middle = Self.top + plotHeight / 2
        svg += "<text x=\"16\" y=\"\(SVG.n(middle))\" transform=\"rotate(-90 16 \(SVG.n(middle)))\" text-anchor=\"middle\" font-size=\"12\" fill=\"#222222\">\(HTML.escape(y.title))</text>\n"
        // Lines, then markers on top.
        for line in lines where !line.points.isEmpty {
            let coordinates = line.points.map { "\(SVG.n(px($0.x))),\(SVG.n(py($0.y)))" }.joined(separator: " ")
            svg += "<polyline class=\"\(line.cssClass)\" points=\"\(coordinates)\" fill=\"none\" stroke=\"\(line.color)\" "
                + "stroke-width=\"\(SVG.n(line.width))\" stroke-linejoin=\"round\" stroke-linecap=\"round\""
                + (line.dash.map { " stroke-dasharray=\"\($0)\"" } ?? "")
                + (line.opacity < 1 ? " stroke-opacity=\"\(SVG.n(line.opacity))\"" : "")
                + "><title>\(HTML.escape(line.title))</title></polyline>\n"
        }
        for line in lines {
            for point in line.points {
                guard let spread = point.spread, spread.high > spread.low else { continue }
                let cx = px(point.x), low = py(spread.low), high = py(spread.high)
                svg += "<g class=\"errorbar\" stroke=\"\(line.color)\" stroke-width=\"1.2\"><title>\(HTML.escape("repeats: \(Format.rate(spread.low))–\(Format.rate(spread.high))"))</title>"
                    + "<line x1=\"\(SVG.n(cx))\" y1=\"\(SVG.n(low))\" x2=\"\(SVG.n(cx))\" y2=\"\(SVG.n(high))\"/>"
                    + "<line x1=\"\(SVG.n(cx - 4))\" y1=\"\(SVG.n(low))\" x2=\"\(SVG.n(cx + 4))\" y2=\"\(SVG.n(low))\"/>"
                    + "<line x1=\"\(SVG.n(cx - 4))\" y1=\"\(SVG.n(high))\" x2=\"\(SVG.n(cx + 4))\" y2=\"\(SVG.n(high))\"/></g>\n"
            }
        }
        for line in lines {
            guard let marker = line.marker else { continue }
            for point in line.points {
                let cx = px(point.x), cy = py(point.y)
                if point.flagged {
                    svg += "<circle cx=\"\(SVG.n(cx))\" cy=\"\(SVG.n(cy))\" r=\"8\" fill=\"none\" stroke=\"#d00000\" stroke-width=\"2\"/>"
                }
                svg += marker.svg(x: cx, y: cy, color: line.color, hollow: line.hollowMarkers, title: point.tooltip) + "\n"
            }
        }
        return svg + "</svg>\n"
    }
}

/// Turns runs into charts.
struct ChartBuilder {
    let runs: [ReportRun]
    /// The parameters that differ between points (over every run): what labels must show.
    let varying: Set<Dimension>

    /// A parameter that tells points apart.
    enum Dimension: CaseIterable, Hashable {
        case transport, deployment, workers, payload, flow, handler, loadModel, inFlight, targetRate, highWaterMark
        case dispatch, handoff, security, flowTimeout

        func value(_ parameters: PointParameters) -> String {
            switch self {
            case .transport: parameters.transport
            case .deployment: parameters.deployment
            case .workers: String(parameters.workers)
            case .payload: PointText.payload(parameters)
            case .flow: parameters.flow
            case .handler: parameters.handler
            case .loadModel: parameters.loadModel
            case .inFlight: parameters.inFlight.map(String.init) ?? "-"
            case .targetRate: parameters.targetRate.map { Format.rate($0) } ?? "-"
            case .highWaterMark: String(parameters.highWaterMark)
            case .dispatch: parameters.dispatch ?? "fast"
            case .handoff: parameters.handoff ?? "rings"
            case .security: parameters.security ?? "none"
            case .flowTimeout: parameters.flowTimeoutSeconds.map { Format.nanoseconds($0 * 1e9) } ?? "off"
            }
        }

        func label(_ parameters: PointParameters) -> String? {
            switch self {
            case .transport: parameters.transport
            case .deployment: parameters.deployment
            case .workers: "\(parameters.workers) worker\(parameters.workers == 1 ? "" : "s")"
            case .payload: PointText.payload(parameters)
            case .flow: "flow \(parameters.flow)"
            case .handler: "handler \(parameters.handler)"
            case .loadModel: parameters.loadModel
            case .inFlight: parameters.inFlight.map { "\($0) in flight" }
            case .targetRate: parameters.targetRate.map { "\(Format.rate($0))/s" }
            case .highWaterMark: "HWM \(parameters.highWaterMark)"
            case .dispatch: "\(parameters.dispatch ?? "fast") dispatch"
            case .handoff: "\(parameters.handoff ?? "rings") handoff"
            case .security: parameters.security ?? "unsecured"
            case .flowTimeout: parameters.flowTimeoutSeconds.map { "flow timeout \(Format.nanoseconds($0 * 1e9))" } ?? "no flow timeout"
            }
        }
    }

    static let maximumLinesPerChart = 8

    init(runs: [ReportRun]) {
        self.runs = runs
        let parameters = runs.flatMap { $0.result.points.map(\.parameters) }
        varying = Set(Dimension.allCases.filter { dimension in Set(parameters.map(dimension.value)).count > 1 })
    }

    var overlay: Bool { runs.count > 1 }

    /// The varying parameters of a point, leaving out `excluded` (what the chart already shows).
    func label(_ point: PointResult, excluding excluded: Set<Dimension>) -> String {
        let parts = Dimension.allCases.filter { varying.contains($0) && !excluded.contains($0) }
            .compactMap { $0.label(point.parameters) }
        if !parts.isEmpty { return parts.joined(separator: " · ") }
        let brief = [Dimension.deployment, .workers, .payload, .loadModel, .inFlight, .targetRate]
            .filter { !excluded.contains($0) }.compactMap { $0.label(point.parameters) }
        return brief.isEmpty ? point.id : brief.joined(separator: " · ")
    }

    /// The worker counts of the closed-loop points.
    var closedLoopWorkerCounts: Set<Int> {
        Set(runs.flatMap { $0.result.points.filter { PointText.isClosedLoop($0.parameters) }.map(\.parameters.workers) })
    }

    func seriesKey(_ point: PointResult, excluding excluded: Set<Dimension>) -> String {
        Dimension.allCases.filter { !excluded.contains($0) }.map { $0.value(point.parameters) }.joined(separator: "\u{1F}")
    }

    /// Values in first-appearance order.
    static func ordered<T: Hashable>(_ values: [T]) -> [T] {
        var seen = Set<T>()
        return values.filter { seen.insert($0).inserted }
    }

    // MARK: Latency percentile curves

    /// (percentile, nanoseconds) of a summary: its curve, or its percentiles when it has none.
    static func curve(_ latency: LatencySummary) -> [(percentile: Double, nanoseconds: Double)] {
        let points: [(percentile: Double, nanoseconds: Double)]
        if latency.curve.isEmpty {
            guard latency.count > 0 || latency.max > 0 else { return [] }
            points = [(0, Double(latency.min)), (50, Double(latency.p50)), (90, Double(latency.p90)), (99, Double(latency.p99)),
                      (99.9, Double(latency.p999)), (99.99, Double(latency.p9999)), (100, Double(latency.max))]
        } else {
            points = latency.curve.map { (Swift.min(Swift.max($0.percentile, 0), 100), Double($0.nanoseconds)) }
                // The iteration may stop short of 100 %: end the curve at the recorded maximum.
                + (latency.curve.contains { $0.percentile >= 100 } || latency.max == 0 ? [] : [(100, Double(latency.max))])
        }
        let sorted = points.sorted { $0.percentile < $1.percentile }
        // HdrHistogram's iteration keeps halving the distance to 100 % after the maximum is
        // reached: a flat tail that only stretches the axis. Keep the first point at the maximum,
        // and the 100 % point.
        guard let maximum = sorted.map(\.nanoseconds).max(),
              let first = sorted.firstIndex(where: { $0.nanoseconds >= maximum }) else { return sorted }
        var trimmed = Array(sorted[...first])
        if let last = sorted.last, last.percentile >= 100, trimmed.last?.percentile != last.percentile { trimmed.append(last) }
        return trimmed
    }

    static func loadKind(_ parameters: PointParameters) -> String {
        PointText.isSearch(parameters) ? "knee search" : PointText.isOpenLoop(parameters) ? "open loop" : "closed loop"
    }

    static func percentileX(_ percentile: Double, maximumX: Double) -> Double {
        percentile >= 100 ? maximumX : 1 / (1 - percentile / 100)
    }

    struct CurveSeries {
        var label: String
        var color: String
        var point: PointResult
        var width: Double = 2
    }

    /// Overlaid runs draw thinner and thinner lines, so that equal curves still show every run's colour.
    static func overlayWidth(run: Int) -> Double {
        Swift.max(1.2, 3.4 - 0.8 * Double(run))
    }

    func latencyCharts() -> [Chart] {
        var charts: [Chart] = []
        if overlay {
            let ids = Self.ordered(runs.flatMap { $0.result.points.map(\.id) })
            for id in ids {
                let series = runs.enumerated().compactMap { index, run -> CurveSeries? in
                    guard let point = run.result.points.first(where: { $0.id == id }) else { return nil }
                    return CurveSeries(label: "run \(index + 1): \(run.label)", color: Palette.color(index), point: point,
                                       width: Self.overlayWidth(run: index))
                }
                charts.append(latencyChart(caption: id, series: series))
            }
        } else if let run = runs.first {
            // One chart per transport and load model (closed, open), at most 8 lines each.
            let points = run.result.points
            let groups = Self.ordered(points.map { [$0.parameters.transport, Self.loadKind($0.parameters)] })
            let splitByLoad = Set(points.map { Self.loadKind($0.parameters) }).count > 1
            for key in groups {
                let group = points.filter { [$0.parameters.transport, Self.loadKind($0.parameters)] == key }
                let title = splitByLoad ? "\(key[0]) · \(key[1])" : key[0]
                let chunks = stride(from: 0, to: group.count, by: Self.maximumLinesPerChart).map {
                    Array(group[$0..<Swift.min($0 + Self.maximumLinesPerChart, group.count)])
                }
                for (chunkIndex, chunk) in chunks.enumerated() {
                    let series = chunk.enumerated().map { index, point in
                        CurveSeries(label: label(point, excluding: splitByLoad ? [.transport, .loadModel] : [.transport]),
                                    color: Palette.color(index), point: point)
                    }
                    let part = chunks.count > 1 ? " (\(chunkIndex + 1)/\(chunks.count))" : ""
                    charts.append(latencyChart(caption: "\(title)\(part)", series: series))
                }
            }
        }
        return charts
    }

    private func latencyChart(caption: String, series: [CurveSeries]) -> Chart {
        let curves = series.map { (Self.curve($0.point.zmanager.latency), Self.curve($0.point.zmanager.uncorrectedLatency)) }
        let all = curves.flatMap { $0.0 + $0.1 }
        let finite = all.filter { $0.percentile < 100 }.map { Self.percentileX($0.percentile, maximumX: 1) }
        let hasMaximum = all.contains { $0.percentile >= 100 }
        let xAxis = ChartAxis.percentile(maxFinite: finite.max() ?? 100, hasMaximum: hasMaximum)
        let yAxis = ChartAxis.logarithmic(all.map(\.nanoseconds), title: "latency") { Format.nanoseconds($0) }
        var lines: [ChartLine] = []
        var legend: [LegendEntry] = []
        for (entry, (corrected, uncorrected)) in zip(series, curves) {
            func chartPoints(_ curve: [(percentile: Double, nanoseconds: Double)]) -> [ChartPoint] {
                curve.map { ChartPoint(x: Self.percentileX($0.percentile, maximumX: xAxis.upper), y: $0.nanoseconds) }
            }
            let latency = entry.point.zmanager.latency
            let summary = "p50 \(Format.nanoseconds(Double(latency.p50))), p99 \(Format.nanoseconds(Double(latency.p99))), "
                + "p99.99 \(Format.nanoseconds(Double(latency.p9999))), max \(Format.nanoseconds(Double(latency.max)))"
            lines.append(ChartLine(points: chartPoints(corrected), color: entry.color, width: entry.width, cssClass: "curve corrected",
                                   title: "\(entry.label), corrected: \(summary)"))
            let uncorrectedLatency = entry.point.zmanager.uncorrectedLatency
            lines.append(ChartLine(points: chartPoints(uncorrected), color: entry.color, dash: "6 4", width: entry.width * 0.7, opacity: 0.8,
                                   cssClass: "curve uncorrected",
                                   title: "\(entry.label), uncorrected: p50 \(Format.nanoseconds(Double(uncorrectedLatency.p50))), "
                                    + "p99 \(Format.nanoseconds(Double(uncorrectedLatency.p99)))"))
            legend.append(LegendEntry(label: entry.label, color: entry.color))
        }
        return Chart(caption: caption, x: xAxis, y: yAxis, lines: lines, legend: legend)
    }

    // MARK: Throughput vs. workers

    func throughputCharts() -> [Chart] {
        let closed = runs.enumerated().flatMap { index, run in
            run.result.points.filter { PointText.isClosedLoop($0.parameters) }.map { (run: index, point: $0) }
        }
        let excluded: Set<Dimension> = [.transport, .workers]
        let transports = Self.ordered(closed.map(\.point.parameters.transport))
        return transports.map { transport in
            let group = closed.filter { $0.point.parameters.transport == transport }
            let keys = Self.ordered(group.map { seriesKey($0.point, excluding: excluded) })
            var lines: [ChartLine] = []
            var legend: [LegendEntry] = []
            var values: [Double] = []
            for runIndex in Self.ordered(group.map(\.run)) {
                for (keyIndex, key) in keys.enumerated() {
                    let members = group.filter { $0.run == runIndex && seriesKey($0.point, excluding: excluded) == key }
                        .map(\.point).sorted { $0.parameters.workers < $1.parameters.workers }
                    guard let first = members.first else { continue }
                    let color = overlay ? Palette.color(runIndex) : Palette.color(keyIndex)
                    let marker = overlay ? MarkerShape.shape(keyIndex) : .circle
                    let name = label(first, excluding: excluded)
                    let seriesLabel = overlay ? "run \(runIndex + 1) · \(name)" : name
                    let zmanager = members.map {
                        ChartPoint(x: Double($0.parameters.workers), y: $0.zmanager.messagesPerSecond,
                                   tooltip: "\(seriesLabel), \($0.parameters.workers) workers: \(Format.rate($0.zmanager.messagesPerSecond)) msg/s"
                                    + ($0.ratios.map { " (\(Format.ratio($0.throughput)) × bare)" } ?? ""),
                                   spread: Self.spread($0.repeats))
                    }
                    let bare = members.compactMap { point in
                        point.bare.map {
                            ChartPoint(x: Double(point.parameters.workers), y: $0.messagesPerSecond,
                                       tooltip: "\(seriesLabel), bare libzmq, \(point.parameters.workers) workers: \(Format.rate($0.messagesPerSecond)) msg/s",
                                       spread: Self.spread(point.bareRepeats ?? []))
                        }
                    }
                    values += zmanager.map(\.y) + bare.map(\.y)
                        + zmanager.compactMap { $0.spread?.high } + bare.compactMap { $0.spread?.high }
                        + zmanager.compactMap { $0.spread?.low } + bare.compactMap { $0.spread?.low }
                    lines.append(ChartLine(points: zmanager, color: color, width: overlay ? Self.overlayWidth(run: runIndex) : 2,
                                           cssClass: "throughput zmanager",
                                           title: "\(seriesLabel): ZManager", marker: marker))
                    if !bare.isEmpty {
                        lines.append(ChartLine(points: bare, color: color, dash: "5 4", width: 1.3, opacity: 0.85,
                                               cssClass: "throughput bare", title: "\(seriesLabel): bare libzmq",
                                               marker: marker, hollowMarkers: true))
                    }
                    legend.append(LegendEntry(label: seriesLabel, color: color, marker: marker))
                }
            }
            let xAxis = ChartAxis.discrete(group.map(\.point.parameters.workers), title: "workers")
            let yAxis = ChartAxis.automatic(values, title: "messages per second") { Format.rate($0) }
            return Chart(caption: transport, x: xAxis, y: yAxis, lines: lines, legend: legend)
        }
    }

    /// Lowest and highest throughput over the repeats, nil for fewer than two.
    static func spread(_ repeats: [Measurement]) -> (low: Double, high: Double)? {
        let rates = repeats.map(\.messagesPerSecond)
        guard rates.count >= 2, let low = rates.min(), let high = rates.max() else { return nil }
        return (low, high)
    }

    // MARK: Rate vs. latency

    static func achievedRate(_ measurement: Measurement) -> Double {
        measurement.achievedSendRate ?? measurement.messagesPerSecond
    }

    func rateCharts() -> [Chart] {
        let open = runs.enumerated().flatMap { index, run in
            run.result.points.filter { PointText.isOpenLoop($0.parameters) }.map { (run: index, point: $0) }
        }
        let excluded: Set<Dimension> = [.transport, .targetRate, .loadModel, .inFlight]
        let transports = Self.ordered(open.map(\.point.parameters.transport))
        return transports.map { transport in
            let group = open.filter { $0.point.parameters.transport == transport }
            let keys = Self.ordered(group.map { seriesKey($0.point, excluding: excluded) })
            var lines: [ChartLine] = []
            var legend: [LegendEntry] = []
            var rates: [Double] = []
            var latencies: [Double] = []
            for runIndex in Self.ordered(group.map(\.run)) {
                for (keyIndex, key) in keys.enumerated() {
                    let members = group.filter { $0.run == runIndex && seriesKey($0.point, excluding: excluded) == key }
                        .map(\.point).sorted { Self.achievedRate($0.zmanager) < Self.achievedRate($1.zmanager) }
                    guard let first = members.first else { continue }
                    let color = overlay ? Palette.color(runIndex) : Palette.color(keyIndex)
                    let marker = overlay ? MarkerShape.shape(keyIndex) : .circle
                    let name = label(first, excluding: excluded)
                    let seriesLabel = overlay ? "run \(runIndex + 1) · \(name)" : name
                    func points(_ value: (LatencySummary) -> UInt64, _ percentile: String) -> [ChartPoint] {
                        members.map { point in
                            let measurement = point.zmanager
                            let reached = measurement.targetRateReached == false ? " — target rate NOT reached" : ""
                            let target = point.parameters.targetRate.map { " (target \(Format.rate($0))/s)" } ?? ""
                            return ChartPoint(
                                x: Self.achievedRate(measurement), y: Double(value(measurement.latency)),
                                tooltip: "\(seriesLabel): \(Format.rate(Self.achievedRate(measurement)))/s\(target), "
                                    + "\(percentile) \(Format.nanoseconds(Double(value(measurement.latency))))\(reached)",
                                flagged: measurement.targetRateReached == false)
                        }
                    }
                    let p50 = points(\.p50, "p50"), p99 = points(\.p99, "p99")
                    rates += p50.map(\.x)
                    latencies += p50.map(\.y) + p99.map(\.y)
                    lines.append(ChartLine(points: p50, color: color, width: overlay ? Self.overlayWidth(run: runIndex) : 2,
                                           cssClass: "rate p50",
                                           title: "\(seriesLabel): p50", marker: marker))
                    lines.append(ChartLine(points: p99, color: color, dash: "6 4", width: 1.6, cssClass: "rate p99",
                                           title: "\(seriesLabel): p99", marker: marker, hollowMarkers: true))
                    legend.append(LegendEntry(label: seriesLabel, color: color, marker: marker))
                }
            }
            let xAxis = ChartAxis.linearFromZero(rates, title: "achieved send rate (msg/s)") { Format.rate($0) }
            let yAxis = ChartAxis.logarithmic(latencies, title: "latency (corrected)") { Format.nanoseconds($0) }
            return Chart(caption: transport, x: xAxis, y: yAxis, lines: lines, legend: legend)
        }
    }

    /// A small legend sample: a line in `color` (dashed with `dash`) with an optional marker.
    static func swatch(color: String, dash: String?, marker: MarkerShape?) -> String {
        var svg = "<svg class=\"swatch\" xmlns=\"http://www.w3.org/2000/svg\" width=\"30\" height=\"12\" viewBox=\"0 0 30 12\">"
        svg += "<line x1=\"1\" y1=\"6\" x2=\"29\" y2=\"6\" stroke=\"\(color)\" stroke-width=\"2.4\""
            + (dash.map { " stroke-dasharray=\"\($0)\"" } ?? "") + "/>"
        if let marker { svg += marker.svg(x: 15, y: 6, color: color, hollow: false, title: nil) }
        return svg + "</svg>"
    }
}
