import Dispatch
import Foundation
import ZManager
import ZeroMQ

/// What the load generator drives: something that takes requests on a PULL endpoint and
/// publishes answers on a PUB endpoint. The real ZManager topology (``ZManagerPipeline``),
/// the bare topology it is calibrated against (``BarePipeline``), or one forwarder that
/// measures the generator itself (``LoopbackPipeline``).
protocol PipelineUnderTest: AnyObject {
    /// Where the load generator pushes requests.
    var frontEndpoint: String { get }
    /// Where it subscribes for answers.
    var publishEndpoint: String { get }
    /// The context inproc endpoints live in (clients of an inproc pipeline must share it).
    var context: Context { get }
    /// How requests and answers look.
    var wire: PipelineWire { get }
    /// Processes whose CPU and memory belong to the pipeline, with the stage they count as.
    var stageProcesses: [(process: StageProcess, stage: String)] { get }
    func stop()
}

/// The bytes a pipeline expects and answers with.
struct PipelineWire: Sendable, Codable {
    /// How requests go out (answers come in the same form).
    var form: WireForm
    /// A request's header up to its id: `Bench_echo~~harness~~Push~`.
    var requestPrefix: [UInt8]
    /// A result's header up to its id; its body starts after the id and `~`.
    var resultPrefix: [UInt8]
    /// An ASYNC park notice's header prefix (empty: the flow has none).
    var parkedPrefix: [UInt8] = []
    /// Subscriptions of the generator's SUB socket.
    var subscriptions: [String]

    /// Requests as the harness sends them: source `harness`, action `Push`.
    static func requestPrefix(flow: String) -> [UInt8] { Array("\(flow)~~harness~~Push~".utf8) }

    /// What the bare stages answer: the request header with `Push` rewritten to `done` in
    /// place by the worker, as a C program would do it (no new header, no copy).
    static func bare(flow: String, form: WireForm) -> PipelineWire {
        let result = Array("\(flow)~~harness~~done~".utf8)
        return PipelineWire(form: form, requestPrefix: requestPrefix(flow: flow), resultPrefix: result,
                            subscriptions: [String(decoding: result, as: UTF8.self)])
    }

    /// Offset of `Push` in ``requestPrefix``: what the bare worker rewrites.
    var rewriteOffset: Int32 { Int32(requestPrefix.count - "Push~".utf8.count) }
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

    /// Handler calls per request in a worker: what the bare worker repeats.
    static func workerSteps(_ kind: PointSpec.FlowKind) -> Int { kind == .steps3 ? 3 : 1 }

    /// Why a flow has no bare equivalent (its ratio is not given), nil when it has one.
    static func noBareEquivalent(_ kind: PointSpec.FlowKind) -> String? {
        switch kind {
        case .echo, .steps3:
            nil
        case .publish:
            "the PUBLISH step adds a publication per request that no bare chain reproduces faithfully; ZManager is measured alone"
        case .async:
            "the ASYNC step adds a park at the Subject and a resume by the generator; no bare chain reproduces it; ZManager is measured alone"
        }
    }
}

/// The real thing: a `ZManagerNode` in this process, with its workers as threads or as
/// `zmanager worker` processes.
final class ZManagerPipeline: PipelineUnderTest {
    let node: ZManagerNode
    let stageProcesses: [(process: StageProcess, stage: String)]
    let wire: PipelineWire
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
        limits.flowTimeout = point.flowTimeout
        let inProcess = point.deployment == .threads
        guard inProcess || point.transport != .inproc else {
            throw HarnessError("deployment: processes needs ipc or tcp; inproc endpoints exist only inside one process")
        }
        guard inProcess || executable != nil else {
            throw HarnessError("deployment: processes needs the zmanager executable to start worker processes")
        }
        // CURVE: the node's own key pair, which its authenticator always lets in, is what the load
        // generator (on the node's context) and the worker processes (on its certificate) present.
        let serverKeys = point.security == .curve ? try CurveKeyPair.generate() : nil
        let security = serverKeys.map {
            NodeSecurity(curve: CurveSecurity(server: $0, serverKey: $0.publicKey, client: $0), allowed: [:])
        }
        node = try ZManagerNode(endpoints: .ephemeral(point), flows: flows, mapping: mapping,
                                handlers: .withBuiltins,
                                options: .init(workers: inProcess ? point.workers : 0, limits: limits,
                                               dispatch: DispatchOptions(mode: point.dispatch, credit: point.credit),
                                               threadNamePrefix: StageCPU.pipelineContextPrefix, security: security,
                                               inProcessRings: point.handoff == .rings))
        let flow = BenchmarkFlows.name(point.flow)
        var subscriptions = [Topics.resultPrefix(flow: flow), Topics.errorPrefix]
        if point.flow == .async { subscriptions.append(Topics.parkedPrefix(flow: flow)) }
        wire = PipelineWire(form: point.form.wireForm(for: point.payload), requestPrefix: PipelineWire.requestPrefix(flow: flow),
                            resultPrefix: Array(Topics.resultPrefix(flow: flow).utf8),
                            parkedPrefix: point.flow == .async ? Array(Topics.parkedPrefix(flow: flow).utf8) : [],
                            subscriptions: subscriptions)

