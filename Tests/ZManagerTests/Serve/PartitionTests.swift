import Foundation
import Synchronization
import Testing
import ZManager
import ZeroMQ

/// Workers on another host, made of a network namespace the test creates (`ip netns`, a veth
/// pair, `tc netem` delay and loss), then cut off: reliable dispatch's heartbeats find the
/// partition, the cut-off worker's steps go to the local one, and every request is answered
/// exactly once. Needs root and iproute2; skipped with the reason otherwise. Where the kernel has
/// no netem (`sch_netem`), the link runs unshaped and the cut is the veth going down on both ends
/// (no FIN or RST either); the test says so in its output.
@Suite("Across hosts: a worker in a network namespace, delayed, lossy, then partitioned",
       .enabled(if: NetworkNamespace.unavailableReason == nil, "\(NetworkNamespace.unavailableReason ?? "")"),
       .serialized)
struct PartitionTests {
    @Test func aPartitionedWorkersStepsAreRedeliveredAndNothingIsLost() throws {
        let namespace = try NetworkNamespace()
        defer { namespace.remove() }
        // A WAN-like link both ways: 5 ms each way, 1 % loss (TCP retransmits it).
        let netem = namespace.shapeIfPossible("delay 5ms loss 1%")
        if !netem { print("PartitionTests: this kernel has no netem qdisc: no delay or loss; the partition takes the veth down instead") }

        let server = try ServeCommandTests.Server(transport: .tcp, workers: 1, deployment: "processes", extraConfiguration: """
            dispatch: {mode: reliable, credit: 16, heartbeat: 100ms, heartbeat_timeout: 1s}
            limits: {dispatch_timeout: 60s}
            """, host: namespace.hostAddress)
        // The remote worker: `zmanager worker` inside the namespace, reaching serve over the veth.
        let remote = Process()
        remote.executableURL = URL(fileURLWithPath: NetworkNamespace.ip)
        remote.arguments = ["netns", "exec", namespace.name, try ServeCommandTests.executable.path, "worker",
                            "--config", server.directory.appendingPathComponent("zmanager.yaml").path, "--name", "remote",
                            "--subject-workers", server.endpoints.subjectWorkers, "--subject", server.endpoints.subjectFront,
                            "--integration-manager", server.endpoints.integrationManagerPull]
        remote.standardOutput = FileHandle.nullDevice
        remote.standardError = FileHandle.nullDevice
        try remote.run()
        defer {
            if remote.isRunning { kill(remote.processIdentifier, SIGKILL) }
            remote.waitUntilExit()
        }

        let context = try Context()
        defer { context.terminate() }
        let client = try ServeCommandTests.burstClient(context, server)
        defer { client.close() }
        // Both workers, the local p0 and the remote one, take part before the burst.
        try ServeCommandTests.warmUp(client, until: ["p0", "remote"])

        let count = 3_000
        var burst = try ServeCommandTests.burst(client, count: count, faultAfter: 500) {
            // The cable is cut: every packet either way is dropped, and no FIN or RST tells
            // either side; only the heartbeat deadline can.
            if netem { try namespace.shape("loss 100%") } else { try namespace.setLinks(up: false) }
        }
        // Heal the link: anything the remote worker still sends must not reach services twice.
        if netem { try namespace.shape("delay 5ms") } else { try namespace.setLinks(up: true) }
        while let delivery = try client.receive(timeout: .milliseconds(1_500)) {
            if delivery.isResult, delivery.id.hasPrefix("s") { burst.answers[delivery.id, default: 0] += 1 }
        }
        #expect(burst.faulted)
        #expect(burst.byWorker["remote", default: 0] > 0, "the remote worker took part in the burst: \(burst.byWorker)")
        #expect(burst.errors.isEmpty, "\(burst.errors.prefix(3))")
        #expect(burst.answers.count == count, "every request answered: \(count - burst.answers.count) missing, by worker \(burst.byWorker)")
        #expect(burst.answers.values.allSatisfy { $0 == 1 }, "each once: \(burst.answers.filter { $0.value > 1 }.count) duplicated")
        #expect(server.terminate())
        let summary = try #require(server.waitForLine(starting: "drained="), "\(server.output.text.withLock { $0 })")
        #expect(summary.contains("drained=true") && summary.contains("in_flight=0"), "\(summary)")
        let fields = ServeCommandTests.numbers(in: summary)
        #expect((fields["workers_lost"] ?? 0) >= 1, "the heartbeats found the partition: \(summary)")
        #expect((fields["redelivered"] ?? 0) >= 1, "the cut-off worker held steps: \(summary)")
    }
}

