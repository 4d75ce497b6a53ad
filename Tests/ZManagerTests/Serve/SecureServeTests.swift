import Foundation
import Testing
import ZManager
import ZeroMQ

/// `zmanager keygen` and `zmanager serve` with `security.curve`, as an operator runs them:
/// worker processes and a service authenticate with their certificates; a stranger gets nothing
/// through and shows up in `/metrics` and in serve's summary line.
@Suite("zmanager serve with CURVE", .enabled(if: CurveKeyPair.isAvailable, "libzmq without CURVE"))
struct SecureServeTests {
    /// Runs `zmanager keygen NAME -d DIRECTORY` and returns its `key=value` fields.
    static func keygen(_ name: String, in directory: String) throws -> [String: String] {
        let process = Process()
        process.executableURL = try ServeCommandTests.executable
        process.arguments = ["keygen", name, "--directory", directory]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "keygen: \(output)")
        var fields: [String: String] = [:]
        for pair in output.split(whereSeparator: \.isWhitespace) {
            let parts = pair.split(separator: "=", maxSplits: 1)
            if parts.count == 2 { fields[String(parts[0])] = String(parts[1]) }
        }
        return fields
    }

    @Test func workerProcessesAndAnAllowedServiceGetThroughAndAStrangerIsCounted() throws {
        let keys = FileManager.default.temporaryDirectory.appendingPathComponent("zmanager-keys-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: keys) }
        let server = try Self.keygen("server", in: keys)
        let service = try Self.keygen("service-a", in: keys + "/clients")
        #expect(server["public"] == keys + "/server.key" && server["secret"] == keys + "/server.key_secret")
        #expect(CurveKey(z85: server["public_key"] ?? "") != nil)

        let node = try ServeCommandTests.Server(
            transport: .tcp, workers: 2, deployment: "processes", extraConfiguration: """
                metrics: {listen: '127.0.0.1:0'}
                security:
                  curve:
                    secret_key: \(keys)/server.key_secret
                    clients: \(keys)/clients
                """)
        #expect(node.readyFields["security"] == "curve")
        let port = try MetricsTests.port(node.readyFields["metrics"])

        // The service, with its own certificate and the server's public one, as a service on
        // another host would load them.
        let secretPath = try #require(service["secret"])
        let publicPath = try #require(server["public"])
        let mine = try #require(try CurveCertificate.load(path: secretPath, requireSecret: true).keyPair)
        let serverKey = try CurveCertificate.load(path: publicPath).publicKey
        let context = try Context(security: CurveSecurity(server: nil, serverKey: serverKey, client: mine))
        defer { context.terminate() }
        let client = try ZManagerClient(context: context, subject: node.endpoints.subjectFront,
                                        integrationManager: node.endpoints.integrationManagerPub)
        defer { client.close() }
        try client.subscribeResults(flow: "Tagged")
        try client.subscribeErrors()
        try #require(try client.waitUntilConnected(timeout: .seconds(20)), "an allowed service reaches serve")

        // Both worker processes, started by serve with the same file, authenticated: each answers.
        let (executors, sent) = try ServeReloadTests.executorsAndSent(client, flow: "Tagged", tag: "t")
        #expect(executors == ["p0", "p1"], "both secured worker processes answered")
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(30)

        // A stranger with a key of its own that serve was never given.
        let strangerContext = try Context(security: CurveSecurity(server: nil, serverKey: serverKey,
                                                                  client: try CurveKeyPair.generate()))
        defer { strangerContext.terminate() }
        let stranger = try ZManagerClient(context: strangerContext, subject: node.endpoints.subjectFront,
                                          integrationManager: node.endpoints.integrationManagerPub)
        defer { stranger.close() }
        try stranger.push(flow: "Tagged", id: "stranger", body: Array("x".utf8))
        var refused = 0.0
        while refused < 2 && clock.now < deadline {
            refused = MetricsTests.sample(try MetricsTests.get("/metrics", port: port).1,
                                          #"zmanager_auth_handshakes_total{result="refused"}"#) ?? 0
        }
        #expect(refused >= 2, "the stranger's two sockets were refused and counted")
        let metrics = try MetricsTests.get("/metrics", port: port).1
        // The service's two sockets, two per worker process, the node's own internal ones.
        #expect((MetricsTests.sample(metrics, #"zmanager_auth_handshakes_total{result="accepted"}"#) ?? 0) >= 6)
        #expect(MetricsTests.sample(metrics, #"zmanager_auth_handshakes_total{result="failed"}"#) == 0)
        #expect(MetricsTests.sample(metrics, "zmanager_flows_started_total").map(Int.init) == sent,
                "the stranger's request started no flow")
        #expect(node.output.text.withLock { $0 }.contains("CURVE client refused"), "the refusal is logged")

        #expect(node.terminate())
        let summary = try #require(node.waitForLine(starting: "drained="))
        #expect(summary.contains("drained=true") && summary.contains("auth_refused="))
        #expect(!summary.contains("auth_refused=0 "), "\(summary)")
    }
}
