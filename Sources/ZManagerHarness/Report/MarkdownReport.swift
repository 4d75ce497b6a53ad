import Foundation

/// One run shown in a report, with the label its headings and chart legends use.
public struct ReportRun: Sendable, Equatable {
    public var label: String
    public var result: RunResult

    public init(label: String, result: RunResult) {
        self.label = label
        self.result = result
    }

    /// A run labelled by scenario, git revision and start time.
    public init(_ result: RunResult) {
        self.init(label: ReportRun.defaultLabel(result), result: result)
    }

    /// `ci @abc1234 2026-11-29T00:00:00Z`: what tells runs of one scenario apart.
    public static func defaultLabel(_ result: RunResult) -> String {
        let revision = result.host.gitRevision.isEmpty ? "" : " @" + result.host.gitRevision.prefix(7)
        return "\(result.scenario)\(revision) \(result.startedAt)"
    }

    /// The results with their default labels, numbered where two would read the same.
    public static func labelled(_ results: [RunResult]) -> [ReportRun] {
        let labels = results.map(defaultLabel)
        var seen: [String: Int] = [:]
        return zip(results, labels).map { result, label in
            guard labels.filter({ $0 == label }).count > 1 else { return ReportRun(label: label, result: result) }
            seen[label, default: 0] += 1
            return ReportRun(label: "\(label) #\(seen[label]!)", result: result)
        }
    }
}

/// Whether the machine's load average makes the run's numbers suspect (an idle VM's vCPUs wake slowly; a busy one gives less throughput).
///
/// - **busy**: the 1-minute load average at the start or the end reached the core count:
///   other work competed for the CPUs, so throughput may be understated and latency noisy.
/// - **idle**: both load averages stayed below ``idleLoadPerCore`` × cores: on a VM, idle
///   vCPUs are slow to wake, so latency may read 2-5× worse than on a busy machine.
public struct LoadAssessment: Sendable, Equatable {
    public enum Condition: String, Sendable {
        case normal, busy, idle
    }

    /// Default fraction of the cores under which the machine counts as idle.
    public static let defaultIdleLoadPerCore = 0.25

    public var condition: Condition
    /// One line for the report, nil when the load was unremarkable.
    public var warning: String?

    public init(host: HostFacts, idleLoadPerCore: Double = LoadAssessment.defaultIdleLoadPerCore) {
        let start = Format.fixed(host.loadAverageStart, 2)
        let end = Format.fixed(host.loadAverageEnd, 2)
        let peak = max(host.loadAverageStart, host.loadAverageEnd)
        let cores = Double(max(host.cores, 1))
        if peak >= cores {
            condition = .busy
            warning = "load average \(start) → \(end) reached the \(host.cores) cores: other work competed for the CPUs, "
                + "so throughput may be understated and latency noisy; ratios to bare libzmq (same run) are the fairer figures."
        } else if peak < idleLoadPerCore * cores {
            condition = .idle
            warning = "the machine was idle (load average \(start) → \(end) on \(host.cores) cores): on a VM, idle vCPUs "
                + "are slow to wake, so latency may read 2-5× worse than on a busy machine; compare latency only with runs "
                + "made under the same conditions."
        } else {
            condition = .normal
            warning = nil
        }
    }
}

/// `report.md`: host facts, load warnings, one table of the points, calibration and resources,
/// and notes. Several runs (an overlay) give one section per run.
public struct MarkdownReport: Sendable {
    public var runs: [ReportRun]

    public init(_ result: RunResult) {
        self.runs = [ReportRun(result)]
    }

    public init(runs: [ReportRun]) {
        self.runs = runs
    }

    public func render() -> String {
        var out = ""
        if runs.count == 1, let run = runs.first {
            out += "# ZManager load test: \(Format.markdownEscaped(run.result.scenario))\n\n"
            out += section(for: run, level: "##")
        } else {
            out += "# ZManager load tests: \(runs.count) runs overlaid\n\n"
            for (index, run) in runs.enumerated() {
                out += "- run \(index + 1): \(Format.markdownEscaped(run.label))\n"
            }
            out += "\n"
            for (index, run) in runs.enumerated() {
                out += "## Run \(index + 1): \(Format.markdownEscaped(run.label))\n\n"
                out += section(for: run, level: "###")
            }
        }
        return out
    }

