import Foundation
import Synchronization
import Testing

/// `zmanager run` with its load from two `zmanager agent`s on other hosts: each agent in a
/// network namespace the test creates (a veth pair and a /30 each), reaching the pipeline over
/// its own link at the address its coordinator's connection came from. Needs root and
/// iproute2; skipped with the reason otherwise.
@Suite("Load from two hosts: zmanager agent in two network namespaces",
       .enabled(if: NetworkNamespace.unavailableReason == nil, "\(NetworkNamespace.unavailableReason ?? "")"),
       .serialized)
struct AgentNamespaceTests {
    @Test func twoNamespacedAgentsLoadOnePipelineAndTheRunAddsThemUp() throws {
        let namespaces = try (0..<2).map { _ in try NetworkNamespace() }
        defer { for namespace in namespaces { namespace.remove() } }
        let executable = try ServeCommandTests.executable
        // Two measurements each: ZManager's and the bare calibration's.
        var agents: [(process: Process, output: OutputBuffer, exited: ExitSignal)] = []
        defer {
            for agent in agents where agent.process.isRunning { kill(agent.process.processIdentifier, SIGKILL) }
        }
        for namespace in namespaces {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: NetworkNamespace.ip)
            process.arguments = ["netns", "exec", namespace.name, executable.path, "agent",
                                 "--listen", "tcp://\(namespace.namespaceAddress):5600", "--sessions", "2"]
            let output = OutputBuffer(), exited = ExitSignal(), pipe = Pipe()
            process.standardOutput = FileHandle.nullDevice
            process.standardError = pipe
            pipe.fileHandleForReading.readabilityHandler = { handle in
                output.text.withLock { $0 += String(decoding: handle.availableData, as: UTF8.self) }
                output.changed.signal()
            }
            exited.attach(to: process)
            try process.run()
            agents.append((process, output, exited))
            #expect(Self.wait(for: "listening on tcp://\(namespace.namespaceAddress):5600", in: output), "\(output.text.withLock { $0 })")
        }

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("zmanager-agents-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let scenario = directory.appendingPathComponent("two-hosts.yaml")
        try """
            name: two-hosts
            agents: [\(namespaces.map { "tcp://\($0.namespaceAddress):5600" }.joined(separator: ", "))]
            topology: {transport: tcp, workers: 2}
            load: {model: closed, in_flight: 40}
            phases: {warmup: 200ms, messages: 4000, drain: 5s, interval: 250ms}
            """.write(to: scenario, atomically: true, encoding: .utf8)
        let (status, output) = try ServeCommandTests.runToEnd(executable, ["run", scenario.path, "--results", directory.path, "-q"])
        #expect(status == 0, "\(output)")

        let runs = try FileManager.default.contentsOfDirectory(atPath: directory.appendingPathComponent("two-hosts").path)
        let run = directory.appendingPathComponent("two-hosts").appendingPathComponent(try #require(runs.first))
        let result = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: run.appendingPathComponent("result.json"))) as? [String: Any])
        #expect(result["agents"] as? [String] == namespaces.map { "tcp://\($0.namespaceAddress):5600" })
        let point = try #require((result["points"] as? [[String: Any]])?.first)
        for pipeline in ["zmanager", "bare"] {
            let measurement = try #require(point[pipeline] as? [String: Any], "\(pipeline) measured")
            #expect(measurement["sent"] as? Int == 4000 && measurement["received"] as? Int == 4000, "\(pipeline): \(measurement["received"] ?? "-")")
            #expect(measurement["lost"] as? Int == 0 && measurement["errors"] as? Int == 0 && measurement["duplicated"] as? Int == 0)
            let parts = try #require(measurement["agents"] as? [[String: Any]])
            let received = parts.compactMap { ($0["measurement"] as? [String: Any])?["received"] as? Int }
            #expect(received == [2000, 2000], "\(pipeline): each agent answered its share")
            let latency = try #require(measurement["latency"] as? [String: Any])
            #expect(latency["count"] as? Int == 4000)
        }
        // Each agent was reached over its own link and reached the pipeline back over it.
        for (namespace, agent) in zip(namespaces, agents) {
            #expect(agent.exited.wait(timeout: .seconds(30)), "the agent stops after its 2 sessions")
            let log = agent.output.text.withLock { $0 }
            #expect(log.contains("from \(namespace.hostAddress)"), "\(log)")
            #expect(log.components(separatedBy: "received 2000, lost 0").count == 3, "\(log)")
        }
    }

    /// Waits (bounded) until `text` appears in the output.
    static func wait(for text: String, in output: OutputBuffer, timeout: Duration = .seconds(30)) -> Bool {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while clock.now < deadline {
            if output.text.withLock({ $0.contains(text) }) { return true }
            _ = output.changed.wait(timeout: deadline - clock.now)
        }
        return output.text.withLock { $0.contains(text) }
    }
}