        guard !inProcess, let executable else {
            stageProcesses = []
            directory = nil
            return
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("zmanager-harness-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try flowText.write(to: directory.appendingPathComponent("flows.ini"), atomically: true, encoding: .utf8)
        try mappingText.write(to: directory.appendingPathComponent("mapping.ini"), atomically: true, encoding: .utf8)
        var config = "flows: flows.ini\nmappings: mapping.ini\nlimits:\n  high_water_mark: \(point.highWaterMark)\ndispatch:\n  mode: \(point.dispatch.rawValue)\n  credit: \(point.credit)\n"
        if let serverKeys {
            _ = try CurveCertificate.write(keyPair: serverKeys, name: "server", directory: directory.path)
            config += "security:\n  curve:\n    secret_key: server.key_secret\n"
        }
        try config.write(to: directory.appendingPathComponent("zmanager.yaml"), atomically: true, encoding: .utf8)
        self.directory = directory
        var children: [(process: StageProcess, stage: String)] = []
        for index in 0..<point.workers {
            children.append((try StageProcess.start(executable, [
                "worker", "--config", directory.appendingPathComponent("zmanager.yaml").path,
                "--name", "p\(index)", "--subject-workers", node.endpoints.subjectWorkers,
                "--subject", node.endpoints.subjectFront,
                "--integration-manager", node.endpoints.integrationManagerPull,
            ]), "worker"))
        }
        stageProcesses = children
    }

    func stop() {
        StageProcess.stop(stageProcesses.map(\.process))
        node.stop(drainTimeout: .zero)
        if let directory { try? FileManager.default.removeItem(at: directory) }
    }
}

extension Endpoints {
    /// ``ephemeral(transport:tag:)`` for a point: over tcp with a ``PointSpec/bindAddress``,
    /// the request and publish endpoints (what load generators on other hosts reach) bind on
    /// that address; the stages' own endpoints stay on loopback.
    static func ephemeral(_ point: PointSpec) -> Endpoints {
        var endpoints = Endpoints.ephemeral(transport: point.transport.rawValue)
        if point.transport == .tcp, let address = point.bindAddress {
            endpoints.subjectFront = "tcp://\(address):*"
            endpoints.integrationManagerPub = "tcp://\(address):*"
        }
        return endpoints
    }
}

/// One of the pipeline's own processes (a worker, or a bare stage), stopped within a bound.
final class StageProcess {
    let process = Process()
    private let exited = DispatchSemaphore(value: 0)

    var processIdentifier: pid_t { process.processIdentifier }

    static func start(_ executable: URL, _ arguments: [String]) throws -> StageProcess {
        let stage = StageProcess()
        stage.process.executableURL = executable
        stage.process.arguments = arguments
        stage.process.standardOutput = FileHandle.nullDevice
        let exited = stage.exited
        stage.process.terminationHandler = { _ in exited.signal() }
        try stage.process.run()
        return stage
    }

    /// SIGTERM to every process, then up to 5 s for each to exit; one that has not is killed.
    static func stop(_ processes: [StageProcess]) {
        for child in processes where child.process.isRunning { child.process.terminate() }
        for child in processes {
            if child.exited.wait(timeout: .now() + 5) == .timedOut {
                kill(child.processIdentifier, SIGKILL)
                _ = child.exited.wait(timeout: .now() + 5)
            }
        }
    }
}

/// A harness failure a person can act on.
public struct HarnessError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
