import CBareTopology
import Foundation
import ZManager
import ZeroMQ

/// The calibration: the ZManager topology with no ZManager logic, as a C program runs it.
///
/// service PUSH → Subject PULL/PUSH → N workers PULL/PUSH → Integration Manager PULL/PUB →
/// service SUB, one frame per message. Every stage is `zmb_forward` (C, `CBareTopology`),
/// the same code the standalone reference program `zmanager-bare-c` runs: the Subject and
/// the Integration Manager forward the received `zmq_msg_t` untouched, a worker rewrites the
/// four bytes `Push` → `done` in place and runs the point's handler cost (spin, stall) as
/// often as ZManager's workers run the handler. Threads share one context; processes run
/// each stage in a `zmanager bare-stage` process with its own context.
final class BarePipeline: PipelineUnderTest {
    let context: Context
    let frontEndpoint: String
    let publishEndpoint: String
    let wire: PipelineWire
    let stageProcesses: [(process: StageProcess, stage: String)]
    private var threads: [SocketThread] = []
    /// The workers' shared stall counter (C writes it with atomic adds); freed after they stop.
    private let stallCounter: UnsafeMutablePointer<UInt64>

    init(point: PointSpec, executable: URL?) throws {
        let flow = BenchmarkFlows.name(point.flow)
        wire = PipelineWire.bare(flow: flow, form: .single)
        context = try Context(threadNamePrefix: StageCPU.pipelineContextPrefix)
        stallCounter = .allocate(capacity: 1)
        stallCounter.initialize(to: 0)
        let work = StageWork(Self.work(point, rewriteOffset: wire.rewriteOffset, counter: stallCounter))
        let hwm = point.highWaterMark

        if point.deployment == .processes {
            guard point.transport != .inproc else {
                throw HarnessError("deployment: processes needs ipc or tcp; inproc endpoints exist only inside one process")
            }
            guard let executable else { throw HarnessError("deployment: processes needs the zmanager executable to start stage processes") }
            let endpoints = try Self.fixedEndpoints(point)
            frontEndpoint = endpoints.subjectFront
            publishEndpoint = endpoints.integrationManagerPub
            func stage(_ role: String, _ input: String, _ output: String, _ extra: [String] = []) throws -> StageProcess {
                try StageProcess.start(executable, ["bare-stage", "--role", role, "--input", input, "--output", output,
                                                    "--hwm", "\(hwm)"] + extra)
            }
            var children: [(process: StageProcess, stage: String)] = []
            do {
                children.append((try stage("integration-manager", endpoints.integrationManagerPull, endpoints.integrationManagerPub),
                                 "integration-manager"))
                children.append((try stage("subject", endpoints.subjectFront, endpoints.subjectWorkers), "subject"))
                for _ in 0..<point.workers {
                    children.append((try stage("worker", endpoints.subjectWorkers, endpoints.integrationManagerPull,
                                               BareStageArguments.arguments(for: work.work)), "worker"))
                }
            } catch {
                StageProcess.stop(children.map(\.process))
                throw error
            }
            stageProcesses = children
            return
        }

        stageProcesses = []
        let endpoints = Endpoints.ephemeral(point)
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
        threads.append(SocketThread.start(name: "bare-im") { BarePipeline.forward(from: imPull, to: imPub, work: nil) })
        threads.append(SocketThread.start(name: "bare-subject") { BarePipeline.forward(from: front, to: toWorkers, work: nil) })
        for index in 0..<point.workers {
            let input = try Self.socket(context, hwm, .pull)
            try input.connect(workersEndpoint)
            let output = try Self.socket(context, hwm, .push)
            try output.connect(imEndpoint)
            threads.append(SocketThread.start(name: "bare-w\(index)") { BarePipeline.forward(from: input, to: output, work: work) })
        }
    }

