import Foundation
import ZManager
import ZeroMQ

/// What the load generator drives: something that takes requests on a PULL endpoint and
/// publishes answers on a PUB endpoint. Either the real ZManager topology or the bare
/// libzmq pipeline with the same sockets and hops and no logic (the calibration).
protocol PipelineUnderTest: AnyObject {
    /// Where the load generator pushes requests.
    var frontEndpoint: String { get }
    /// Where it subscribes for answers.
    var publishEndpoint: String { get }
    /// The context inproc endpoints live in (clients of an inproc pipeline must share it).
    var context: Context { get }
    /// Subscription prefixes that carry answers.
    var answerPrefixes: [String] { get }
    /// Processes whose CPU and memory belong to the pipeline (worker processes).
    var childProcesses: [Process] { get }
    func stop()
}

/// The flows the harness runs, by kind. Every flow is named `Bench_<kind>`.
enum BenchmarkFlows {
    static func name(_ kind: PointSpec.FlowKind) -> String { "Bench_\(kind.rawValue)" }

    static func flowText(_ kind: PointSpec.FlowKind) -> String {
        let name = name(kind)
        switch kind {
        case .echo:
            return "[\(name)]\n?\(name)?Push\nSubject?\(name)?Work\n??done\n"
        case .steps3:
            return "[\(name)]\n?\(name)?Push\nSubject?\(name)?Work\n?\(name)?Work2\n?\(name)?Work3\n??done\n"
        case .publish:
            return "[\(name)]\n?\(name)?Push\nSubject?\(name)?Work\n?\(name)@PUBLISH?Notify\n??done\n"
        case .async:
            return "[\(name)]\n?\(name)?Push\nSubject?\(name)?Work\n?\(name)@ASYNC?Finish\n??done\n"
        }
    }

    static func mappingText(_ handler: PointSpec.Handler) -> String {
        """
        [actionmapping]
        ??Work = \(handler.target)
        ??Work2 = \(handler.target)
        ??Work3 = \(handler.target)
        ??Notify = zmanager.builtin.echo
        ??Finish = zmanager.builtin.echo
        """
    }
}

/// The real thing: a `ZManagerNode` in this process, with its workers as threads or as
/// `zmanager worker` processes.
final class ZManagerPipeline: PipelineUnderTest {
    let node: ZManagerNode
    let childProcesses: [Process]
    let answerPrefixes: [String]
    private let directory: URL?

    var frontEndpoint: String { node.endpoints.subjectFront }
    var publishEndpoint: String { node.endpoints.integrationManagerPub }
    var context: Context { node.context }