/// A network namespace joined to this one by a veth pair, with addresses on a /30 of its own,
/// removed by ``remove()`` (and with it the veth pair).
final class NetworkNamespace {
    static let ip = "/usr/sbin/ip"
    static let tc = "/usr/sbin/tc"
    let name: String
    let hostDevice: String
    let namespaceDevice: String
    let hostAddress: String
    let namespaceAddress: String

    /// Why namespaces cannot be made here (nil: they can): not root, no iproute2, or the kernel
    /// or container refuses (probed once by creating and removing one).
    static let unavailableReason: String? = {
        guard geteuid() == 0 else { return "needs root to create network namespaces (ip netns)" }
        guard FileManager.default.isExecutableFile(atPath: ip), FileManager.default.isExecutableFile(atPath: tc) else {
            return "needs iproute2 (\(ip), \(tc)): apt-get install iproute2"
        }
        let probe = "zmprobe\(getpid())"
        guard (try? run(ip, ["netns", "add", probe])) != nil else { return "ip netns add is refused here (no CAP_SYS_ADMIN or no netns support)" }
        _ = try? run(ip, ["netns", "del", probe])
        return nil
    }()

    /// Namespaces made by this process so far: each gets its own name, devices and /30, since
    /// suites that make one run at the same time (one per process was a clash: "File exists").
    private static let made = Atomic<Int>(0)

    init() throws {
        let tag = getpid() % 200 + 20
        let number = Self.made.wrappingAdd(1, ordering: .relaxed).oldValue % 63
        // Device names stay within IFNAMSIZ (15 characters): "zmh" + a pid of up to 7 digits + "x" + 2.
        let suffix = "\(getpid())x\(number)"
        name = "zmt\(suffix)"
        hostDevice = "zmh\(suffix)"
        namespaceDevice = "zmn\(suffix)"
        hostAddress = "10.231.\(tag).\(4 * number + 1)"
        namespaceAddress = "10.231.\(tag).\(4 * number + 2)"
        try Self.run(Self.ip, ["netns", "add", name])
        do {
            try Self.run(Self.ip, ["link", "add", hostDevice, "type", "veth", "peer", "name", namespaceDevice])
            try Self.run(Self.ip, ["link", "set", namespaceDevice, "netns", name])
            try Self.run(Self.ip, ["addr", "add", "\(hostAddress)/30", "dev", hostDevice])
            try Self.run(Self.ip, ["link", "set", hostDevice, "up"])
            try inside(Self.ip, ["addr", "add", "\(namespaceAddress)/30", "dev", namespaceDevice])
            try inside(Self.ip, ["link", "set", namespaceDevice, "up"])
            try inside(Self.ip, ["link", "set", "lo", "up"])
        } catch {
            remove()
            throw error
        }
    }

    /// Sets the netem discipline on both ends of the veth (`delay 5ms loss 1%`, `loss 100%`).
    func shape(_ netem: String) throws {
        let arguments = netem.split(separator: " ").map(String.init)
        try Self.run(Self.tc, ["qdisc", "replace", "dev", hostDevice, "root", "netem"] + arguments)
        try inside(Self.tc, ["qdisc", "replace", "dev", namespaceDevice, "root", "netem"] + arguments)
    }

    /// ``shape(_:)``, or false when the kernel has no netem.
    func shapeIfPossible(_ netem: String) -> Bool { (try? shape(netem)) != nil }

    /// Takes both ends of the veth down (a cut cable: packets vanish, nobody is told) or up.
    func setLinks(up: Bool) throws {
        try Self.run(Self.ip, ["link", "set", hostDevice, up ? "up" : "down"])
        try inside(Self.ip, ["link", "set", namespaceDevice, up ? "up" : "down"])
    }

    func remove() {
        _ = try? Self.run(Self.ip, ["netns", "del", name])
        _ = try? Self.run(Self.ip, ["link", "del", hostDevice])
    }

    private func inside(_ tool: String, _ arguments: [String]) throws {
        try Self.run(Self.ip, ["netns", "exec", name, tool] + arguments)
    }

    struct CommandFailed: Error, CustomStringConvertible {
        let description: String
    }

    /// Runs a command to its end (each is a quick configuration step) and throws on failure.
    @discardableResult
    static func run(_ tool: String, _ arguments: [String]) throws -> String {
        let (status, output) = try ServeCommandTests.runToEnd(URL(fileURLWithPath: tool), arguments)
        guard status == 0 else {
            throw CommandFailed(description: "\(tool) \(arguments.joined(separator: " ")): \(output)")
        }
        return output
    }
}
