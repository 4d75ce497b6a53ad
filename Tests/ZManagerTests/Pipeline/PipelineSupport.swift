import Foundation
import Testing
import ZManager
import ZeroMQ

/// The three transports every pipeline test runs over.
enum TestTransport: String, CaseIterable, Sendable {
    case inproc, ipc, tcp
}

/// A running node plus a connected client, built from flow and mapping text.
final class TestPipeline {
    let node: ZManagerNode
    let client: ZManagerClient
    let clientContext: Context

    init(transport: TestTransport, flows: String, mapping: String, handlers: HandlerRegistry = .withBuiltins,
         options: ZManagerNode.Options = .init(), form: WireForm = .split) throws {
        var options = options
        // scripts/test runs the pipeline suites a second time with reliable dispatch.
        if ProcessInfo.processInfo.environment["ZMANAGER_TEST_DISPATCH"] == "reliable" { options.dispatch.mode = .reliable }
        node = try ZManagerNode(endpoints: .ephemeral(transport: transport.rawValue),
                                flows: try FlowTable(parsing: flows, path: "test-flows.ini"),
                                mapping: try ActionMapping(parsing: mapping, path: "test-mapping.ini"),
                                handlers: handlers, options: options)
        // inproc endpoints only exist inside the node's context; other transports get a
        // context of their own, like a separate service process would.
        clientContext = transport == .inproc ? node.context : try Context()
        client = try ZManagerClient(context: clientContext, subject: node.endpoints.subjectFront,
                                    integrationManager: node.endpoints.integrationManagerPub, form: form)
        try client.subscribeErrors()
        try #require(try client.waitUntilConnected(), "the client reaches the node")
    }

    /// Subscribes and waits until the subscription is active at the Integration Manager
    /// (subscriptions travel asynchronously; the ping proves everything before it arrived).
    func subscribe(_ prefix: String) throws {
        try client.subscribe(prefix)
        try #require(try client.waitUntilConnected())
    }

    /// Connects a service to the node and runs it on its own thread (it subscribes
    /// asynchronously: callers retry their first request until it answers).
    @discardableResult
    func startService(name: String, mapping: String, handlers: HandlerRegistry) throws -> ServiceStatistics {
        let service = try Service(name: name, context: node.context, subjectFront: node.endpoints.subjectFront,
                                  integrationManagerPull: node.endpoints.integrationManagerPull,
                                  integrationManagerPub: node.endpoints.integrationManagerPub,
                                  routing: node.routing, mapping: try ActionMapping(parsing: mapping, path: "\(name).ini"),
                                  handlers: handlers)
        let statistics = service.statistics
        _ = SocketThread.start(name: name) { service.run() }
        return statistics
    }

    /// Receives until `predicate` accepts a delivery, failing after `timeout`.
    func receive(timeout: Duration = .seconds(10), where predicate: (ZManagerClient.Delivery) -> Bool) throws -> ZManagerClient.Delivery? {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while clock.now < deadline {
            if let delivery = try client.receive(timeout: .milliseconds(50)), predicate(delivery) { return delivery }
        }
        return nil
    }

    /// Pushes one request and returns the first result or error carrying its id.
    func roundTrip(flow: String, body: String, id: String = UUID().uuidString.lowercased()) throws -> ZManagerClient.Delivery? {
        try client.push(flow: flow, id: id, body: Array(body.utf8))
        return try receive { $0.id == id && ($0.isResult || $0.errorKind != nil) }
    }

    func stop() {
        client.close()
        node.stop(drainTimeout: .seconds(5))
        if clientContext !== node.context { clientContext.terminate() }
    }
}

/// A handler that appends `suffix` to the body.
func appending(_ suffix: String) -> Handler {
    { request, response in response.setBody(Array(request.body) + Array(suffix.utf8)) }
}
