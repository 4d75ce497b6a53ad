/// The interval series drawn over time: for each point, the received rate and the corrected
/// p50 and p99 per interval (``Measurement/intervals``), ZManager solid and bare dashed, so a
/// ramp, a stall or a stepped load shows where it happened instead of in one histogram.
extension ChartBuilder {
    /// A point's pair of charts (rate, latency), with its caption.
    struct TimeSeries {
        var caption: String
        var rate: Chart
        var latency: Chart
    }

    /// The last interval ends at the last answer; one shorter than this share of the length
    /// is left off the rate chart (a handful of answers over a millisecond reads as a spike).
    static let shortestDrawnInterval = 0.25

    func timeSeries() -> [TimeSeries] {
        runs.enumerated().flatMap { runIndex, run in
            run.result.points.compactMap { point -> TimeSeries? in
                guard let zmanager = point.zmanager.intervals, !zmanager.isEmpty else { return nil }
                let color = Palette.color(overlay ? runIndex : 0)
                let series = [("ZManager", zmanager, nil as String?, false)]
                    + (point.bare?.intervals.map { [("bare", $0, "6 4" as String?, true)] } ?? [])
                let length = zmanager.first?.seconds ?? 1
                var rateLines: [ChartLine] = [], latencyLines: [ChartLine] = []
                var legend: [LegendEntry] = []
                var times: [Double] = [], rates: [Double] = [], latencies: [Double] = []
                for (label, intervals, dash, hollow) in series {
                    let drawn = intervals.filter { $0.seconds >= length * Self.shortestDrawnInterval }
                    func middle(_ i: IntervalSample) -> Double { i.startSeconds + i.seconds / 2 }
                    func at(_ i: IntervalSample) -> String { "\(label) \(Format.significant(i.startSeconds))–\(Format.significant(i.startSeconds + i.seconds)) s" }
                    let rate = drawn.map { i in
                        ChartPoint(x: middle(i), y: i.messagesPerSecond,
                                   tooltip: "\(at(i)): \(Format.rate(i.messagesPerSecond)) msg/s received, \(i.sent) sent"
                                       + (i.unanswered > 0 ? ", \(i.unanswered) unanswered" : "") + (i.errors > 0 ? ", \(i.errors) errors" : ""),
                                   flagged: i.unanswered > 0 || i.errors > 0)
                    }
                    func latency(_ value: KeyPath<IntervalSample, UInt64>, _ name: String) -> [ChartPoint] {
                        intervals.filter { $0.received > 0 }.map { i in
                            ChartPoint(x: middle(i), y: Double(i[keyPath: value]),
                                       tooltip: "\(at(i)): \(name) \(Format.nanoseconds(Double(i[keyPath: value]))) of \(i.received) answers")
                        }
                    }
                    let p50 = latency(\.p50Nanoseconds, "p50"), p99 = latency(\.p99Nanoseconds, "p99")
                    times += intervals.map { $0.startSeconds + $0.seconds }
                    rates += rate.map(\.y)
                    latencies += p50.map(\.y) + p99.map(\.y)
                    rateLines.append(ChartLine(points: rate, color: color, dash: dash, width: hollow ? 1.6 : 2, cssClass: "series rate",
                                               title: "\(label): msg/s received per interval", marker: .circle, hollowMarkers: hollow))
                    latencyLines.append(ChartLine(points: p50, color: color, dash: dash, width: hollow ? 1.4 : 1.8, cssClass: "series p50",
                                                  title: "\(label): p50 per interval", marker: .circle, hollowMarkers: hollow))
                    latencyLines.append(ChartLine(points: p99, color: Palette.color(overlay ? runIndex : 1), dash: dash,
                                                  width: hollow ? 1.4 : 1.8, cssClass: "series p99",
                                                  title: "\(label): p99 per interval", marker: .square, hollowMarkers: hollow))
                    legend.append(LegendEntry(label: label, color: color, dash: dash, marker: .circle))
                }
                let xAxis = ChartAxis.linearFromZero(times, title: "seconds into the measure phase") { Format.significant($0) }
                let caption = (overlay ? "run \(runIndex + 1) · " : "") + label(point, excluding: [])
                let rateChart = Chart(caption: "\(caption): received msg/s", x: xAxis,
                                      y: ChartAxis.linearFromZero(rates, title: "msg/s received") { Format.rate($0) },
                                      lines: rateLines, legend: legend)
                let latencyLegend = legend + [LegendEntry(label: "p50 (circles)", color: color, marker: .circle),
                                              LegendEntry(label: "p99 (squares)", color: Palette.color(overlay ? runIndex : 1), marker: .square)]
                let latencyChart = Chart(caption: "\(caption): corrected p50 and p99", x: xAxis,
                                         y: ChartAxis.logarithmic(latencies, title: "latency (corrected)") { Format.nanoseconds($0) },
                                         lines: latencyLines, legend: latencyLegend)
                return TimeSeries(caption: caption, rate: rateChart, latency: latencyChart)
            }
        }
    }
}
