/// The load agents' own figures beside their total (`agents:`): one row per agent and
/// pipeline measured, then the total the point reports. Shared by the Markdown and HTML reports.
enum AgentTable {
    static let columns: [PointTable.Column] = [
        PointTable.Column(header: "point", numeric: false, help: "the point's id in the scenario matrix", wraps: true),
        PointTable.Column(header: "pipeline", numeric: false, help: "ZManager, or the bare topology it is calibrated against"),
        PointTable.Column(header: "agent", numeric: false, help: "the agent's control endpoint; total: all of them, as the point reports"),
        PointTable.Column(header: "msg/s", numeric: true, help: "answers per second the agent received (total: the sum)"),
        PointTable.Column(header: "p50 µs", numeric: true, help: "corrected latency the agent measured of its own round trips"),
        PointTable.Column(header: "p99 µs", numeric: true, help: "total: from the agents' histograms added up, not an average of theirs"),
        PointTable.Column(header: "max µs", numeric: true, help: "the highest latency measured"),
        PointTable.Column(header: "sent", numeric: true, help: "messages sent during the measure phase"),
        PointTable.Column(header: "lost", numeric: true, help: "sent and never answered"),
        PointTable.Column(header: "err", numeric: true, help: "error answers"),
        PointTable.Column(header: "gen µs/msg", numeric: true, help: "the agent's load generator's CPU per message (total: weighted by answers)"),
    ]

    static func rows(_ result: RunResult) -> [[PointTable.Cell]] {
        result.points.flatMap { point -> [[PointTable.Cell]] in
            let measured = [("ZManager", point.zmanager)] + (point.bare.map { [("bare", $0)] } ?? [])
            return measured.flatMap { label, total -> [[PointTable.Cell]] in
                guard let agents = total.agents else { return [] }
                return agents.map { row(point.id, label, $0.agent, $0.measurement) } + [row(point.id, label, "total", total)]
            }
        }
    }

    static func row(_ point: String, _ pipeline: String, _ agent: String, _ m: Measurement) -> [PointTable.Cell] {
        func microseconds(_ ns: UInt64) -> String { Format.significant(Double(ns) / 1000) }
        return [
            PointTable.Cell(text: point), PointTable.Cell(text: pipeline), PointTable.Cell(text: agent),
            PointTable.Cell(text: Format.rate(m.messagesPerSecond)),
            PointTable.Cell(text: microseconds(m.latency.p50)), PointTable.Cell(text: microseconds(m.latency.p99)),
            PointTable.Cell(text: microseconds(m.latency.max)),
            PointTable.Cell(text: "\(m.sent)", alert: m.targetRateReached == false),
            PointTable.Cell(text: "\(m.lost)", alert: m.lost > 0), PointTable.Cell(text: "\(m.errors)", alert: m.errors > 0),
            PointTable.Cell(text: m.generatorCPUMicrosecondsPerMessage.map { Format.fixed($0, 2) } ?? "—"),
        ]
    }
}