    private func section(for run: ReportRun, level: String) -> String {
        let result = run.result
        var out = ""
        out += "Scenario `\(result.scenarioFile)` (sha256 `\(result.scenarioHash.prefix(16))`), "
            + "started \(result.startedAt), \(Format.duration(result.durationSeconds)), "
            + "\(result.points.count) point\(result.points.count == 1 ? "" : "s"), result schema v\(result.schemaVersion).\n\n"

        out += "\(level) Host\n\n"
        out += "| | |\n|---|---|\n"
        for (name, value) in HostTable.rows(result.host) {
            out += "| \(name) | \(Format.markdownEscaped(value)) |\n"
        }
        out += "\n"
        if let warning = LoadAssessment(host: result.host).warning {
            out += "> **⚠ Warning:** \(warning)\n\n"
        }

        out += "\(level) Points\n\n"
        out += Self.table(columns: PointTable.columns, rows: result.points.map(PointTable.row))
        out += "\n"

        let knees = KneeTable.rows(result)
        if !knees.isEmpty {
            out += "\(level) Knees: sustainable rate under the SLO\n\n"
            out += Self.table(columns: KneeTable.columns, rows: knees)
            out += "\n"
        }

        let agents = AgentTable.rows(result)
        if !agents.isEmpty {
            out += "\(level) Load agents\n\n"
            out += "Each agent measured its own round trips; the totals add their histograms up.\n\n"
            out += Self.table(columns: AgentTable.columns, rows: agents)
            out += "\n"
        }

        out += "\(level) Calibration and resources\n\n"
        out += Self.table(columns: PointTable.resourceColumns, rows: result.points.map(PointTable.resourceRow))
        out += "\n"

        out += "\(level) CPU per message per stage (µs, measure phase)\n\n"
        out += Self.table(columns: StageTable.columns(result), rows: StageTable.rows(result))
        out += "\n"

        out += "\(level) Notes\n\n"
        for note in ReportNotes.notes(for: result) {
            out += "- \(note.markdown)\n"
        }
        out += "\n"
        return out
    }

    static func table(columns: [PointTable.Column], rows: [[PointTable.Cell]]) -> String {
        var out = "| " + columns.map { Format.markdownEscaped($0.header) }.joined(separator: " | ") + " |\n"
        out += "|" + columns.map { $0.numeric ? "---:|" : "---|" }.joined() + "\n"
        for row in rows {
            let cells = row.map { cell -> String in
                let text = Format.markdownEscaped(cell.text)
                return cell.alert ? "**⚠ \(text)**" : text
            }
            out += "| " + cells.joined(separator: " | ") + " |\n"
        }
        return out
    }
}

// MARK: - Shared by the Markdown and HTML reports

/// The host facts as (name, value) rows.
enum HostTable {
    static func rows(_ host: HostFacts) -> [(String, String)] {
        [
            ("host", host.hostname),
            ("cores", String(host.cores)),
            ("memory", Format.bytes(host.memoryBytes)),
            ("kernel", host.kernel),
            ("libzmq", host.libzmqVersion),
            ("Swift", host.swiftVersion),
            ("allocator", host.allocator),
            ("git revision", host.gitRevision),
            ("load average (1 min) start → end", "\(Format.fixed(host.loadAverageStart, 2)) → \(Format.fixed(host.loadAverageEnd, 2))"),
        ]
    }
}

/// The table of points, shared by `report.md` and `report.html`.
enum PointTable {
    struct Column: Sendable {
        var header: String
        var numeric: Bool
        /// What the column means (HTML tooltip).
        var help: String
        /// Long text that may wrap in HTML.
        var wraps: Bool = false
    }

    struct Cell: Sendable, Equatable {
        var text: String
        /// Something the reader must not miss: a target rate not reached, lost or duplicated messages, errors.
        var alert: Bool = false
    }