    /// What a bare worker does per message for this point.
    static func work(_ point: PointSpec, rewriteOffset: Int32, counter: UnsafeMutablePointer<UInt64>?) -> zmb_work {
        var spin: UInt64 = 0, every: UInt64 = 0, stall: UInt64 = 0
        switch point.handler {
        case .echo:
            break
        case .spin(let microseconds):
            spin = UInt64(microseconds) * 1000
        case .stall(let milliseconds, let calls):
            every = UInt64(calls)
            stall = UInt64(milliseconds) * 1_000_000
        }
        return zmb_work(rewriteOffset: rewriteOffset, steps: BenchmarkFlows.workerSteps(point.flow), spinNanoseconds: spin,
                        stallEvery: every, stallNanoseconds: stall, counter: counter)
    }

    /// Endpoints a separate process can bind: ipc paths, or tcp ports picked now (on loopback;
    /// the request and publish endpoints on the point's ``PointSpec/bindAddress`` if it has one).
    static func fixedEndpoints(_ point: PointSpec) throws -> Endpoints {
        guard point.transport == .tcp else { return .ephemeral(point) }
        let context = try Context()
        defer { context.terminate() }
        func freePort(_ address: String = "127.0.0.1") throws -> String {
            let socket = try Socket(context, .pull)
            defer { socket.close() }
            try socket.bind("tcp://\(address):*")
            return try socket.lastEndpoint
        }
        let exposed = point.bindAddress ?? "127.0.0.1"
        return Endpoints(subjectFront: try freePort(exposed), subjectWorkers: try freePort(),
                         integrationManagerPull: try freePort(), integrationManagerPub: try freePort(exposed))
    }

    static func socket(_ context: Context, _ hwm: Int, _ type: SocketType) throws -> Socket {
        let socket = try Socket(context, type)
        try socket.setSendHighWaterMark(hwm)
        try socket.setReceiveHighWaterMark(hwm)
        return socket
    }

    /// Runs one stage until the context shuts down, then closes its sockets.
    static func forward(from input: Socket, to output: Socket, work: StageWork?) {
        if var work = work?.work {
            _ = zmb_forward(input.unsafeHandle, output.unsafeHandle, &work, nil)
        } else {
            _ = zmb_forward(input.unsafeHandle, output.unsafeHandle, nil, nil)
        }
        input.close()
        output.close()
    }

    func stop() {
        StageProcess.stop(stageProcesses.map(\.process))
        context.shutdown()
        for thread in threads { thread.join() }
        context.terminate()
        stallCounter.deallocate()
    }
}

/// The load generator's own ceiling: client → one forwarder (PULL → PUB, rewriting `Push`
/// to `done` in place) → client, on the point's transport, in the point's wire form.
final class LoopbackPipeline: PipelineUnderTest {
    let context: Context
    let frontEndpoint: String
    let publishEndpoint: String
    let wire: PipelineWire
    let stageProcesses: [(process: StageProcess, stage: String)] = []
    private let thread: SocketThread

    init(point: PointSpec, form: WireForm) throws {
        wire = PipelineWire.bare(flow: BenchmarkFlows.name(point.flow), form: form)
        context = try Context(threadNamePrefix: StageCPU.pipelineContextPrefix)
        let endpoints = Endpoints.ephemeral(transport: point.transport.rawValue)
        let input = try BarePipeline.socket(context, point.highWaterMark, .pull)
        try input.bind(endpoints.subjectFront)
        let output = try BarePipeline.socket(context, point.highWaterMark, .pub)
        try output.bind(endpoints.integrationManagerPub)
        frontEndpoint = try input.lastEndpoint
        publishEndpoint = try output.lastEndpoint
        let loopWork = StageWork(zmb_work(rewriteOffset: wire.rewriteOffset, counter: nil))
        thread = SocketThread.start(name: "bare-im") { BarePipeline.forward(from: input, to: output, work: loopWork) }
    }

    func stop() {
        context.shutdown()
        thread.join()
        context.terminate()
    }
}

