import Foundation
import Testing
import ZManager
import ZeroMQ

/// Why the multicast test cannot run here (nil: it can).
enum MulticastAvailability {
    static let unavailableReason: String? = Context.has("pgm")
        ? NetworkNamespace.unavailableReason : "libzmq was built without PGM (zmq_has(\"pgm\") is false)"
}

/// The Integration Manager's publication to a PGM multicast group (`epgm://`), across a network
/// namespace the test creates: `zmanager serve` runs inside it and publishes to the group over
/// its end of a veth pair; this process joins the group on the other end, as a client and as a
/// service. Needs root, iproute2 and a libzmq with PGM; skipped with the reason otherwise.
@Suite("Multicast fan-out: the Integration Manager publishes to a PGM group across a network namespace",
       .enabled(if: MulticastAvailability.unavailableReason == nil, "\(MulticastAvailability.unavailableReason ?? "")"),
       .serialized)
struct MulticastTests {
    /// A step for a service: with a group nobody's subscriptions are known, so it is published
    /// instead of ending in `no_subscriber`.
    static let handoff = "[Handoff]\n?Handoff?Push\n?Handoff@PUBLISH?Note\n??done\n"

    @Test func everyResultReachesTheGroupOnceAndInOrderAndAServiceOnTheGroupIsHeard() throws {
        let namespace = try NetworkNamespace()
        defer { namespace.remove() }
        let group = "239.192.\(getpid() % 200 + 20).1:\(5_600 + Int(getpid() % 300))"
        let sending = "epgm://\(namespace.namespaceAddress);\(group)"
        let server = try ServeCommandTests.Server(
            transport: .tcp, workers: 1, deployment: "threads", host: namespace.namespaceAddress,
            launcher: [NetworkNamespace.ip, "netns", "exec", namespace.name], multicast: sending, extraFlows: Self.handoff)
        #expect(server.readyFields["integration_manager_multicast"] == sending)

        let context = try Context()
        defer { context.terminate() }
        let joining = "epgm://\(namespace.hostAddress);\(group)"
        // The service first: it joins the group while the client warms up and bursts.
        let service = try Service(name: "notes", context: context, subjectFront: server.endpoints.subjectFront,
                                  integrationManagerPull: server.endpoints.integrationManagerPull, integrationManagerPub: joining,
                                  routing: RoutingTable(flows: try FlowTable(parsing: Self.handoff)),
                                  mapping: try ActionMapping(parsing: "[actionmapping]\n??Note = zmanager.builtin.tag\n", path: "notes.ini"),
                                  handlers: .withBuiltins)
        let serviceThread = SocketThread.start(name: "notes") { service.run() }
        defer { context.terminate(); _ = serviceThread.join(timeout: .seconds(10)) }

        let client = try ZManagerClient(context: context, subject: server.endpoints.subjectFront, integrationManager: joining)
        defer { client.close() }
        try client.subscribeResults(flow: "Echo")
        try client.subscribeResults(flow: "Handoff")
        try client.subscribeErrors()
        // Joined once a probe's result comes back over the group (at most 100 × 100 ms).
        var joined = false
        for probe in 0..<100 where !joined {
            try client.push(flow: "Echo", id: "w\(probe)", body: Array("w".utf8))
            while let delivery = try client.receive(timeout: .milliseconds(100)) {
                if delivery.isResult, delivery.id.hasPrefix("w") { joined = true }
            }
        }
        try #require(joined, "a probe's result arrived over the group")

        // A closed loop of 20,000 requests, 1,000 outstanding.
        let count = 20_000
        var answered: [Int] = []
        var errors: [String] = []
        var sent = 0
        let clock = ContinuousClock()
        let start = clock.now
        let deadline = start + .seconds(90)
        while answered.count < count && clock.now < deadline {
            while sent < count && sent - answered.count < 1_000 {
                try client.push(flow: "Echo", id: "e\(sent)", body: Array("payload".utf8))
                sent += 1
            }
            guard let delivery = try client.receive(timeout: .milliseconds(200)) else { continue }
            if let kind = delivery.errorKind { errors.append("\(kind): \(delivery.errorText)"); continue }
            if delivery.isResult, delivery.id.hasPrefix("e"), let index = Int(delivery.id.dropFirst()) { answered.append(index) }
        }
        let seconds = Double((clock.now - start).components.seconds) + Double((clock.now - start).components.attoseconds) / 1e18
        print("MulticastTests: \(answered.count) of \(count) results over epgm in \(String(format: "%.2f", seconds)) s "
              + "(\(Int(Double(answered.count) / seconds)) msg/s), \(count - Set(answered).count) lost")
        let burstErrors = errors.count
        #expect(burstErrors == 0, "\(errors.prefix(3))")
        #expect(Set(answered).count == count, "every result arrived: \(count - Set(answered).count) missing")
        #expect(answered.count == count, "each once: \(answered.count - Set(answered).count) duplicated")
        let firstOutOfOrder = answered.indices.first { answered[$0] != $0 }
        let outOfOrder = firstOutOfOrder.map { "result \($0) was e\(answered[$0])" } ?? ""
        #expect(firstOutOfOrder == nil, "in the order they were pushed (one worker, one group): \(outOfOrder)")

        // The PUBLISH step goes to the group although no tcp subscriber wants it, the service
        // on the group runs it, and its result comes back the same way.
        var handoffs: [String: String] = [:]
        for i in 0..<100 { try client.push(flow: "Handoff", id: "h\(i)", body: Array("z".utf8)) }
        let handoffDeadline = clock.now + .seconds(30)
        while handoffs.count < 100 && clock.now < handoffDeadline {
            guard let delivery = try client.receive(timeout: .milliseconds(200)) else { continue }
            if let kind = delivery.errorKind { errors.append("\(kind): \(delivery.errorText)"); continue }
            if delivery.isResult, delivery.id.hasPrefix("h") { handoffs[delivery.id] = delivery.text }
        }
        let handoffErrors = errors.count
        #expect(handoffErrors == 0, "no no_subscriber with a group: \(errors.prefix(3))")
        #expect(handoffs.count == 100 && handoffs.values.allSatisfy { $0 == "z@notes" },
                "\(handoffs.count) of 100 answered by the service on the group: \(Set(handoffs.values))")
        #expect(service.statistics.malformedDeliveries.load(ordering: .relaxed) == 0)