    static let columns: [Column] = [
        Column(header: "point", numeric: false, help: "the point's id in the scenario matrix", wraps: true),
        Column(header: "transport", numeric: false, help: "inproc, ipc or tcp"),
        Column(header: "deployment", numeric: false, help: "workers as threads or as processes"),
        Column(header: "workers", numeric: true, help: "worker count"),
        Column(header: "payload", numeric: true, help: "payload bytes per message"),
        Column(header: "load", numeric: false, help: "closed loop: messages in flight; open loop: target rate"),
        Column(header: "msg/s", numeric: true, help: "ZManager messages received per second (median repeat)"),
        Column(header: "MB/s", numeric: true, help: "ZManager payload megabytes per second"),
        Column(header: "p50", numeric: true, help: "median latency, corrected for coordinated omission"),
        Column(header: "p99", numeric: true, help: "99th percentile latency, corrected"),
        Column(header: "p99.99", numeric: true, help: "99.99th percentile latency, corrected"),
        Column(header: "max", numeric: true, help: "maximum latency, corrected"),
        Column(header: "p99 uncorr.", numeric: true, help: "99th percentile from the actual send time (what a naive tool reports)"),
        Column(header: "lost", numeric: true, help: "sent during the measure phase and never received"),
        Column(header: "dup", numeric: true, help: "received more than once"),
        Column(header: "reord", numeric: true, help: "received after a higher sequence number"),
        Column(header: "err", numeric: true, help: "error messages received instead of results"),
        Column(header: "thr ÷ bare", numeric: true, help: "median over repeats of ZManager_i msg/s ÷ bare_i msg/s, paired (higher is better, 1.00 = as fast as the bare topology)"),
        Column(header: "p50 ÷ bare", numeric: true, help: "median of the paired p50 ratios (lower is better, 1.00 = no added latency)"),
        Column(header: "p99 ÷ bare", numeric: true, help: "median of the paired p99 ratios (lower is better)"),
        Column(header: "target rate", numeric: false, help: "open loop: whether the send rate reached 99 % of the target with nothing left unsent (n/a: closed loop)"),
    ]

    static func row(_ point: PointResult) -> [Cell] {
        let parameters = point.parameters
        let measurement = point.zmanager
        let latency = measurement.latency
        return [
            Cell(text: point.id),
            Cell(text: parameters.transport),
            Cell(text: parameters.deployment),
            Cell(text: String(parameters.workers)),
            Cell(text: PointText.payload(parameters)),
            Cell(text: PointText.load(parameters)),
            Cell(text: Format.rate(measurement.messagesPerSecond)),
            Cell(text: Format.megabytes(measurement.megabytesPerSecond)),
            Cell(text: Format.nanoseconds(Double(latency.p50))),
            Cell(text: Format.nanoseconds(Double(latency.p99))),
            Cell(text: Format.nanoseconds(Double(latency.p9999))),
            Cell(text: Format.nanoseconds(Double(latency.max))),
            Cell(text: Format.nanoseconds(Double(measurement.uncorrectedLatency.p99))),
            Cell(text: String(measurement.lost), alert: measurement.lost > 0),
            Cell(text: String(measurement.duplicated), alert: measurement.duplicated > 0),
            Cell(text: String(measurement.reordered)),
            Cell(text: String(measurement.errors), alert: measurement.errors > 0),
            Cell(text: Format.ratio(point.ratios?.throughput)),
            Cell(text: Format.ratio(point.ratios?.p50Latency)),
            Cell(text: Format.ratio(point.ratios?.p99Latency)),
            PointText.target(point),
        ]
    }

