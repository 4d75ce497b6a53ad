import Foundation
import Synchronization
import Testing
import ZManager
import ZeroMQ

/// `zmanager serve` and `zmanager worker` as a user runs them: real processes, real signals.
@Suite("zmanager serve, started and stopped by a test")
struct ServeCommandTests {
    /// The `zmanager` executable SwiftPM built next to the test bundle.
    static var executable: URL {
        get throws {
            let candidates = [Bundle.main.bundleURL, Bundle.main.bundleURL.deletingLastPathComponent(),
                              URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()]
            for directory in candidates {
                let url = directory.appendingPathComponent("zmanager")
                if FileManager.default.isExecutableFile(atPath: url.path) { return url }
            }
            throw ServeTestError("zmanager executable not found next to \(candidates.map(\.path))")
        }
    }

    struct ServeTestError: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    /// A running `zmanager serve` with a temporary configuration.
    final class Server {
        let process = Process()
        let output = OutputBuffer()
        let exited = ExitSignal()
        let directory: URL
        var endpoints = Endpoints()
        /// Every `key=value` of the ready line.
        var readyFields: [String: String] = [:]

        /// `host`: the address tcp endpoints bind (127.0.0.1; a test's own veth address for
        /// workers in a network namespace). `launcher`: a command serve runs under
        /// (`ip netns exec NAME` runs it inside a network namespace). `multicast`: the
        /// `integration_manager_multicast` group; `extraFlows`: flows after the usual ones.
        init(transport: TestTransport, workers: Int, deployment: String, extraConfiguration: String = "",
             host: String = "127.0.0.1", launcher: [String] = [], multicast: String? = nil, extraFlows: String = "") throws {
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("zmanager-serve-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let tag = UUID().uuidString.prefix(8)
            func endpoint(_ role: String) -> String {
                transport == .ipc ? "ipc://\(directory.path)/\(role)-\(tag).sock" : "tcp://\(host):*"
            }
            try """
                [Echo]
                ?Echo?Push
                Subject?Echo?Echo
                ??done

                [Tagged]
                ?Tagged?Push
                Subject?Tagged?Tag
                ??done

                [Slow]
                ?Slow?Push
                Subject?Slow?Spin
                Subject?Slow?Tag
                ??done

                \(extraFlows)
                """.write(to: directory.appendingPathComponent("flows.ini"), atomically: true, encoding: .utf8)
            try "[actionmapping]\n??Echo = zmanager.builtin.echo\n??Tag = zmanager.builtin.tag\n??Spin = zmanager.builtin.spin_200us\n"
                .write(to: directory.appendingPathComponent("mapping.ini"), atomically: true, encoding: .utf8)
            try """
                endpoints:
                  subject: \(endpoint("subject"))
                  workers: \(endpoint("workers"))
                  integration_manager_pull: \(endpoint("im-pull"))
                  integration_manager_pub: \(endpoint("im-pub"))
                \(multicast.map { "  integration_manager_multicast: '\($0)'" } ?? "")
                flows: flows.ini
                mappings: [mapping.ini]
                workers:
                  count: \(workers)
                  deployment: \(deployment)
                drain_timeout: 20s
                \(extraConfiguration)
                """.write(to: directory.appendingPathComponent("zmanager.yaml"), atomically: true, encoding: .utf8)

            let serve = ["serve", "--config", directory.appendingPathComponent("zmanager.yaml").path]
            if let tool = launcher.first {
                process.executableURL = URL(fileURLWithPath: tool)
                process.arguments = launcher.dropFirst() + [try ServeCommandTests.executable.path] + serve
            } else {
                process.executableURL = try ServeCommandTests.executable
                process.arguments = serve
            }
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = pipe
            let output = self.output
            pipe.fileHandleForReading.readabilityHandler = { handle in
                let text = String(decoding: handle.availableData, as: UTF8.self)
                output.text.withLock { $0 += text }
                output.changed.signal()
            }
            exited.attach(to: process)
            try process.run()
            let ready = try #require(waitForLine(starting: "ready "), "serve printed its ready line: \(output.text.withLock { $0 })")
            var fields: [String: String] = [:]
            for pair in ready.split(separator: " ").dropFirst() {
                let parts = pair.split(separator: "=", maxSplits: 1)
                if parts.count == 2 { fields[String(parts[0])] = String(parts[1]) }
            }
            readyFields = fields
            endpoints = Endpoints(subjectFront: fields["subject"]!, subjectWorkers: fields["workers"]!,
                                  integrationManagerPull: fields["integration_manager_pull"]!,
                                  integrationManagerPub: fields["integration_manager_pub"]!)
        }

        /// Waits (bounded) for a line of output starting with `prefix`, woken by each chunk
        /// of output the process writes.
        func waitForLine(starting prefix: String, timeout: Duration = .seconds(30)) -> String? {
            let clock = ContinuousClock()
            let deadline = clock.now + timeout
            func line() -> String? {
                output.text.withLock { $0 }.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }).map(String.init)
            }
            while clock.now < deadline {
                if let found = line() { return found }
                if !process.isRunning && !output.changed.wait(timeout: .milliseconds(100)) { break }
                _ = output.changed.wait(timeout: deadline - clock.now)
            }
            return line()
        }

