import CZeroMQ
import Foundation
import Testing
@testable import ZManager
import ZeroMQ

/// CURVE on the node's tcp and ipc endpoints: who gets through, who does not, and that every
/// refusal is counted.
@Suite("Security: CURVE and the ZAP handler", .enabled(if: CurveKeyPair.isAvailable, "libzmq without CURVE"))
struct CurveSecurityTests {
    static let flows = "[Echo]\n?Echo?Push\nSubject?Echo?Echo\n??done\n"
    static let mapping = "[actionmapping]\n??Echo = zmanager.builtin.echo\n"

    /// A secured node allowing `allowed`, with `workers` worker threads.
    struct SecuredNode {
        let node: ZManagerNode
        let server: CurveKeyPair

        init(transport: TestTransport, allowed: [CurveKeyPair], workers: Int = 2) throws {
            server = try CurveKeyPair.generate()
            var options = ZManagerNode.Options(workers: workers)
            var names: [CurveKey: String] = [:]
            for (index, pair) in allowed.enumerated() { names[pair.publicKey] = "client-\(index)" }
            options.security = NodeSecurity(curve: CurveSecurity(server: server, serverKey: server.publicKey, client: server),
                                            allowed: names)
            node = try ZManagerNode(endpoints: .ephemeral(transport: transport.rawValue),
                                    flows: try FlowTable(parsing: CurveSecurityTests.flows, path: "flows.ini"),
                                    mapping: try ActionMapping(parsing: CurveSecurityTests.mapping, path: "mapping.ini"),
                                    handlers: .withBuiltins, options: options)
        }

        var authentication: AuthenticationStatistics { node.authentication! }

        /// A client in its own context, as a service in another process: `keyPair` nil is a
        /// client without CURVE; `serverKey` defaults to the node's.
        func client(_ keyPair: CurveKeyPair?, serverKey: CurveKey? = nil) throws -> (ZManagerClient, Context) {
            let security = keyPair.map { CurveSecurity(server: nil, serverKey: serverKey ?? server.publicKey, client: $0) }
            let context = try Context(security: security)
            let client = try ZManagerClient(context: context, subject: node.endpoints.subjectFront,
                                            integrationManager: node.endpoints.integrationManagerPub, form: .split)
            try client.subscribeErrors()
            try client.subscribeResults(flow: "Echo")
            return (client, context)
        }

        /// Waits (10 s at most) until `counter` reaches `value`.
        func wait(_ counter: (AuthenticationStatistics) -> Int, atLeast value: Int) -> Bool {
            let clock = ContinuousClock()
            let deadline = clock.now + .seconds(10)
            while counter(authentication) < value {
                if clock.now >= deadline { return false }
                var pause = timespec(tv_sec: 0, tv_nsec: 2_000_000)
                nanosleep(&pause, nil)
            }
            return true
        }

        func stop() { node.stop(drainTimeout: .seconds(5)) }
    }

    /// A round trip of an allowed client: its result, received.
    static func roundTrip(_ client: ZManagerClient, id: String) throws -> ZManagerClient.Delivery? {
        try #require(try client.waitUntilConnected(), "an allowed client reaches the node")
        try client.push(flow: "Echo", id: id, body: Array("secret".utf8))
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(10)
        while clock.now < deadline {
            if let delivery = try client.receive(timeout: .milliseconds(50)), delivery.id == id { return delivery }
        }
        return nil
    }

    @Test(arguments: [TestTransport.tcp, .ipc])
    func anAllowedClientGetsItsResult(transport: TestTransport) throws {
        let key = try CurveKeyPair.generate()
        let secured = try SecuredNode(transport: transport, allowed: [key])
        defer { secured.stop() }
        let (client, context) = try secured.client(key)
        defer { client.close(); context.terminate() }
        let result = try #require(try Self.roundTrip(client, id: "allowed"))
        #expect(result.isResult && result.body == Array("secret".utf8))
        // The client's two sockets, and the node's own internal ones, each shook hands.
        #expect(secured.authentication.accepted.load(ordering: .relaxed) >= 2)
        #expect(secured.authentication.refused.load(ordering: .relaxed) == 0)
        #expect(secured.authentication.failed.load(ordering: .relaxed) == 0)
        #expect(secured.node.roleStatus.authenticator == true)
    }

