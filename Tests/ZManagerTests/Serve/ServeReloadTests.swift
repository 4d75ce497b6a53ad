import Foundation
import Testing
import ZManager
import ZeroMQ

/// SIGHUP to `zmanager serve`: the flows and mappings of its configuration file are read again,
/// by serve and by the worker processes it started; a file with an error is refused with its
/// file and line, and the running flows go on.
@Suite("zmanager serve reloads on SIGHUP")
struct ServeReloadTests {
    /// Sends requests of `flow` (results of `zmanager.builtin.tag`) until both worker processes
    /// answered one (bounded: 2,000 requests, 30 s); returns who did.
    static func executors(_ client: ZManagerClient, flow: String, tag: String) throws -> Set<String> {
        try executorsAndSent(client, flow: flow, tag: tag).executors
    }

    /// ``executors(_:flow:tag:)`` and how many requests it sent.
    static func executorsAndSent(_ client: ZManagerClient, flow: String, tag: String) throws -> (executors: Set<String>, sent: Int) {
        var executors: Set<String> = []
        var sent = 0
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(30)
        while executors.count < 2 && sent < 2_000 && clock.now < deadline {
            for _ in 0..<20 {
                try client.push(flow: flow, id: "\(tag)-\(sent)", body: Array("x".utf8))
                sent += 1
            }
            while let delivery = try client.receive(timeout: .milliseconds(50)) {
                #expect(delivery.errorKind == nil, "\(delivery.text)")
                if delivery.isResult { executors.insert(String(delivery.text.drop(while: { $0 != "@" }).dropFirst())) }
            }
        }
        return (executors, sent)
    }

    @Test func aGoodFileIsAdoptedByServeAndItsWorkerProcessesAndABadOneIsRefused() throws {
        let server = try ServeCommandTests.Server(transport: .tcp, workers: 2, deployment: "processes",
                                                  extraConfiguration: "metrics: {listen: '127.0.0.1:0'}")
        let port = try MetricsTests.port(server.readyFields["metrics"])
        let context = try Context()
        defer { context.terminate() }
        let client = try ZManagerClient(context: context, subject: server.endpoints.subjectFront,
                                        integrationManager: server.endpoints.integrationManagerPub)
        defer { client.close() }
        try client.subscribeResults(flow: "Added")
        try client.subscribeResults(flow: "Tagged")
        try client.subscribeErrors()
        try #require(try client.waitUntilConnected(timeout: .seconds(20)))

        // Both worker processes run (a signal sent to one still starting is not for this test).
        #expect(try Self.executors(client, flow: "Tagged", tag: "t") == ["p0", "p1"])

        let flows = server.directory.appendingPathComponent("flows.ini")
        let original = try String(contentsOf: flows, encoding: .utf8)
        try (original + "\n\n[Added]\n?Added?Push\nSubject?Added?Tag\n??done\n").write(to: flows, atomically: true, encoding: .utf8)
        kill(server.process.processIdentifier, SIGHUP)
        #expect(server.waitForLine(starting: "reloaded generation=1") != nil, "serve reloaded")
        // Each worker process says when it has the new flows: only then may a request of them reach it.
        #expect(server.waitForLine(starting: "reloaded worker=p0 generation=1") != nil)
        #expect(server.waitForLine(starting: "reloaded worker=p1 generation=1") != nil)
        #expect(try Self.executors(client, flow: "Added", tag: "a") == ["p0", "p1"], "both worker processes run the new flow")

        // A file with an error: refused with its file and line; the worker processes are not
        // even told (serve signals them only for files it accepted).
        try (original + "\n\n[Added]\n?Added?Push\nthis is not a step\n??done\n").write(to: flows, atomically: true, encoding: .utf8)
        kill(server.process.processIdentifier, SIGHUP)
        let refused = try #require(server.waitForLine(starting: "reload_refused error="))
        let line = original.split(separator: "\n", omittingEmptySubsequences: false).count + 4
        #expect(refused.contains("flows.ini:\(line):"), "\(refused)")
        #expect(try Self.executors(client, flow: "Added", tag: "b") == ["p0", "p1"], "the running flows go on")

        let metrics = try MetricsTests.get("/metrics", port: port).1
        #expect(MetricsTests.sample(metrics, #"zmanager_reloads_total{result="ok"}"#) == 1)
        #expect(MetricsTests.sample(metrics, #"zmanager_reloads_total{result="refused"}"#) == 1)
        #expect(server.terminate())
        #expect(server.process.terminationStatus == 0)
    }
}