        /// The process ids of the `zmanager worker` children, by `--name`.
        func workerProcesses() -> [String: pid_t] {
            var found: [String: pid_t] = [:]
            let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(process.processIdentifier)/task")) ?? []
            for task in tasks {
                let children = (try? String(contentsOfFile: "/proc/\(process.processIdentifier)/task/\(task)/children", encoding: .utf8)) ?? ""
                for child in children.split(separator: " ").compactMap({ pid_t($0) }) {
                    guard let data = FileManager.default.contents(atPath: "/proc/\(child)/cmdline") else { continue }
                    let arguments = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
                    if let index = arguments.firstIndex(of: "--name"), index + 1 < arguments.count {
                        found[arguments[index + 1]] = child
                    }
                }
            }
            return found
        }

        /// Sends SIGTERM and waits (bounded) for the process to end.
        func terminate() -> Bool {
            process.terminate()
            return exited.wait(timeout: .seconds(30))
        }

        deinit {
            if process.isRunning { process.interrupt(); process.waitUntilExit() }
            try? FileManager.default.removeItem(at: directory)
        }
    }

    @Test(arguments: [TestTransport.ipc, .tcp])
    func serveAnswersEverythingThenDrainsOnSIGTERM(transport: TestTransport) throws {
        let server = try Server(transport: transport, workers: 2, deployment: "threads")
        let context = try Context()
        defer { context.terminate() }
        let client = try ZManagerClient(context: context, subject: server.endpoints.subjectFront,
                                        integrationManager: server.endpoints.integrationManagerPub)
        defer { client.close() }
        try client.subscribeResults(flow: "Echo")
        try client.subscribeErrors()
        try #require(try client.waitUntilConnected(timeout: .seconds(20)))

        let count = 2_000
        for i in 0..<count { try client.push(flow: "Echo", id: "m\(i)", body: Array("payload \(i)".utf8)) }
        // Stop while most are still in flight: the drain must deliver every one.
        var received: Set<String> = []
        if let first = try client.receive(timeout: .seconds(20)), first.isResult { received.insert(first.id) }
        server.process.terminate()
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(30)
        while received.count < count && clock.now < deadline {
            guard let delivery = try client.receive(timeout: .milliseconds(500)) else { continue }
            #expect(delivery.errorKind == nil, "\(delivery.text)")
            if delivery.isResult {
                #expect(delivery.text == "payload \(delivery.id.dropFirst())")
                received.insert(delivery.id)
            }
        }
        #expect(received.count == count, "no message lost")
        #expect(server.terminate(), "serve exited")
        #expect(server.process.terminationStatus == 0)
        let summary = server.waitForLine(starting: "drained=")
        #expect(summary?.contains("drained=true") == true, "\(server.output.text.withLock { $0 })")
        #expect(summary?.contains("results=\(count)") == true)
        #expect(summary?.contains("in_flight=0") == true)
    }

    @Test(arguments: [TestTransport.ipc, .tcp])
    func twoWorkerProcessesShareTheLoad(transport: TestTransport) throws {
        let server = try Server(transport: transport, workers: 2, deployment: "processes")
        let context = try Context()
        defer { context.terminate() }
        let client = try ZManagerClient(context: context, subject: server.endpoints.subjectFront,
                                        integrationManager: server.endpoints.integrationManagerPub)
        defer { client.close() }
        try client.subscribeResults(flow: "Tagged")
        try client.subscribeErrors()
        try #require(try client.waitUntilConnected(timeout: .seconds(20)))

        // Worker processes connect on their own schedule: send until both have answered.
        var executors: [String: Int] = [:]
        var results = 0
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(30)
        var sent = 0
        while (executors.count < 2 || results < sent) && clock.now < deadline {
            if executors.count < 2 && sent < 2_000 {
                for _ in 0..<20 {
                    try client.push(flow: "Tagged", id: "t\(sent)", body: Array("x".utf8))
                    sent += 1
                }
            }
            while let delivery = try client.receive(timeout: .milliseconds(50)) {
                #expect(delivery.errorKind == nil, "\(delivery.text)")
                guard delivery.isResult else { continue }
                results += 1
                executors[String(delivery.text.drop(while: { $0 != "@" }).dropFirst()), default: 0] += 1
            }
        }
        #expect(Set(executors.keys) == ["p0", "p1"], "both worker processes answered: \(executors)")
        #expect(results == sent, "no message lost")
        #expect(server.terminate())
        #expect(server.process.terminationStatus == 0)
    }

    /// A client of `server` subscribed to the `Tagged` and `Slow` results and to errors, connected.
    static func burstClient(_ context: Context, _ server: Server) throws -> ZManagerClient {
        let client = try ZManagerClient(context: context, subject: server.endpoints.subjectFront,
                                        integrationManager: server.endpoints.integrationManagerPub)
        try client.subscribeResults(flow: "Tagged")
        try client.subscribeResults(flow: "Slow")
        try client.subscribeErrors()
        try #require(try client.waitUntilConnected(timeout: .seconds(20)))
        return client
    }

    /// Sends `Tagged` requests until each worker in `workers` has answered one (30 s at most),
    /// then reads the warm-up's tail.
    static func warmUp(_ client: ZManagerClient, until workers: Set<String>) throws {
        var executors = Set<String>()
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(30)
        var sent = 0
        while executors != workers && clock.now < deadline {
            try client.push(flow: "Tagged", id: "w\(sent)", body: Array("w".utf8))
            sent += 1
            while let delivery = try client.receive(timeout: .milliseconds(20)) {
                if delivery.isResult { executors.insert(String(delivery.text.drop(while: { $0 != "@" }).dropFirst())) }
            }
        }
        try #require(executors == workers, "every worker answered: \(executors)")
        while try client.receive(timeout: .milliseconds(300)) != nil {}
    }

    /// Runs a command that ends by itself (a refusal, a configuration step) and returns its exit
    /// status and its output and errors together.
    static func runToEnd(_ executable: URL, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, output)
    }

    /// What a burst of `Slow` requests got back.
    struct Burst {
        /// Results per request id (each must be 1).
        var answers: [String: Int] = [:]
        /// Results per worker (the `@name` a `Tag` step appends).
        var byWorker: [String: Int] = [:]
        var errors: [String] = []
        var faulted = false
    }

    /// Pushes `count` `Slow` requests (ids `s0`…) and reads results until each is answered or 90 s
    /// pass, calling `fault` once when `faultAfter` have been answered.
    static func burst(_ client: ZManagerClient, count: Int, faultAfter: Int, fault: () throws -> Void) throws -> Burst {
        for i in 0..<count { try client.push(flow: "Slow", id: "s\(i)", body: Array("s".utf8)) }
        var burst = Burst()
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(90)
        while burst.answers.count < count && clock.now < deadline {
            guard let delivery = try client.receive(timeout: .milliseconds(100)) else { continue }
            if let kind = delivery.errorKind { burst.errors.append("\(kind): \(delivery.text)"); continue }
            guard delivery.isResult, delivery.id.hasPrefix("s") else { continue }
            burst.answers[delivery.id, default: 0] += 1
            burst.byWorker[String(delivery.text.drop(while: { $0 != "@" }).dropFirst()), default: 0] += 1
            if !burst.faulted && burst.answers.count == faultAfter {
                burst.faulted = true
                try fault()
            }
        }
        return burst
    }

    /// The `key=number` fields of serve's summary line.
    static func numbers(in summary: String) -> [String: Int] {
        Dictionary(summary.split(separator: " ").compactMap { pair -> (String, Int)? in
            let parts = pair.split(separator: "=", maxSplits: 1)
            return parts.count == 2 ? Int(parts[1]).map { (String(parts[0]), $0) } : nil
        }, uniquingKeysWith: { $1 })
    }

    enum Fault: String, CaseIterable, Sendable {
        /// `kill -9`: the process and its connections are gone at once.
        case kill
        /// `SIGSTOP`: a hung process; its connections stay open but go silent, so only the
        /// heartbeat deadline finds it. It is continued at the end and its late outputs must
        /// not reach services.
        case stop
    }

    /// Reliable dispatch with two worker processes: one of them is killed (or stopped) in the
    /// middle of a burst, while it holds steps, and every request is still answered exactly once.
    @Test(arguments: [TestTransport.tcp, .ipc], Fault.allCases)
    func aWorkerProcessLostMidBurstLosesNothing(transport: TestTransport, fault: Fault) throws {
        let server = try Server(transport: transport, workers: 2, deployment: "processes", extraConfiguration: """
            dispatch: {mode: reliable, credit: 16, heartbeat: 100ms, heartbeat_timeout: 1s}
            limits: {dispatch_timeout: 60s}
            """)
        let context = try Context()
        defer { context.terminate() }
        let client = try Self.burstClient(context, server)
        defer { client.close() }
        // Both worker processes take part before the burst.
        try Self.warmUp(client, until: ["p0", "p1"])
        let clock = ContinuousClock()
        let victim = try #require(server.workerProcesses()["p1"], "found worker p1: \(server.workerProcesses())")

        let count = 6_000
        var burst = try Self.burst(client, count: count, faultAfter: 1_000) { kill(victim, fault == .kill ? SIGKILL : SIGSTOP) }
        let faulted = burst.faulted, errors = burst.errors
        if fault == .stop { kill(victim, SIGCONT) }
        // Anything the stopped worker still sends must not reach services.
        while let delivery = try client.receive(timeout: .milliseconds(500)) {
            if delivery.isResult, delivery.id.hasPrefix("s") { burst.answers[delivery.id, default: 0] += 1 }
        }
        if fault == .kill {
            // serve restarts the killed worker, and the new process takes work.
            var restartedAnswered = false
            let restartDeadline = clock.now + .seconds(30)
            var probe = 0
            while !restartedAnswered && clock.now < restartDeadline {
                if let pid = server.workerProcesses()["p1"], pid != victim {
                    try client.push(flow: "Tagged", id: "after\(probe)", body: Array("a".utf8))
                    probe += 1
                }
                while let delivery = try client.receive(timeout: .milliseconds(20)) {
                    if delivery.isResult, delivery.id.hasPrefix("after"), delivery.text.hasSuffix("@p1") { restartedAnswered = true }
                }
            }
            #expect(restartedAnswered, "the restarted p1 answered")
        }
        #expect(faulted)
        #expect(errors.isEmpty, "\(errors.prefix(3))")
        #expect(burst.answers.count == count, "every request answered: \(count - burst.answers.count) missing")
        #expect(burst.answers.values.allSatisfy { $0 == 1 }, "each once: \(burst.answers.filter { $0.value > 1 }.count) duplicated")
        #expect(server.terminate())
        let summary = try #require(server.waitForLine(starting: "drained="), "\(server.output.text.withLock { $0 })")
        #expect(summary.contains("in_flight=0"), "\(summary)")
        let fields = Self.numbers(in: summary)
        // The survivor is lost too once serve stops it, and may be counted before the summary.
        #expect((fields["workers_lost"] ?? 0) >= 1, "\(summary)")
        #expect((fields["redelivered"] ?? 0) >= 1, "the lost worker held steps: \(summary)")
        #expect(fields["worker_restarts"] == (fault == .kill ? 1 : 0), "\(summary)")
        #expect(fields["publish_dropped"] == 0 && fields["flow_timeouts"] == 0, "\(summary)")
        if fault == .kill {
            #expect(server.output.text.withLock { $0 }.contains("worker p1 exited (signal 9); restarting it in"))
        }
    }

    /// A SIGTERM sent the moment `ready` is printed must stop serve: the signal is blocked
    /// before any thread starts, so it waits pending instead of being lost (it once was, when
    /// a dispatch signal source was registered only after `ready`; serve then ran forever).
    @Test func aSIGTERMRightAfterReadyStopsServe() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("zmanager-sigterm-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try "[Echo]\n?Echo?Push\nSubject?Echo?Echo\n??done\n"
            .write(to: directory.appendingPathComponent("flows.ini"), atomically: true, encoding: .utf8)
        try "[actionmapping]\n??Echo = zmanager.builtin.echo\n"
            .write(to: directory.appendingPathComponent("mapping.ini"), atomically: true, encoding: .utf8)
        let any = "tcp://127.0.0.1:*"
        try """
            endpoints: {subject: "\(any)", workers: "\(any)", integration_manager_pull: "\(any)", integration_manager_pub: "\(any)"}
            flows: flows.ini
            mappings: mapping.ini
            workers: {count: 1}
            """.write(to: directory.appendingPathComponent("zmanager.yaml"), atomically: true, encoding: .utf8)
        for attempt in 0..<20 {
            let process = Process()
            process.executableURL = try Self.executable
            process.arguments = ["serve", "--config", directory.appendingPathComponent("zmanager.yaml").path]
            let pipe = Pipe()
            process.standardOutput = pipe
            let exited = ExitSignal()
            exited.attach(to: process)
            try process.run()
            // Read the ready line with blocking reads and signal at once: no polling delay.
            var output: [UInt8] = []
            while !output.contains(UInt8(ascii: "\n")) {
                let chunk = pipe.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                output += chunk
            }
            #expect(String(decoding: output, as: UTF8.self).hasPrefix("ready "), "attempt \(attempt)")
            process.terminate()
            if !exited.wait(timeout: .seconds(10)) {
                process.interrupt()
                process.waitUntilExit()
                Issue.record("attempt \(attempt): serve ignored a SIGTERM sent right after its ready line")
            } else {
                #expect(process.terminationStatus == 0, "attempt \(attempt)")
            }
        }
    }

    @Test func aBadConfigurationNamesFileLineAndKey() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("zmanager-badconf-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("bad.yaml")
        try "flows: flows.ini\nworkers:\n  count: two\n".write(to: file, atomically: true, encoding: .utf8)
        try "[F]\n?F?Push\n??done\n".write(to: directory.appendingPathComponent("flows.ini"), atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = try Self.executable
        process.arguments = ["serve", "--config", file.path]
        let pipe = Pipe()
        process.standardError = pipe
        process.standardOutput = pipe
        try process.run()
        process.waitUntilExit()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(process.terminationStatus != 0)
        #expect(text.contains("bad.yaml:3: workers.count: expected an integer from 0 to 1024, found \"two\""), "\(text)")
    }
}

/// Text a child process printed, appended from its pipe's handler thread, which signals
/// `changed` after each chunk.
final class OutputBuffer: Sendable {
    let text = Mutex("")
    let changed = DispatchSemaphore(value: 0)
}

/// Signals when a process ends (attach before `run()`): tests wait on it, bounded.
final class ExitSignal: Sendable {
    private let semaphore = DispatchSemaphore(value: 0)

    func attach(to process: Process) {
        process.terminationHandler = { _ in self.semaphore.signal() }
    }

    func wait(timeout: Duration) -> Bool { semaphore.wait(timeout: timeout) }
}

extension DispatchSemaphore {
    /// `wait` with a Swift `Duration`; true when signalled in time.
    func wait(timeout: Duration) -> Bool {
        let ms = Int(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        return wait(timeout: .now() + .milliseconds(max(ms, 0))) == .success
    }
}
