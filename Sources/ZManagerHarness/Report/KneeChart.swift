/// The knee search's chart and table: for each `load.model: search` point, the SLO percentile
/// against the probed rate for ZManager (solid) and bare (dashed), the SLO as a grey line and
/// each pipeline's knee as a dotted vertical line in its colour.
extension ChartBuilder {
    func kneeCharts() -> [Chart] {
        runs.enumerated().flatMap { runIndex, run in
            run.result.points.compactMap { point -> Chart? in
                guard let knee = point.knee else { return nil }
                let slo = Double(knee.sloNanoseconds)
                let name = KneeResult.percentileName(knee.percentile)
                var lines: [ChartLine] = []
                var legend: [LegendEntry] = []
                var rates: [Double] = []
                var values: [Double] = [slo]
                let searches = [("ZManager", knee.zmanager, nil as String?, false)]
                    + (knee.bare.map { [("bare", $0, "6 4" as String?, true)] } ?? [])
                let color = Palette.color(overlay ? runIndex : 0)
                for (label, search, dash, hollow) in searches {
                    let probes = search.probes.sorted { $0.rate < $1.rate }
                    let points = probes.map { probe in
                        ChartPoint(x: probe.rate, y: Double(max(probe.percentileNanoseconds, 1)),
                                   tooltip: "\(label) at \(Format.rate(probe.rate))/s (sent \(Format.rate(probe.achievedRate))/s): "
                                       + "\(name) \(Format.nanoseconds(Double(probe.percentileNanoseconds)))"
                                       + (probe.values.count > 1 ? " (median of \(probe.values.count))" : "")
                                       + (probe.passed ? ", within the SLO" : ", MISSED: \(probe.reason ?? "")"),
                                   flagged: !probe.passed)
                    }
                    rates += points.map(\.x)
                    values += points.map(\.y)
                    lines.append(ChartLine(points: points, color: color, dash: dash, width: hollow ? 1.6 : 2, cssClass: "knee probes",
                                           title: "\(label): \(name) by rate", marker: .circle, hollowMarkers: hollow))
                    legend.append(LegendEntry(label: "\(label): knee \(KneeTable.knee(search))", color: color, dash: dash, marker: .circle))
                }
                let xAxis = ChartAxis.linearFromZero(rates, title: "target open-loop rate (msg/s)") { Format.rate($0) }
                let yAxis = ChartAxis.logarithmic(values, title: "\(name) latency (corrected)") { Format.nanoseconds($0) }
                lines.append(ChartLine(points: [ChartPoint(x: xAxis.lower, y: slo), ChartPoint(x: xAxis.upper, y: slo)],
                                       color: "#777777", dash: "2 3", width: 1.4, cssClass: "knee slo",
                                       title: "SLO: \(name) ≤ \(Format.nanoseconds(slo))"))
                legend.append(LegendEntry(label: "SLO \(name) ≤ \(Format.nanoseconds(slo))", color: "#777777", dash: "2 3"))
                for (label, search, dash, _) in searches {
                    guard let rate = search.knee else { continue }
                    lines.append(ChartLine(points: [ChartPoint(x: rate, y: yAxis.lower), ChartPoint(x: rate, y: yAxis.upper)],
                                           color: color, dash: dash == nil ? "1 3" : "1 6", width: 1.6, cssClass: "knee marker",
                                           title: "\(label) knee: \(Format.rate(rate)) msg/s"))
                }
                let ratio = knee.ratio.map { ", ratio \(Format.ratio($0))" } ?? ""
                let caption = (overlay ? "run \(runIndex + 1) · " : "") + label(point, excluding: []) + ratio
                return Chart(caption: caption, x: xAxis, y: yAxis, lines: lines, legend: legend)
            }
        }
    }
}

/// One row per knee-search point: the SLO, each pipeline's knee and status, and their ratio.
enum KneeTable {
    static let columns: [PointTable.Column] = [
        PointTable.Column(header: "point", numeric: false, help: "the point's id in the scenario matrix", wraps: true),
        PointTable.Column(header: "transport", numeric: false, help: "inproc, ipc or tcp"),
        PointTable.Column(header: "SLO", numeric: false, help: "the corrected latency percentile the search bounds"),
        PointTable.Column(header: "ZManager knee msg/s", numeric: true,
                          help: "the highest open-loop rate that met the SLO, reached its rate and lost nothing"),
        PointTable.Column(header: "bare knee msg/s", numeric: true, help: "the same for the bare topology, probed interleaved"),
        PointTable.Column(header: "knee ratio", numeric: true, help: "ZManager's knee ÷ bare's (1.0: as much under the SLO as bare libzmq)"),
        PointTable.Column(header: "probes Z/B", numeric: true, help: "measurements each search took, repeats near the SLO included"),
        PointTable.Column(header: "status", numeric: false, help: "found: bracketed within the tolerance; otherwise what bounds the answer",
                          wraps: true),
    ]

    static func rows(_ result: RunResult) -> [[PointTable.Cell]] {
        result.points.compactMap { point in
            guard let knee = point.knee else { return nil }
            let statuses = [("Z", knee.zmanager)] + (knee.bare.map { [("B", $0)] } ?? [])
            let unsettled = statuses.contains { $0.1.status != .found }
            return [
                PointTable.Cell(text: point.id),
                PointTable.Cell(text: point.parameters.transport),
                PointTable.Cell(text: "\(KneeResult.percentileName(knee.percentile)) ≤ \(Format.nanoseconds(Double(knee.sloNanoseconds)))"),
                PointTable.Cell(text: self.knee(knee.zmanager), alert: knee.zmanager.knee == nil),
                PointTable.Cell(text: knee.bare.map(self.knee) ?? "—"),
                PointTable.Cell(text: Format.ratio(knee.ratio)),
                PointTable.Cell(text: statuses.map { "\($0.1.probes.map(\.values.count).reduce(0, +))" }.joined(separator: "/")),
                PointTable.Cell(text: statuses.map { "\($0.0): \(status($0.1))" }.joined(separator: "; "), alert: unsettled),
            ]
        }
    }

    /// `412k`, `≥ 600k` (the highest rate passed), `< 5k` (the lowest missed).
    static func knee(_ search: KneeSearchResult) -> String {
        switch search.status {
        case .belowLowest: "< \(Format.rate(search.lowest))"
        case .atHighest: "≥ \(Format.rate(search.highest))"
        case .found, .probesExhausted: search.knee.map { Format.rate($0) } ?? "none"
        }
    }

    static func status(_ search: KneeSearchResult) -> String {
        switch search.status {
        case .found: "found (\(bracket(search)))"
        case .probesExhausted: "probes exhausted (\(bracket(search)))"
        case .belowLowest: "missed at the lowest rate \(Format.rate(search.lowest))/s: \(search.probes.first?.reason ?? "")"
        case .atHighest: "met at the highest rate \(Format.rate(search.highest))/s"
                + (search.ceiling != nil ? " (the closed-loop ceiling)" : "")
        }
    }

    private static func bracket(_ search: KneeSearchResult) -> String {
        "\(search.knee.map { Format.rate($0) } ?? "?")–\(search.failingRate.map { Format.rate($0) } ?? "?")/s"
    }
}
