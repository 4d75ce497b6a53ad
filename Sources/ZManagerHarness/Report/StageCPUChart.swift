import Foundation

/// The CPU-per-stage chart: for every point, one bar for ZManager and one for the bare
/// topology, each split into its stages (Subject, workers, Integration Manager, libzmq I/O
/// threads, the generator), in CPU µs per message. Where the table under it gives the figures,
/// this shows at a glance which stage the difference comes from.
struct StageCPUChart {
    struct Bar {
        var label: String
        /// (stage, µs per message), in `StageCPU.order`.
        var segments: [(stage: String, microseconds: Double)]
        var total: Double { segments.reduce(0) { $0 + $1.microseconds } }
    }

    var caption: String
    var bars: [Bar]
    var stages: [String]

    static let width = 760.0, labelWidth = 250.0, right = 60.0, top = 10.0, barHeight = 16.0, gap = 6.0, groupGap = 10.0

    /// The charts of a run: one per payload and load (points that differ in those differ by
    /// orders of magnitude in CPU per message, and one scale would flatten the small ones),
    /// bars labelled by what else tells the points apart. Empty when no point measured stages.
    static func charts(_ result: RunResult, caption: String) -> [StageCPUChart] {
        let stages = StageTable.stages(result)
        guard !stages.isEmpty else { return [] }
        var groups: [(key: String, bars: [Bar])] = []
        for point in result.points {
            let p = point.parameters
            let key = "\(PointText.payload(p)), \(PointText.load(p))"
            let name = "\(p.transport), \(p.deployment)" + (p.workers != 2 ? ", \(p.workers) worker\(p.workers == 1 ? "" : "s")" : "")
            let bars = StageTable.usage(point).map { pipeline, byStage in
                Bar(label: "\(name) · \(pipeline)",
                    segments: stages.compactMap { stage in byStage[stage].map { (stage, max($0, 0)) } })
            }
            guard !bars.isEmpty else { continue }
            if let index = groups.firstIndex(where: { $0.key == key }) {
                groups[index].bars += bars
            } else {
                groups.append((key, bars))
            }
        }
        return groups.map { StageCPUChart(caption: "\(caption): \($0.key)", bars: $0.bars, stages: stages) }
    }

    static func color(_ stage: String, in stages: [String]) -> String {
        Palette.color(stages.firstIndex(of: stage) ?? 0)
    }

    func html() -> String {
        var html = "<figure class=\"stage-cpu\">\n<figcaption>\(HTML.escape(caption))</figcaption>\n"
        html += svg()
        html += "<ul class=\"legend\">\n"
        for stage in stages {
            html += "<li>\(ChartBuilder.swatch(color: Self.color(stage, in: stages), dash: nil, marker: nil))\(HTML.escape(stage))</li>\n"
        }
        return html + "</ul>\n</figure>\n"
    }

    func svg() -> String {
        let plotWidth = Self.width - Self.labelWidth - Self.right
        let maximum = max(bars.map(\.total).max() ?? 0, 1e-9)
        let axis = ChartAxis.linearFromZero([maximum], title: "CPU µs per message") { Format.fixed($0, 2) }
        // Bars of one point are drawn together; a little more space between points.
        var y = Self.top
        var rows: [(bar: Bar, y: Double)] = []
        var previousPoint: String?
        for bar in bars {
            let point = bar.label.components(separatedBy: " · ").first
            if let previousPoint, previousPoint != point { y += Self.groupGap }
            rows.append((bar, y))
            y += Self.barHeight + Self.gap
            previousPoint = point
        }
        let plotBottom = y
        let height = plotBottom + 40
        func px(_ value: Double) -> Double { Self.labelWidth + axis.fraction(value) * plotWidth }

        var svg = "<svg class=\"chart stage-cpu\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(Int(Self.width)) \(Int(height))\" "
            + "width=\"\(Int(Self.width))\" height=\"\(Int(height))\" role=\"img\" aria-label=\"\(HTML.escape(caption))\">\n"
        svg += "<rect x=\"0\" y=\"0\" width=\"\(Int(Self.width))\" height=\"\(Int(height))\" fill=\"#ffffff\"/>\n"
        svg += "<g font-size=\"11\" fill=\"#444444\">\n"
        for tick in axis.ticks {
            let x = px(tick.value)
            svg += "<line x1=\"\(SVG.n(x))\" y1=\"\(SVG.n(Self.top))\" x2=\"\(SVG.n(x))\" y2=\"\(SVG.n(plotBottom))\" stroke=\"#e4e4e4\"/>"
            svg += "<text x=\"\(SVG.n(x))\" y=\"\(SVG.n(plotBottom + 14))\" text-anchor=\"middle\">\(HTML.escape(tick.label))</text>\n"
        }
        svg += "</g>\n"
        svg += "<text x=\"\(SVG.n(Self.labelWidth + plotWidth / 2))\" y=\"\(SVG.n(height - 8))\" text-anchor=\"middle\" font-size=\"12\" fill=\"#222222\">\(HTML.escape(axis.title))</text>\n"
        for (bar, y) in rows {
            svg += "<text x=\"\(SVG.n(Self.labelWidth - 6))\" y=\"\(SVG.n(y + Self.barHeight - 4))\" text-anchor=\"end\" font-size=\"11\" fill=\"#222222\">\(HTML.escape(Self.shortened(bar.label)))</text>\n"
            var start = 0.0
            for segment in bar.segments where segment.microseconds > 0 {
                let x0 = px(start), x1 = px(start + segment.microseconds)
                svg += "<rect class=\"stage\" x=\"\(SVG.n(x0))\" y=\"\(SVG.n(y))\" width=\"\(SVG.n(max(x1 - x0, 0.5)))\" height=\"\(SVG.n(Self.barHeight))\" "
                    + "fill=\"\(Self.color(segment.stage, in: stages))\"><title>\(HTML.escape("\(bar.label): \(segment.stage) \(Format.fixed(segment.microseconds, 2)) µs per message"))</title></rect>\n"
                start += segment.microseconds
            }
            svg += "<text x=\"\(SVG.n(px(bar.total) + 4))\" y=\"\(SVG.n(y + Self.barHeight - 4))\" font-size=\"11\" fill=\"#444444\">\(Format.fixed(bar.total, 2))</text>\n"
        }
        return svg + "</svg>\n"
    }

    /// Point ids can be long; the bar's title carries the whole label.
    static func shortened(_ label: String) -> String {
        label.count <= 44 ? label : String(label.prefix(20)) + "…" + String(label.suffix(23))
    }
}