    static let resourceColumns: [Column] = [
        Column(header: "point", numeric: false, help: "the point's id in the scenario matrix", wraps: true),
        Column(header: "repeats", numeric: true, help: "ZManager repeats measured; the table shows the median-throughput one"),
        Column(header: "msg/s min…max", numeric: true, help: "throughput spread over the repeats"),
        Column(header: "thr ÷ bare min…max", numeric: true, help: "spread of the paired throughput ratios over the repeats"),
        Column(header: "bare msg/s", numeric: true, help: "the bare topology (C stages, same sockets, hops, deployment and handler cost), median repeat"),
        Column(header: "bare ÷ C ref", numeric: true, help: "bare calibration ÷ the C reference program zmanager-bare-c (the instrument's accuracy; ≥ 0.90 expected)"),
        Column(header: "generator alone", numeric: true, help: "the load generator through one forwarder, in ZManager's wire form (and the bare topology's single frame)"),
        Column(header: "headroom", numeric: true, help: "generator ceiling ÷ the pipeline's throughput, the smaller over ZManager and bare; below 2.0 the point is flagged"),
        Column(header: "bare p50", numeric: true, help: "bare pipeline median latency, corrected"),
        Column(header: "bare p99", numeric: true, help: "bare pipeline 99th percentile latency, corrected"),
        Column(header: "CPU µs/msg", numeric: true, help: "pipeline CPU per message received during the measure phase, ZManager (every stage but the generator, processes included)"),
        Column(header: "bare CPU µs/msg", numeric: true, help: "the same for the bare topology"),
        Column(header: "gen. CPU µs/msg", numeric: true, help: "the load generator's threads and libzmq I/O thread per message (ZManager run)"),
        Column(header: "peak RSS", numeric: true, help: "peak resident set size of the harness process during the ZManager measurement"),
        Column(header: "workers' peak RSS", numeric: true, help: "peak resident set size of the worker processes"),
        Column(header: "histograms", numeric: false, help: ".hgrm files, relative to the run directory", wraps: true),
    ]

    static func resourceRow(_ point: PointResult) -> [Cell] {
        let repeats = point.repeats.isEmpty ? [point.zmanager] : point.repeats
        let rates = repeats.map(\.messagesPerSecond)
        let spread = "\(Format.rate(rates.min() ?? 0))…\(Format.rate(rates.max() ?? 0))"
        let measurement = point.zmanager
        let generator: String
        if let ceiling = point.generator {
            generator = Format.rate(ceiling.messagesPerSecond) + (ceiling.singleFrameMessagesPerSecond.map { " / " + Format.rate($0) } ?? "")
        } else {
            generator = "—"
        }
        return [
            Cell(text: point.id),
            Cell(text: String(point.repeats.count)),
            Cell(text: spread),
            Cell(text: point.throughputRatioSpread.map { "\(Format.fixed($0.min, 2))…\(Format.fixed($0.max, 2))" } ?? "—"),
            Cell(text: point.bare.map { Format.rate($0.messagesPerSecond) } ?? "—"),
            Cell(text: Format.ratio(point.bareOverReference), alert: (point.bareOverReference ?? 1) < 0.9),
            Cell(text: generator),
            Cell(text: point.generator.map { Format.fixed($0.headroom, 1) } ?? "—", alert: point.generatorMayLimit),
            Cell(text: point.bare.map { Format.nanoseconds(Double($0.latency.p50)) } ?? "—"),
            Cell(text: point.bare.map { Format.nanoseconds(Double($0.latency.p99)) } ?? "—"),
            Cell(text: Format.fixed(measurement.cpuMicrosecondsPerMessage, 2)),
            Cell(text: point.bare.map { Format.fixed($0.cpuMicrosecondsPerMessage, 2) } ?? "—"),
            Cell(text: measurement.generatorCPUMicrosecondsPerMessage.map { Format.fixed($0, 2) } ?? "—"),
            Cell(text: Format.bytes(measurement.peakRSSBytes)),
            Cell(text: measurement.workerProcessesPeakRSSBytes.map(Format.bytes) ?? "—"),
            Cell(text: PointText.files(point.histogramFiles)),
        ]
    }
}

/// CPU per message per stage, ZManager and bare side by side (from ``Measurement/stages``).
enum StageTable {
    static func stages(_ result: RunResult) -> [String] {
        let present = Set(result.points.flatMap { ($0.zmanager.stages ?? []) + ($0.bare?.stages ?? []) }.map(\.stage))
        return StageCPU.order.filter(present.contains)
    }

