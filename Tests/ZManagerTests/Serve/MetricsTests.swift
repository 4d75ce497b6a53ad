import Foundation
import Synchronization
import Testing
import ZManager
import ZManagerMetrics
import ZeroMQ

#if canImport(Glibc)
import Glibc
#endif

/// `/metrics` and `/health`: the verdicts without sockets, then `serve` and `worker` over HTTP.
@Suite("Metrics and health")
struct MetricsTests {
    // MARK: Health, socket-free

    static func verdict(_ roles: ZManagerNode.RoleStatus, _ statistics: CoreStatistics = CoreStatistics(),
                        intake: IntakeControl = IntakeControl(), processes: Int = 0, reliable: Bool = false) -> Health {
        Health.node(roles: roles, statistics: statistics, intake: intake, workerProcesses: processes, reliable: reliable)
    }

    @Test func healthNamesTheFirstThingThatIsNotReady() {
        let up = ZManagerNode.RoleStatus(subject: true, integrationManager: true, workerThreads: 2)
        #expect(Self.verdict(up) == .ready)
        #expect(Self.verdict(.init(subject: false, integrationManager: true, workerThreads: 2)) == .notReady("the Subject is not running"))
        #expect(Self.verdict(.init(subject: true, integrationManager: false, workerThreads: 2))
                == .notReady("the Integration Manager is not running"))
        #expect(Self.verdict(.init(subject: true, integrationManager: true, workerThreads: 2, authenticator: false)).reason
                .hasPrefix("the authenticator (ZAP handler) is not running"))
        #expect(Self.verdict(.init(subject: true, integrationManager: true, workerThreads: 2, authenticator: true)) == .ready)
        let none = ZManagerNode.RoleStatus(subject: true, integrationManager: true, workerThreads: 0)
        #expect(Self.verdict(none).reason.hasPrefix("no worker is running"))
        #expect(Self.verdict(none, processes: 1) == .ready)

        let statistics = CoreStatistics()
        #expect(Self.verdict(up, statistics, reliable: true) == .notReady("no worker is connected"))
        statistics.workersConnected.store(1, ordering: .relaxed)
        #expect(Self.verdict(none, statistics, reliable: true) == .ready, "reliable dispatch counts every registered worker")
        statistics.intakePaused.store(true, ordering: .relaxed)
        statistics.waitingForWorkers.store(10_000, ordering: .relaxed)
        #expect(Self.verdict(up, statistics).reason == "the Subject is blocked: 10000 steps wait for a worker and it stopped reading its front")
    }

    // MARK: Over HTTP

    /// One HTTP/1.1 GET on 127.0.0.1 with a bounded wait; (status, body).
    static func get(_ path: String, port: UInt16) throws -> (Int, String) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ServeCommandTests.ServeTestError("socket: \(errno)") }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw ServeCommandTests.ServeTestError("connect to port \(port): errno \(errno)") }
        let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8)
        guard request.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, 0) }) == request.count else {
            throw ServeCommandTests.ServeTestError("send: errno \(errno)")
        }
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }  // closed, or the 10 s receive timeout
            response += buffer[0..<n]
        }
        let text = String(decoding: response, as: UTF8.self)
        guard let statusLine = text.split(separator: "\r\n").first, let status = Int(statusLine.split(separator: " ")[1]),
              let bodyStart = text.range(of: "\r\n\r\n") else {
            throw ServeCommandTests.ServeTestError("no HTTP response: \(text)")
        }
        return (status, String(text[bodyStart.upperBound...]))
    }

    /// The value of one sample line (`name{labels} value`) in Prometheus text.
    static func sample(_ text: String, _ series: String) -> Double? {
        text.split(separator: "\n").first { $0.hasPrefix(series + " ") }.flatMap { Double($0.split(separator: " ").last!) }
    }

    static func port(_ url: String?) throws -> UInt16 {
        let text = try #require(url, "a metrics=http://HOST:PORT field")
        return try #require(UInt16(text.split(separator: ":").last!))
    }

    @Test func serveServesItsCountersAndIsReady() throws {
        let server = try ServeCommandTests.Server(transport: .tcp, workers: 2, deployment: "threads",
                                                  extraConfiguration: "metrics: {listen: '127.0.0.1:0'}")
        let port = try Self.port(server.readyFields["metrics"])
        let (status, body) = try Self.get("/health", port: port)
        #expect(status == 200 && body == "ok\n")

        let context = try Context()
        defer { context.terminate() }
        let client = try ZManagerClient(context: context, subject: server.endpoints.subjectFront,
                                        integrationManager: server.endpoints.integrationManagerPub)
        defer { client.close() }
        try client.subscribeResults(flow: "Echo")
        try client.subscribeErrors()
        try #require(try client.waitUntilConnected(timeout: .seconds(20)))
        let count = 50
        for i in 0..<count { try client.push(flow: "Echo", id: "m\(i)", body: Array("x".utf8)) }
        try client.push(flow: "NoSuchFlow", id: "bad", body: [])
        var results = 0, errors = 0
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(20)
        while results + errors < count + 1 && clock.now < deadline {
            guard let delivery = try client.receive(timeout: .milliseconds(500)) else { continue }
            if delivery.isResult { results += 1 } else if delivery.errorKind != nil { errors += 1 }
        }
        #expect(results == count && errors == 1)

        let (metricsStatus, metrics) = try Self.get("/metrics", port: port)
        #expect(metricsStatus == 200)
        #expect(Self.sample(metrics, "zmanager_flow_results_total") == Double(count), "\(metrics)")
        #expect(Self.sample(metrics, #"zmanager_errors_total{kind="unknown_flow"}"#) == 1)
        #expect(Self.sample(metrics, #"zmanager_errors_total{kind="no_workers"}"#) == 0)
        #expect(Self.sample(metrics, "zmanager_handler_calls_total") == Double(count))
        #expect(Self.sample(metrics, "zmanager_publish_dropped_total") == 0)
        #expect(Self.sample(metrics, "zmanager_worker_threads_running") == 2)
        #expect(Self.sample(metrics, "zmanager_flows_in_flight") == 0)
        #expect((Self.sample(metrics, #"zmanager_messages_received_total{role="subject"}"#) ?? 0) >= Double(count + 1))
        // Each Echo request: one step out of the Subject, one result out of a worker, both
        // taken in by the next role; the unknown flow's error goes from the Subject to the IM.
        #expect((Self.sample(metrics, #"zmanager_messages_sent_total{role="subject"}"#) ?? 0) >= Double(count + 1))
        #expect((Self.sample(metrics, #"zmanager_messages_sent_total{role="worker"}"#) ?? 0) >= Double(count))
        #expect((Self.sample(metrics, #"zmanager_messages_received_total{role="worker"}"#) ?? 0) >= Double(count))
        #expect((Self.sample(metrics, #"zmanager_messages_received_total{role="integration_manager"}"#) ?? 0) >= Double(count + 1))
        #expect(metrics.contains("# TYPE zmanager_flow_results_total counter"))
        #expect(try Self.get("/nothing", port: port).0 == 404)
        #expect(server.terminate())
    }

    @Test func serveWithoutWorkersIsNotReady() throws {
        let server = try ServeCommandTests.Server(transport: .tcp, workers: 0, deployment: "threads",
                                                  extraConfiguration: "metrics: {listen: '127.0.0.1:0'}")
        let (status, body) = try Self.get("/health", port: try Self.port(server.readyFields["metrics"]))
        #expect(status == 503)
        #expect(body.hasPrefix("no worker is running"), "\(body)")
        #expect(server.terminate())
    }

    @Test func aWorkerProcessServesItsOwnHealthAndCounters() throws {
        let server = try ServeCommandTests.Server(transport: .tcp, workers: 0, deployment: "threads")
        let worker = Process()
        worker.executableURL = try ServeCommandTests.executable
        worker.arguments = ["worker", "--config", server.directory.appendingPathComponent("zmanager.yaml").path,
                            "--subject-workers", server.endpoints.subjectWorkers, "--subject", server.endpoints.subjectFront,
                            "--integration-manager", server.endpoints.integrationManagerPull, "--metrics", "127.0.0.1:0"]
        let pipe = Pipe()
        worker.standardOutput = pipe
        try worker.run()
        defer { if worker.isRunning { worker.terminate(); worker.waitUntilExit() } }
        // The first line it prints is its metrics address (a blocking read: it comes or the process ends).
        var line: [UInt8] = []
        while let byte = try pipe.fileHandleForReading.read(upToCount: 1)?.first, byte != UInt8(ascii: "\n") { line.append(byte) }
        let text = String(decoding: line, as: UTF8.self)
        #expect(text.hasPrefix("metrics=http://127.0.0.1:"), "\(text)")
        let port = try Self.port(String(text.dropFirst("metrics=".count)))
        #expect(try Self.get("/health", port: port) == (200, "ok\n"))
        #expect(try Self.get("/metrics", port: port).1.contains("zmanager_handler_calls_total"))
        #expect(server.terminate())
    }

    @Test(arguments: [
        (["worker", "--metrics", "9465"], "--metrics: expected HOST:PORT"),
        (["worker", "--log-level", "loud"], "--log-level: expected one of trace, debug, info"),
        (["serve", "--log-level", "verbose"], "--log-level: expected one of trace, debug, info"),
    ])
    func badOperationsOptionsAreRefusedBeforeAnythingStarts(arguments: [String], message: String) throws {
        let process = Process()
        process.executableURL = try ServeCommandTests.executable
        process.arguments = arguments + ["--config", "/nonexistent.yaml"]
        let pipe = Pipe()
        process.standardError = pipe
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let errors = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus != 0)
        #expect(errors.contains(message), "\(errors)")
    }
}