    init(point: PointSpec, executable: URL?) throws {
        let flowText = BenchmarkFlows.flowText(point.flow)
        let mappingText = BenchmarkFlows.mappingText(point.handler)
        let flows = try FlowTable(parsing: flowText, path: "harness-flows.ini")
        let mapping = try ActionMapping(parsing: mappingText, path: "harness-mapping.ini")
        var limits = RoleLimits()
        limits.highWaterMark = point.highWaterMark
        let inProcess = point.deployment == .threads
        node = try ZManagerNode(endpoints: .ephemeral(transport: point.transport.rawValue), flows: flows, mapping: mapping,
                                handlers: .withBuiltins, options: .init(workers: inProcess ? point.workers : 0, limits: limits))
        let flow = BenchmarkFlows.name(point.flow)
        var prefixes = [Topics.resultPrefix(flow: flow), Topics.errorPrefix]
        if point.flow == .async { prefixes.append(Topics.parkedPrefix(flow: flow)) }
        answerPrefixes = prefixes

        guard !inProcess else {
            childProcesses = []
            directory = nil
            return
        }
        guard point.transport != .inproc else {
            node.stop(drainTimeout: .zero)
            throw HarnessError("deployment: processes needs ipc or tcp; inproc endpoints exist only inside one process")
        }
        guard let executable else {
            node.stop(drainTimeout: .zero)
            throw HarnessError("deployment: processes needs the zmanager executable to start worker processes")
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("zmanager-harness-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try flowText.write(to: directory.appendingPathComponent("flows.ini"), atomically: true, encoding: .utf8)
        try mappingText.write(to: directory.appendingPathComponent("mapping.ini"), atomically: true, encoding: .utf8)
        try "flows: flows.ini\nmappings: mapping.ini\nlimits:\n  high_water_mark: \(point.highWaterMark)\n"
            .write(to: directory.appendingPathComponent("zmanager.yaml"), atomically: true, encoding: .utf8)
        self.directory = directory
        var children: [Process] = []
        for index in 0..<point.workers {
            let process = Process()
            process.executableURL = executable
            process.arguments = ["worker", "--config", directory.appendingPathComponent("zmanager.yaml").path,
                                 "--name", "p\(index)", "--subject-workers", node.endpoints.subjectWorkers,
                                 "--subject", node.endpoints.subjectFront,
                                 "--integration-manager", node.endpoints.integrationManagerPull]
            try process.run()
            children.append(process)
        }
        childProcesses = children
    }

    func stop() {
        for child in childProcesses where child.isRunning { child.terminate() }
        for child in childProcesses { child.waitUntilExit() }
        node.stop(drainTimeout: .zero)
        if let directory { try? FileManager.default.removeItem(at: directory) }
    }
}

/// The calibration: the same sockets, hops, threads and HWMs as the ZManager topology —
/// front PULL → PUSH round-robin → N forwarders → PULL → PUB — with nothing but
/// frame forwarding. Always threads in this process.
final class BarePipeline: PipelineUnderTest {
    let context: Context
    let frontEndpoint: String
    let publishEndpoint: String
    let answerPrefixes = [""]
    let childProcesses: [Process] = []
    private var threads: [SocketThread] = []

    init(point: PointSpec) throws {
        let context = try Context()
        self.context = context
        let endpoints = Endpoints.ephemeral(transport: point.transport.rawValue)
        let hwm = point.highWaterMark
        let imPull = try Self.socket(context, hwm, .pull)
        try imPull.bind(endpoints.integrationManagerPull)
        let imPub = try Self.socket(context, hwm, .pub)
        try imPub.bind(endpoints.integrationManagerPub)
        let front = try Self.socket(context, hwm, .pull)
        try front.bind(endpoints.subjectFront)
        let toWorkers = try Self.socket(context, hwm, .push)
        try toWorkers.bind(endpoints.subjectWorkers)
        frontEndpoint = try front.lastEndpoint
        publishEndpoint = try imPub.lastEndpoint
        let workersEndpoint = try toWorkers.lastEndpoint
        let imEndpoint = try imPull.lastEndpoint
        threads.append(SocketThread.start(name: "bare-im") { BarePipeline.forward(from: imPull, to: imPub) })
        threads.append(SocketThread.start(name: "bare-subject") { BarePipeline.forward(from: front, to: toWorkers) })
        for index in 0..<point.workers {
            let input = try Self.socket(context, hwm, .pull)
            try input.connect(workersEndpoint)
            let output = try Self.socket(context, hwm, .push)
            try output.connect(imEndpoint)
            threads.append(SocketThread.start(name: "bare-w\(index)") { BarePipeline.forward(from: input, to: output) })
        }
    }

    private static func socket(_ context: Context, _ hwm: Int, _ type: SocketType) throws -> Socket {
        let socket = try Socket(context, type)
        try socket.setSendHighWaterMark(hwm)
        try socket.setReceiveHighWaterMark(hwm)
        return socket
    }

    private static func forward(from input: Socket, to output: Socket) {
        var scratch = Message()
        do {
            while true { _ = try input.forward(to: output, using: &scratch) }
        } catch {}
        input.close()
        output.close()
    }

    func stop() {
        context.shutdown()
        for thread in threads { thread.join() }
        context.terminate()
    }
}

/// A harness failure a person can act on.
public struct HarnessError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