    static func columns(_ result: RunResult) -> [PointTable.Column] {
        [PointTable.Column(header: "point", numeric: false, help: "the point's id", wraps: true),
         PointTable.Column(header: "pipeline", numeric: false, help: "ZManager or the bare topology")]
            + stages(result).map { PointTable.Column(header: $0, numeric: true, help: "CPU µs per message received in the \($0) stage's threads") }
    }

    /// A point's measured stages, ZManager first, then the bare topology: CPU µs per message
    /// by stage name. Pipelines without stage figures are left out.
    static func usage(_ point: PointResult) -> [(pipeline: String, byStage: [String: Double])] {
        [("ZManager", Optional(point.zmanager)), ("bare", point.bare)].compactMap { pipeline, measurement in
            guard let usage = measurement?.stages, !usage.isEmpty else { return nil }
            return (pipeline, Dictionary(usage.map { ($0.stage, $0.cpuMicrosecondsPerMessage) }, uniquingKeysWith: +))
        }
    }

    static func rows(_ result: RunResult) -> [[PointTable.Cell]] {
        let stages = stages(result)
        return result.points.flatMap { point in
            usage(point).map { pipeline, byStage in
                [PointTable.Cell(text: point.id), PointTable.Cell(text: pipeline)]
                    + stages.map { PointTable.Cell(text: byStage[$0].map { Format.fixed($0, 2) } ?? "—") }
            }
        }
    }
}

/// How points' parameters read in tables, legends and notes.
enum PointText {
    static func isOpenLoop(_ parameters: PointParameters) -> Bool {
        parameters.targetRate != nil || parameters.loadModel.lowercased().hasPrefix("open")
    }

    /// A `load.model: search` point: its figures are those at each pipeline's knee.
    static func isSearch(_ parameters: PointParameters) -> Bool {
        parameters.loadModel.hasPrefix("search")
    }

    static func isClosedLoop(_ parameters: PointParameters) -> Bool {
        !isOpenLoop(parameters) && !isSearch(parameters)
    }

    static func payload(_ parameters: PointParameters) -> String {
        let size = Format.bytes(UInt64(max(parameters.payloadSize, 0)))
        let distribution = parameters.payloadDistribution
        return distribution.isEmpty || distribution.hasPrefix("fixed") ? size : "\(size) (\(distribution))"
    }

    static func load(_ parameters: PointParameters) -> String {
        var text = parameters.loadModel
        if let inFlight = parameters.inFlight { text += " \(inFlight)" }
        if let rate = parameters.targetRate { text += " \(Format.rate(rate))/s" }
        return text
    }

    /// `p000-*.hgrm (4 files)` when the names share a prefix, else the names.
    static func files(_ names: [String]) -> String {
        guard names.count > 1 else { return names.first ?? "—" }
        var prefix = names[0]
        for name in names.dropFirst() {
            while !name.hasPrefix(prefix) { prefix.removeLast() }
        }
        let suffix = names.allSatisfy { $0.hasSuffix(".hgrm") } ? ".hgrm" : ""
        guard prefix.count >= 3 else { return names.joined(separator: ", ") }
        return "\(prefix)*\(suffix) (\(names.count) files)"
    }

    static func target(_ point: PointResult) -> PointTable.Cell {
        guard isOpenLoop(point.parameters) else { return PointTable.Cell(text: "n/a") }
        let measurement = point.zmanager
        let achieved = measurement.achievedSendRate.map { Format.rate($0) + "/s" } ?? "?"
        let target = point.parameters.targetRate.map { Format.rate($0) + "/s" } ?? "?"
        switch measurement.targetRateReached {
        case .some(true): return PointTable.Cell(text: "reached (\(achieved))")
        case .some(false): return PointTable.Cell(text: "NOT REACHED: \(achieved) of \(target)", alert: true)
        case .none: return PointTable.Cell(text: "not recorded (\(achieved) of \(target))")
        }
    }
}

