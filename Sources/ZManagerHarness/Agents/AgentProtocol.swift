import Foundation
import Histogram

/// What `zmanager run` (the coordinator, a REQ socket per agent) and `zmanager agent` (a REP
/// socket) say to each other: one JSON message per frame, strictly request then reply.
///
///     coordinator            agent
///     prepare(job)   ──▶     connects to the pipeline, probes it
///                    ◀──     ready | failed(why)
///     start | abort  ──▶     warmup, measure, drain (or gives up)
///                    ◀──     report(results) | failed(why) | aborted
///
/// Every agent is prepared before any starts, and the starts go out back to back, so the
/// agents load the pipeline on the same schedule, apart by the control messages' network
/// latency (the warmup absorbs it). Each agent times its own round trips on its own clock:
/// no two clocks have to agree.
enum AgentMessage: Codable {
    case prepare(AgentJob)
    case ready
    case start
    case abort
    case aborted
    case report(AgentReport)
    case failed(String)

    func encoded() -> [UInt8] {
        // Every part is plain data the encoder handles; a failure here is a programming error.
        Array(try! JSONEncoder().encode(self))
    }

    static func decode(_ bytes: [UInt8]) throws -> AgentMessage {
        do {
            return try JSONDecoder().decode(AgentMessage.self, from: Data(bytes))
        } catch {
            let text = String(decoding: bytes.prefix(80), as: UTF8.self)
            throw HarnessError("not a message of the agent protocol (\(error)): \"\(text)\"")
        }
    }

    /// What it is, for errors: "ready", "report".
    var name: String {
        switch self {
        case .prepare: "prepare"
        case .ready: "ready"
        case .start: "start"
        case .abort: "abort"
        case .aborted: "aborted"
        case .report: "report"
        case .failed: "failed"
        }
    }
}

/// One agent's part of one measurement.
struct AgentJob: Codable {
    /// This agent's share of the point (``PointSpec/share(_:of:)``).
    var point: PointSpec
    /// The pipeline's request and publish endpoints as bound (`tcp://0.0.0.0:PORT`): the
    /// agent connects to their ports at ``connect``, or at the address it was reached from.
    var frontEndpoint: String
    var publishEndpoint: String
    var wire: PipelineWire
    /// The agent's number, 1…, written into its request ids (``LoadTarget/idTag``).
    var tag: Int
    var connect: String?

    /// `endpoint` with its host replaced by `host` (`tcp://0.0.0.0:5000` → `tcp://10.0.0.1:5000`).
    static func endpoint(_ endpoint: String, at host: String) throws -> String {
        guard endpoint.hasPrefix("tcp://"), let colon = endpoint.lastIndex(of: ":"),
              colon > endpoint.index(endpoint.startIndex, offsetBy: 5) else {
            throw HarnessError("agents reach the pipeline over tcp; its endpoint is \(endpoint)")
        }
        let address = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
        return "tcp://\(address)\(endpoint[colon...])"
    }
}

/// An agent's results: its own ``Measurement`` and the histograms behind it, which the
/// coordinator adds up exactly.
struct AgentReport: Codable {
    var measurement: Measurement
    var recorder: RecorderCounts
    var sendDelay: HistogramCounts?
}

/// A finished ``LatencyRecorder`` as data.
struct RecorderCounts: Codable {
    var corrected: HistogramCounts
    var uncorrected: HistogramCounts
    var intervals: [HistogramCounts]
    var intervalErrors: [Int]
    var intervalLength: UInt64
    /// The last answer's receive time after the measure phase's start, ns.
    var lastReceiveOffset: UInt64
    var wallClockStart: Double

    init(_ recorder: LatencyRecorder) {
        corrected = HistogramCounts(recorder.corrected)
        uncorrected = HistogramCounts(recorder.uncorrected)
        intervals = recorder.intervals.map(HistogramCounts.init)
        intervalErrors = recorder.intervalErrors
        intervalLength = recorder.intervalLength
        lastReceiveOffset = recorder.lastReceive &- recorder.intervalStart
        wallClockStart = recorder.wallClockStart
    }

    func recorder() throws -> LatencyRecorder {
        guard intervals.count == intervalErrors.count else {
            throw HarnessError("an agent's report has \(intervals.count) interval histograms and \(intervalErrors.count) error counts")
        }
        return LatencyRecorder(corrected: try corrected.histogram(), uncorrected: try uncorrected.histogram(),
                               intervals: try intervals.map { try $0.histogram() }, intervalErrors: intervalErrors,
                               intervalLength: intervalLength, lastReceiveOffset: lastReceiveOffset, wallClockStart: wallClockStart)
    }
}

/// A latency histogram as its non-empty buckets: each bucket's value and count. Recording
/// each value back with its count rebuilds the same histogram bucket for bucket (what
/// HdrHistogram's add does), so agents' histograms merge exactly; a few hundred buckets
/// travel instead of the whole counts array.
struct HistogramCounts: Codable, Equatable {
    var values: [UInt64]
    var counts: [UInt64]

    init(_ histogram: Histogram<UInt64>) {
        values = []
        counts = []
        for bucket in histogram.recordedValues() {
            values.append(bucket.value)
            counts.append(bucket.count)
        }
    }

    func histogram() throws -> Histogram<UInt64> {
        guard values.count == counts.count else {
            throw HarnessError("a histogram in an agent's report has \(values.count) values and \(counts.count) counts")
        }
        var histogram = LatencyRecorder.makeHistogram()
        for (value, count) in zip(values, counts) where !histogram.record(value, count: count) {
            throw HarnessError("a histogram in an agent's report has a value out of range: \(value) ns")
        }
        return histogram
    }
}
