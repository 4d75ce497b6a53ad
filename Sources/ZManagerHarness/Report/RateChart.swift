/// Rate against latency, per transport, open-loop points: the delivered rate against the
/// corrected p50 (solid) and p99 (dashed), the bare topology's p99 dotted; a red ring marks a
/// target rate that was not reached.
extension ChartBuilder {
    static func achievedRate(_ measurement: Measurement) -> Double {
        measurement.achievedSendRate ?? measurement.messagesPerSecond
    }

    /// What came back per second: the rate chart's x (the send rate says what was offered).
    static func deliveredRate(_ measurement: Measurement) -> Double { measurement.messagesPerSecond }

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
                        .map(\.point).sorted { Self.deliveredRate($0.zmanager) < Self.deliveredRate($1.zmanager) }
                    guard let first = members.first else { continue }
                    let color = overlay ? Palette.color(runIndex) : Palette.color(keyIndex)
                    let marker = overlay ? MarkerShape.shape(keyIndex) : .circle
                    let name = label(first, excluding: excluded)
                    let seriesLabel = overlay ? "run \(runIndex + 1) · \(name)" : name
                    func points(_ value: (LatencySummary) -> UInt64, _ percentile: String, bare: Bool = false) -> [ChartPoint] {
                        members.compactMap { point in
                            guard let measurement = bare ? point.bare : point.zmanager else { return nil }
                            let reached = measurement.targetRateReached == false ? " — target rate NOT reached" : ""
                            let target = point.parameters.targetRate.map { " (target \(Format.rate($0))/s)" } ?? ""
                            return ChartPoint(
                                x: Self.deliveredRate(measurement), y: Double(value(measurement.latency)),
                                tooltip: "\(seriesLabel)\(bare ? ", bare topology" : ""): \(Format.rate(Self.deliveredRate(measurement)))/s delivered, "
                                    + "\(Format.rate(Self.achievedRate(measurement)))/s sent\(target), "
                                    + "\(percentile) \(Format.nanoseconds(Double(value(measurement.latency))))\(reached)",
                                flagged: measurement.targetRateReached == false)
                        }
                    }
                    let p50 = points(\.p50, "p50"), p99 = points(\.p99, "p99"), bareP99 = points(\.p99, "p99", bare: true)
                    rates += p50.map(\.x) + bareP99.map(\.x)
                    latencies += p50.map(\.y) + p99.map(\.y) + bareP99.map(\.y)
                    if !bareP99.isEmpty {
                        lines.append(ChartLine(points: bareP99, color: color, dash: "2 3", width: 1.4, opacity: 0.9, cssClass: "rate bare p99",
                                               title: "\(seriesLabel): bare topology p99", marker: .square, hollowMarkers: true))
                    }
                    lines.append(ChartLine(points: p50, color: color, width: overlay ? Self.overlayWidth(run: runIndex) : 2,
                                           cssClass: "rate p50",
                                           title: "\(seriesLabel): p50", marker: marker))
                    lines.append(ChartLine(points: p99, color: color, dash: "6 4", width: 1.6, cssClass: "rate p99",
                                           title: "\(seriesLabel): p99", marker: marker, hollowMarkers: true))
                    legend.append(LegendEntry(label: seriesLabel, color: color, marker: marker))
                }
            }
            let xAxis = ChartAxis.linearFromZero(rates, title: "delivered rate (msg/s received)") { Format.rate($0) }
            let yAxis = ChartAxis.logarithmic(latencies, title: "latency (corrected)") { Format.nanoseconds($0) }
            return Chart(caption: transport, x: xAxis, y: yAxis, lines: lines, legend: legend)
        }
    }
}
