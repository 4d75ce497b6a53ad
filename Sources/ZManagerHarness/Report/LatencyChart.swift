import Foundation

/// Latency percentile curves in HdrHistogram's style: x is the percentile on a log scale of
/// 1 / (1 − p), y the latency on a log scale; corrected solid, uncorrected dashed, the bare
/// topology dotted. One chart per transport (a point per line), or, overlaying several runs,
/// one chart per point (a run per line).
extension ChartBuilder {
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
        let bareCurves = series.map { $0.point.bare.map { Self.curve($0.latency) } }
        let all = curves.flatMap { $0.0 + $0.1 } + bareCurves.flatMap { $0 ?? [] }
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
        // The bare calibration of each point, dotted: where ZManager's curve leaves it is what
        // ZManager adds to the physical limit.
        for (entry, bareCurve) in zip(series, bareCurves) {
            guard let bareCurve, let bare = entry.point.bare else { continue }
            lines.append(ChartLine(points: bareCurve.map { ChartPoint(x: Self.percentileX($0.percentile, maximumX: xAxis.upper), y: $0.nanoseconds) },
                                   color: entry.color, dash: "2 3", width: entry.width * 0.8, opacity: 0.9, cssClass: "curve bare",
                                   title: "\(entry.label), bare topology, corrected: p50 \(Format.nanoseconds(Double(bare.latency.p50))), "
                                    + "p99 \(Format.nanoseconds(Double(bare.latency.p99)))"))
        }
        if bareCurves.contains(where: { $0 != nil }) {
            legend.append(LegendEntry(label: "bare topology (dotted)", color: "#777777", dash: "2 3"))
        }
        return Chart(caption: caption, x: xAxis, y: yAxis, lines: lines, legend: legend)
    }
}
