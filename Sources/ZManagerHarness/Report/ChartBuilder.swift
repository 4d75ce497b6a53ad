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

    /// A small legend sample: a line in `color` (dashed with `dash`) with an optional marker.
    static func swatch(color: String, dash: String?, marker: MarkerShape?) -> String {
        var svg = "<svg class=\"swatch\" xmlns=\"http://www.w3.org/2000/svg\" width=\"30\" height=\"12\" viewBox=\"0 0 30 12\">"
        svg += "<line x1=\"1\" y1=\"6\" x2=\"29\" y2=\"6\" stroke=\"\(color)\" stroke-width=\"2.4\""
            + (dash.map { " stroke-dasharray=\"\($0)\"" } ?? "") + "/>"
        if let marker { svg += marker.svg(x: 15, y: 6, color: color, hollow: false, title: nil) }
        return svg + "</svg>"
    }
}