    /// The refused party's request must not start a flow: an allowed client's round trip after
    /// the refusal was counted proves the Subject had its chance to see it.
    static func expectNothingThrough(_ secured: SecuredNode, _ refused: ZManagerClient, allowed: CurveKeyPair) throws {
        let (client, context) = try secured.client(allowed)
        defer { client.close(); context.terminate() }
        _ = try #require(try Self.roundTrip(client, id: "allowed-after"))
        #expect(secured.node.statistics.flowsStarted.load(ordering: .relaxed) == 1, "only the allowed client's flow started")
        #expect(try refused.receive(timeout: .milliseconds(50)) == nil, "the refused client's SUB receives nothing")
    }

    @Test(arguments: [TestTransport.tcp, .ipc])
    func aClientWithAnUnknownKeyIsRefusedAndCounted(transport: TestTransport) throws {
        let allowed = try CurveKeyPair.generate()
        let secured = try SecuredNode(transport: transport, allowed: [allowed])
        defer { secured.stop() }
        let (stranger, context) = try secured.client(try CurveKeyPair.generate())
        defer { stranger.close(); context.terminate() }
        try stranger.push(flow: "Echo", id: "stranger", body: Array("let me in".utf8))
        #expect(secured.wait({ $0.refused.load(ordering: .relaxed) }, atLeast: 2), "both of the stranger's sockets are refused by the ZAP handler")
        try Self.expectNothingThrough(secured, stranger, allowed: allowed)
    }

    @Test(arguments: [TestTransport.tcp, .ipc])
    func aClientWithoutCurveFailsItsHandshake(transport: TestTransport) throws {
        let allowed = try CurveKeyPair.generate()
        let secured = try SecuredNode(transport: transport, allowed: [allowed])
        defer { secured.stop() }
        let (plain, context) = try secured.client(nil)
        defer { plain.close(); context.terminate() }
        try plain.push(flow: "Echo", id: "plain", body: Array("no keys".utf8))
        #expect(secured.wait({ $0.failed.load(ordering: .relaxed) }, atLeast: 2), "a NULL-mechanism peer fails the handshake")
        try Self.expectNothingThrough(secured, plain, allowed: allowed)
        #expect(secured.authentication.refused.load(ordering: .relaxed) == 0)
    }

    @Test func aClientGivenTheWrongServerKeyFailsItsHandshake() throws {
        let allowed = try CurveKeyPair.generate()
        let secured = try SecuredNode(transport: .tcp, allowed: [allowed])
        defer { secured.stop() }
        let (fooled, context) = try secured.client(allowed, serverKey: try CurveKeyPair.generate().publicKey)
        defer { fooled.close(); context.terminate() }
        try fooled.push(flow: "Echo", id: "fooled", body: Array("who are you".utf8))
        #expect(secured.wait({ $0.failed.load(ordering: .relaxed) }, atLeast: 2), "a HELLO for another server key cannot be opened")
        try Self.expectNothingThrough(secured, fooled, allowed: allowed)
    }

    /// A worker on another host: its own context, its own allowed key, the server's public key.
    @Test func aWorkerInAnotherContextAuthenticatesAndServesFlows() throws {
        let clientKey = try CurveKeyPair.generate()
        let workerKey = try CurveKeyPair.generate()
        let secured = try SecuredNode(transport: .tcp, allowed: [clientKey, workerKey], workers: 0)
        defer { secured.stop() }
        let workerContext = try Context(security: CurveSecurity(server: nil, serverKey: secured.server.publicKey, client: workerKey))
        let endpoints = secured.node.endpoints
        let worker = try Worker(name: "remote", context: workerContext, subject: endpoints.subjectWorkers,
                                subjectFront: endpoints.subjectFront, integrationManager: endpoints.integrationManagerPull,
                                routing: secured.node.routing,
                                mapping: try ActionMapping(parsing: Self.mapping, path: "mapping.ini"),
                                handlers: .withBuiltins, statistics: CoreStatistics())
        let thread = SocketThread.start(name: "zm-remote") { worker.run() }
        defer { workerContext.shutdown(); _ = thread.join(); workerContext.terminate() }
        let (client, context) = try secured.client(clientKey)
        defer { client.close(); context.terminate() }
        let result = try #require(try Self.roundTrip(client, id: "via-remote-worker"))
        #expect(result.isResult)
    }