extension zmb_work {
    /// A stage's work: rewrite `Push` → `done` at `rewriteOffset` (-1: none), and per message
    /// `steps` handler calls, each spinning and stalling as given.
    init(rewriteOffset: Int32, steps: Int = 1, spinNanoseconds: UInt64 = 0, stallEvery: UInt64 = 0,
         stallNanoseconds: UInt64 = 0, counter: UnsafeMutablePointer<UInt64>?) {
        self.init()
        rewrite_offset = rewriteOffset
        rewrite = (CChar(UInt8(ascii: "d")), CChar(UInt8(ascii: "o")), CChar(UInt8(ascii: "n")), CChar(UInt8(ascii: "e")))
        self.steps = UInt32(Swift.max(steps, 1))
        spin_ns = spinNanoseconds
        stall_every = stallEvery
        stall_ns = stallNanoseconds
        stall_counter = counter
    }
}

/// A worker's `zmb_work`, handed to its stage thread. `@unchecked Sendable`: it is copied
/// by value; its only pointer is the shared stall counter, which the C code touches with
/// atomic adds only, and which ``BarePipeline`` frees after every stage thread has ended.
struct StageWork: @unchecked Sendable {
    var work: zmb_work
    init(_ work: zmb_work) { self.work = work }
}

/// `zmanager bare-stage` arguments for a worker's work (the command turns them back into a
/// `zmb_work`; the stall counter is per process there, as ZManager's worker processes count).
enum BareStageArguments {
    static func arguments(for work: zmb_work) -> [String] {
        ["--rewrite-offset", "\(work.rewrite_offset)", "--steps", "\(work.steps)", "--spin-ns", "\(work.spin_ns)",
         "--stall-every", "\(work.stall_every)", "--stall-ns", "\(work.stall_ns)"]
    }
}

/// One stage of the bare topology in its own process (what `zmanager bare-stage` runs).
public struct BareStage: Sendable {
    public enum Role: String, Sendable, CaseIterable {
        case subject, worker, integrationManager = "integration-manager"
    }

    public var role: Role
    public var input: String
    public var output: String
    public var highWaterMark: Int
    public var rewriteOffset: Int32
    public var steps: Int
    public var spinNanoseconds: UInt64
    public var stallEvery: UInt64
    public var stallNanoseconds: UInt64

    public init(role: Role, input: String, output: String, highWaterMark: Int, rewriteOffset: Int32 = -1, steps: Int = 1,
                spinNanoseconds: UInt64 = 0, stallEvery: UInt64 = 0, stallNanoseconds: UInt64 = 0) {
        self.role = role
        self.input = input
        self.output = output
        self.highWaterMark = highWaterMark
        self.rewriteOffset = rewriteOffset
        self.steps = steps
        self.spinNanoseconds = spinNanoseconds
        self.stallEvery = stallEvery
        self.stallNanoseconds = stallNanoseconds
    }

    /// Binds or connects as the role does, then forwards until the process is stopped
    /// (SIGTERM ends it; a bare stage holds nothing that needs draining).
    public func run() throws -> Never {
        // A parent may have started this process with signals blocked (a test runner's
        // worker threads block nearly all, and the mask is inherited): unblock them before
        // libzmq's threads start, so SIGTERM stops the stage.
        var none = sigset_t()
        sigemptyset(&none)
        pthread_sigmask(SIG_SETMASK, &none, nil)
        let context = try Context()
        let (inputType, outputType): (SocketType, SocketType) = role == .integrationManager ? (.pull, .pub) : (.pull, .push)
        let input = try BarePipeline.socket(context, highWaterMark, inputType)
        let output = try BarePipeline.socket(context, highWaterMark, outputType)
        switch role {
        case .subject, .integrationManager:
            try input.bind(self.input)
            try output.bind(self.output)
        case .worker:
            try input.connect(self.input)
            try output.connect(self.output)
        }
        let counter = UnsafeMutablePointer<UInt64>.allocate(capacity: 1)
        counter.initialize(to: 0)
        var work = zmb_work(rewriteOffset: role == .worker ? rewriteOffset : -1, steps: steps, spinNanoseconds: spinNanoseconds,
                            stallEvery: stallEvery, stallNanoseconds: stallNanoseconds, counter: counter)
        SocketThread.nameCurrentThread("bare-\(role == .worker ? "w" : role.rawValue)")
        let status = zmb_forward(input.unsafeHandle, output.unsafeHandle, &work, nil)
        throw HarnessError("bare \(role.rawValue) stage stopped: \(String(cString: strerror(status)))")
    }
}
