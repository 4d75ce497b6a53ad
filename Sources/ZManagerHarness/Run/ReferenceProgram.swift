import Foundation

/// The C reference program of the topology, `zmanager-bare-c` (built next to `zmanager`):
/// the bare stages with a C client, no Swift anywhere. Running it beside the harness's own
/// bare calibration shows how close the instrument is to the physical limit.
struct ReferenceProgram {
    let executable: URL?

    /// Runs one closed-loop measurement of `point` and reads the program's JSON line. With
    /// `loopback`, the C client runs through one forwarder (PULL → PUB) instead of the
    /// topology: a C client's own ceiling, to hold the harness's generator against.
    func run(_ point: PointSpec, loopback: Bool = false) throws -> ReferenceRun {
        guard case .closed(let inFlight) = point.load else {
            throw HarnessError("the C reference runs closed-loop points only")
        }
        guard let program = executable?.deletingLastPathComponent().appendingPathComponent("zmanager-bare-c"),
              FileManager.default.isExecutableFile(atPath: program.path) else {
            throw HarnessError("calibration.reference needs zmanager-bare-c next to the zmanager executable (swift build --product zmanager-bare-c)")
        }
        var arguments = ["--transport", point.transport.rawValue, "--deployment", point.deployment.rawValue,
                         "--workers", "\(point.workers)", "--in-flight", "\(inFlight)", "--size", "\(point.payload.mean)",
                         "--hwm", "\(point.highWaterMark)",
                         "--warmup-ms", "\(LoadGenerator.nanoseconds(point.warmup) / 1_000_000)",
                         "--measure-ms", "\(LoadGenerator.nanoseconds(point.measureDuration ?? .seconds(2)) / 1_000_000)"]
        if loopback { arguments.append("--loopback") }
        if case .spin(let microseconds) = point.handler, !loopback {
            arguments += ["--spin-ns", "\(microseconds * 1000 * BenchmarkFlows.workerSteps(point.flow))"]
        }
        let process = Process()
        process.executableURL = program
        process.arguments = arguments
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let errorText = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw HarnessError("zmanager-bare-c \(arguments.joined(separator: " ")) failed (status \(process.terminationStatus)): \(errorText)")
        }
        return try Self.parse(data, command: arguments.joined(separator: " "))
    }

    struct Line: Decodable {
        var msgs_per_sec: Double
        var p50_ns: UInt64
        var p99_ns: UInt64
        var lost: Int
    }

    static func parse(_ data: Data, command: String) throws -> ReferenceRun {
        guard let line = try? JSONDecoder().decode(Line.self, from: data) else {
            throw HarnessError("zmanager-bare-c \(command) printed no result line: \(String(decoding: data, as: UTF8.self))")
        }
        return ReferenceRun(messagesPerSecond: line.msgs_per_sec, p50Nanoseconds: line.p50_ns, p99Nanoseconds: line.p99_ns,
                            lost: line.lost)
    }
}