    @Test func aSecuredBindBeforeTheZAPHandlerIsRefused() throws {
        let server = try CurveKeyPair.generate()
        let context = try Context(security: CurveSecurity(server: server, serverKey: server.publicKey, client: server))
        defer { context.terminate() }
        let socket = try Socket(context, .pull)
        defer { socket.close() }
        #expect(throws: ZMQError.self) { try socket.bind("tcp://127.0.0.1:*") }
        // inproc has no handshake: nothing to authenticate.
        try socket.bind("inproc://zmanager-curve-test-\(UInt64.random(in: 0...UInt64.max))")
    }

    @Test func keysRoundTripThroughZ85() throws {
        let pair = try CurveKeyPair.generate()
        #expect(try CurveKeyPair(secretKey: pair.secretKey).publicKey == pair.publicKey)
        #expect(CurveKey(z85: pair.publicKey.z85) == pair.publicKey)
        #expect(CurveKey(z85: "too short") == nil)
        #expect(CurveKey(z85: String(repeating: "\"", count: 40)) == nil, "a quote is not a Z85 character")
        // The key of libzmq's own CURVE test (tests/testutil_security.cpp) decodes and encodes back.
        let known = try #require(CurveKey(z85: "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"))
        var raw = [UInt8](repeating: 0, count: 32)
        #expect(zmq_z85_decode(&raw, known.z85) != nil)
        #expect(CurveKey(bytes: raw) == known)
        #expect(CurveKey(bytes: raw.dropLast()) == nil, "31 bytes are not a key")
    }

    @Test func handshakeEventsDecode() {
        func frame(_ event: CInt, _ value: UInt32) -> [UInt8] {
            [UInt8(event & 0xFF), UInt8(event >> 8 & 0xFF)] + (0..<4).map { UInt8(value >> (8 * $0) & 0xFF) }
        }
        let endpoint = Array("tcp://127.0.0.1:5555".utf8)
        #expect(HandshakeEvent(eventFrame: frame(ZMQ_EVENT_HANDSHAKE_SUCCEEDED, 0), endpointFrame: endpoint)?.kind == .succeeded)
        #expect(HandshakeEvent(eventFrame: frame(ZMQ_EVENT_HANDSHAKE_FAILED_AUTH, 400), endpointFrame: endpoint)?.kind
                == .refused(status: 400))
        let mismatch = UInt32(bitPattern: ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH)
        let event = HandshakeEvent(eventFrame: frame(ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL, mismatch), endpointFrame: endpoint)
        #expect(event?.kind == .protocolError(code: mismatch))
        #expect(event?.endpoint == "tcp://127.0.0.1:5555")
        #expect(HandshakeEvent.protocolErrorName(mismatch).contains("mechanism mismatch"))
        #expect(HandshakeEvent(eventFrame: frame(ZMQ_EVENT_CONNECTED, 0), endpointFrame: endpoint) == nil)
        #expect(HandshakeEvent(eventFrame: [1, 2, 3], endpointFrame: endpoint) == nil)
    }

    @Test func theLogBudgetAllowsABurstThenOneASecondAndCountsWhatItLeftOut() {
        var budget = LogBudget()
        let start = ContinuousClock.now
        for _ in 0..<LogBudget.burst { #expect(budget.take(start) == 0) }
        #expect(budget.take(start) == nil)
        #expect(budget.take(start + .milliseconds(500)) == nil)
        #expect(budget.take(start + .milliseconds(1_100)) == 2, "the next line says two were left out")
        #expect(budget.take(start + .milliseconds(1_200)) == nil)
    }
}