        #expect(server.terminate())
        let summary = try #require(server.waitForLine(starting: "drained="), "\(server.output.text.withLock { $0 })")
        #expect(summary.contains("drained=true") && summary.contains("in_flight=0"), "\(summary)")
    }

    /// Past `multicast.rate_kbps` the group's queue fills to the high-water mark, and then the
    /// IM refuses what the group cannot take, counts it and ends its flow, as for any full
    /// subscriber: nothing is lost unseen and nothing stays in flight.
    @Test func pastItsRateTheGroupRefusesAndCountsAndNothingWedges() throws {
        let namespace = try NetworkNamespace()
        defer { namespace.remove() }
        let group = "239.192.\(getpid() % 200 + 20).2:\(5_900 + Int(getpid() % 300))"
        let server = try ServeCommandTests.Server(
            transport: .tcp, workers: 1, deployment: "threads",
            extraConfiguration: "limits: {high_water_mark: 100}\nmulticast: {rate_kbps: 100}\n",
            host: namespace.namespaceAddress, launcher: [NetworkNamespace.ip, "netns", "exec", namespace.name],
            multicast: "epgm://\(namespace.namespaceAddress);\(group)")
        let context = try Context()
        defer { context.terminate() }
        // Over tcp: this subscriber has room; the group (about 100 small messages a second) has not.
        let client = try ZManagerClient(context: context, subject: server.endpoints.subjectFront,
                                        integrationManager: server.endpoints.integrationManagerPub)
        defer { client.close() }
        try client.subscribeResults(flow: "Echo")
        try client.subscribeResults(flow: "Tagged")
        try ServeCommandTests.warmUp(client, until: ["w0"])

        let count = 3_000
        for i in 0..<count { try client.push(flow: "Echo", id: "r\(i)", body: Array("r".utf8)) }
        var results = 0
        while results < count, let delivery = try client.receive(timeout: .seconds(2)) {
            if delivery.isResult, delivery.id.hasPrefix("r") { results += 1 }
        }
        #expect(server.terminate())
        let summary = try #require(server.waitForLine(starting: "drained="), "\(server.output.text.withLock { $0 })")
        let fields = ServeCommandTests.numbers(in: summary)
        let dropped = fields["publish_dropped"] ?? 0
        print("MulticastTests: at 100 kbit/s and HWM 100, \(results) of \(count) results published, \(dropped) refused")
        #expect(dropped > 0, "the group's queue filled: \(summary)")
        #expect(results + dropped == count, "each result published or refused and counted: \(results) + \(dropped)")
        #expect(summary.contains("drained=true") && summary.contains("in_flight=0"), "every flow ended: \(summary)")
    }
}