/// A note under the tables: plain text with optional `code` spans.
struct ReportNote: Sendable {
    var text: String
    var markdown: String { text }
}

enum ReportNotes {
    static func notes(for result: RunResult) -> [ReportNote] {
        var notes: [ReportNote] = []
        if let agents = result.agents {
            notes.append(ReportNote(text: "The load came from \(agents.count) agent\(agents.count == 1 ? "" : "s") ("
                + agents.map { "`\($0)`" }.joined(separator: ", ") + "), each with its share of every point, started together; "
                + "the pipelines ran on this host (`\(result.host.hostname)`), whose CPU per stage is the pipelines' alone, "
                + "the generators' as each agent measured it."))
        }
        let unreached = result.points.filter { $0.zmanager.targetRateReached == false }
        if !unreached.isEmpty {
            notes.append(ReportNote(text: "Target rate NOT reached (the generator could not send that fast; latency at these "
                + "points is measured at a lower rate than asked): "
                + unreached.map { "`\($0.id)` (\(PointText.target($0).text))" }.joined(separator: "; ") + "."))
        }
        let lossy = result.points.filter { $0.zmanager.lost + $0.zmanager.duplicated + $0.zmanager.errors > 0 }
        if !lossy.isEmpty {
            notes.append(ReportNote(text: "Messages lost, duplicated or answered with an error: "
                + lossy.map { "`\($0.id)` (lost \($0.zmanager.lost), duplicated \($0.zmanager.duplicated), errors \($0.zmanager.errors))" }
                .joined(separator: "; ") + "."))
        }
        for point in result.points {
            if let note = point.calibrationNote { notes.append(ReportNote(text: "No ratio for `\(point.id)`: \(note).")) }
        }
        let uncalibrated = result.points.filter { ($0.bare == nil || $0.ratios == nil) && $0.calibrationNote == nil }
        if !uncalibrated.isEmpty {
            notes.append(ReportNote(text: "No bare calibration (no ratios; `compare` falls back to absolute numbers): "
                + uncalibrated.map { "`\($0.id)`" }.joined(separator: ", ") + "."))
        }
        let limited = result.points.filter(\.generatorMayLimit)
        if !limited.isEmpty {
            notes.append(ReportNote(text: "Load generator headroom below \(Format.fixed(GeneratorCeiling.requiredHeadroom, 1))× "
                + "(the generator alone through one forwarder is not twice as fast as the pipeline, so it may share the "
                + "bottleneck): " + limited.map { point in
                    let generator = point.generator!
                    // Beside a C client through the same forwarder: what this machine allows at all.
                    let versusC = generator.overReference.map { "; \(Format.fixed($0, 2)) of a C client's ceiling" } ?? ""
                    return "`\(point.id)` (\(Format.fixed(generator.headroom, 1))×\(versusC))"
                }.joined(separator: "; ") + "."))
        }
        let inaccurate = result.points.filter { ($0.bareOverReference ?? 1) < 0.9 }
        if !inaccurate.isEmpty {
            notes.append(ReportNote(text: "The bare calibration reached less than 0.90 of the C reference program at: "
                + inaccurate.map { "`\($0.id)` (\(Format.fixed($0.bareOverReference!, 2)))" }.joined(separator: "; ")
                + ": ratios there flatter ZManager."))
        }
        let unsent = result.points.filter { ($0.zmanager.unsent ?? 0) > 0 }
        if !unsent.isEmpty {
            notes.append(ReportNote(text: "Scheduled messages never sent (counted, and recorded in the corrected histogram as "
                + "waiting until the phase ended): " + unsent.map { "`\($0.id)` (\($0.zmanager.unsent!))" }.joined(separator: "; ") + "."))
        }
        notes.append(ReportNote(text: "Latency runs from the load generator's send of a message to its receipt of the result. "
            + "Corrected latency counts from each message's intended send time (coordinated-omission safe); "
            + "uncorrected counts from its actual send time, as a naive tool would."))
        notes.append(ReportNote(text: "Ratios divide ZManager by the bare ZManager topology (the same sockets, hops, deployment, "
            + "HWMs and handler cost, forwarding in C with no logic) measured right before or after it: repeats alternate "
            + "ZManager/bare and each ratio is ZManager_i ÷ bare_i; the table gives their median. Throughput ÷ bare is "
            + "higher-is-better (1.00 = the physical limit of the topology), latency ÷ bare lower-is-better."))
        let repeats = Set(result.points.map(\.repeats.count)).sorted()
        if !repeats.isEmpty {
            notes.append(ReportNote(text: "Each row is the repeat with the median throughput of "
                + repeats.map(String.init).joined(separator: " or ") + " repeat(s); 'msg/s min…max' shows the spread. "
                + "A single run on a shared VM varies by about ±30 %."))
        }
        return notes
    }
}

