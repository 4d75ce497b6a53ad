import Foundation

/// Throughput against the worker count, per transport, closed-loop points: ZManager solid,
/// the bare topology dashed with hollow markers, the repeats' spread as error bars.
extension ChartBuilder {
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
}
