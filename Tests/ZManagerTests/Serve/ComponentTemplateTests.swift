import Foundation
import Synchronization
import Testing
import ZManager
import ZeroMQ

/// `examples/component`: the template executable of a component of one's own builds (it is a
/// target of this package), runs `serve` from its own configuration with its own handlers,
/// including as worker processes of itself, and answers a flow.
@Suite("The component template (examples/component)")
struct ComponentTemplateTests {
    static var executable: URL {
        get throws {
            let zmanager = try ServeCommandTests.executable
            let url = zmanager.deletingLastPathComponent().appendingPathComponent("zmanager-component-example")
            guard FileManager.default.isExecutableFile(atPath: url.path) else {
                throw ServeCommandTests.ServeTestError("zmanager-component-example not found next to \(zmanager.path)")
            }
            return url
        }
    }

    /// The repository's `examples/component`, found from this file.
    static let example = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("examples/component")

    @Test(arguments: ["threads", "processes"])
    func theTemplateServesItsOwnFlowWithItsOwnHandlers(deployment: String) throws {
        // The example's flows and mappings, with ephemeral ports instead of its fixed ones.
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("zmanager-component-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = directory.appendingPathComponent("zmanager.yaml")
        try """
            endpoints: {subject: 'tcp://127.0.0.1:*', workers: 'tcp://127.0.0.1:*',
                        integration_manager_pull: 'tcp://127.0.0.1:*', integration_manager_pub: 'tcp://127.0.0.1:*'}
            flows: \(Self.example.path)/flows
            mappings: \(Self.example.path)/mappings
            workers: {count: 2, deployment: \(deployment)}
            """.write(to: config, atomically: true, encoding: .utf8)

        let process = Process()
        process.executableURL = try Self.executable
        process.arguments = ["serve", "--config", config.path]
        let output = OutputBuffer()
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        pipe.fileHandleForReading.readabilityHandler = { handle in
            let text = String(decoding: handle.availableData, as: UTF8.self)
            output.text.withLock { $0 += text }
            output.changed.signal()
        }
        try process.run()
        defer { if process.isRunning { process.interrupt(); process.waitUntilExit() } }
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(30)
        var ready: Substring?
        while ready == nil && clock.now < deadline && process.isRunning {
            ready = output.text.withLock { $0 }.split(separator: "\n").first { $0.hasPrefix("ready ") }
            if ready == nil { _ = output.changed.wait(timeout: .milliseconds(200)) }
        }
        let line = try #require(ready, "the component printed its ready line: \(output.text.withLock { $0 })")
        var fields: [String: String] = [:]
        for pair in line.split(separator: " ").dropFirst() {
            let parts = pair.split(separator: "=", maxSplits: 1)
            if parts.count == 2 { fields[String(parts[0])] = String(parts[1]) }
        }

        let context = try Context()
        defer { context.terminate() }
        let client = try ZManagerClient(context: context, subject: try #require(fields["subject"]),
                                        integrationManager: try #require(fields["integration_manager_pub"]))
        defer { client.close() }
        try client.subscribeResults(flow: "Greet")
        try client.subscribeErrors()
        try #require(try client.waitUntilConnected(timeout: .seconds(20)))
        // Worker processes connect on their own schedule: the first requests may wait for them.
        try client.push(flow: "Greet", id: "ada", body: Array("ada".utf8))
        try client.push(flow: "Greet", id: "empty", body: [])
        var answers: [String: ZManagerClient.Delivery] = [:]
        while answers.count < 2 && clock.now < deadline {
            if let delivery = try client.receive(timeout: .milliseconds(200)) { answers[delivery.id] = delivery }
        }
        let ada = try #require(answers["ada"])
        #expect(ada.isResult && ada.text == "HELLO, ADA", "\(ada.text)")
        // `greeting.hello` turns the empty body into "hello, world": shout has a body then.
        let empty = try #require(answers["empty"])
        #expect(empty.isResult && empty.text == "HELLO, WORLD", "\(empty.text)")

        process.terminate()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(output.text.withLock { $0 }.contains("drained=true"))
    }

    @Test func theTemplateRefusesAMappingItHasNoHandlerFor() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("zmanager-component-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try "[actionmapping]\n??hello = greeting.goodbye\n".write(to: directory.appendingPathComponent("m.ini"), atomically: true, encoding: .utf8)
        let config = directory.appendingPathComponent("zmanager.yaml")
        try "flows: \(Self.example.path)/flows\nmappings: m.ini\n".write(to: config, atomically: true, encoding: .utf8)
        let (status, text) = try ServeCommandTests.runToEnd(try Self.executable, ["serve", "--config", config.path])
        #expect(status != 0)
        #expect(text.contains("greeting.goodbye"), "\(text)")
    }
}