/// Number formatting shared by the reports and `compare`.
enum Format {
    static func fixed(_ value: Double, _ digits: Int) -> String {
        guard value.isFinite else { return value.isNaN ? "n/a" : (value > 0 ? "∞" : "-∞") }
        return String(format: "%.\(digits)f", value)
    }

    /// Three significant digits, without trailing zeros after the point (`1.5`, `12.3`, `250`).
    static func significant(_ value: Double) -> String {
        guard value.isFinite else { return fixed(value, 0) }
        let magnitude = abs(value)
        let text: String
        if magnitude >= 100 || magnitude == 0 {
            text = fixed(value, 0)
        } else if magnitude >= 10 {
            text = fixed(value, 1)
        } else {
            text = fixed(value, 2)
        }
        guard text.contains(".") else { return text }
        var trimmed = Substring(text)
        while trimmed.hasSuffix("0") { trimmed = trimmed.dropLast() }
        if trimmed.hasSuffix(".") { trimmed = trimmed.dropLast() }
        return String(trimmed)
    }

    /// `850 ns`, `12.3 µs`, `1.25 ms`, `2.1 s`.
    static func nanoseconds(_ value: Double) -> String {
        let magnitude = abs(value)
        if magnitude < 1_000 { return "\(significant(value)) ns" }
        if magnitude < 1_000_000 { return "\(significant(value / 1_000)) µs" }
        if magnitude < 1_000_000_000 { return "\(significant(value / 1_000_000)) ms" }
        return "\(significant(value / 1_000_000_000)) s"
    }

    /// Messages per second: `950`, `45.6k`, `1.23M`.
    static func rate(_ value: Double) -> String {
        let magnitude = abs(value)
        if magnitude < 1_000 { return significant(value) }
        if magnitude < 1_000_000 { return significant(value / 1_000) + "k" }
        return significant(value / 1_000_000) + "M"
    }

    static func megabytes(_ value: Double) -> String {
        value < 0.01 && value > 0 ? String(format: "%.2g", value) : significant(value)
    }

    static func ratio(_ value: Double?) -> String {
        guard let value else { return "—" }
        return fixed(value, 2)
    }

    /// `64 B`, `64 KiB`, `1.5 MiB`, `16 GiB`.
    static func bytes(_ value: UInt64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var scaled = Double(value)
        var unit = 0
        while scaled >= 1024 && unit < units.count - 1 {
            scaled /= 1024
            unit += 1
        }
        return "\(significant(scaled)) \(units[unit])"
    }

    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "? s" }
        if seconds < 120 { return "\(significant(seconds)) s" }
        let total = Int(seconds.rounded())
        return total >= 3600 ? "\(total / 3600) h \(total % 3600 / 60) min" : "\(total / 60) min \(total % 60) s"
    }

    /// A relative change with its sign: `+3.2 %`, `-15.0 %`, `±0.0 %`.
    static func percentChange(_ change: Double?) -> String {
        guard let change else { return "—" }
        guard change.isFinite else { return change > 0 ? "+∞ %" : "n/a" }
        let percent = change * 100
        if abs(percent) < 0.05 { return "±0.0 %" }
        return (percent > 0 ? "+" : "") + fixed(percent, 1) + " %"
    }

    static func markdownEscaped(_ text: String) -> String {
        text.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ")
    }
}
