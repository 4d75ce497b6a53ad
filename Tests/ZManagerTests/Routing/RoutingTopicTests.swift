import Testing
@testable import ZManager

@Suite("Routing: topics and subscription prefixes")
struct RoutingTopicTests {
    /// Reference §3's table of `to_generic_topic` outputs, plus the worker-control topic from §2,
    /// each with our field-terminated subscription prefix.
    static let examples: [(ActionKey, genericTopic: String, prefix: String)] = [
        (ActionKey(config: "EchoFlow", action: "done"), "EchoFlow~~~~done", "EchoFlow~~~~done~"),
        (ActionKey(config: "completed_command"), "completed_command", "completed_command~"),
        (ActionKey(config: "F", context: "C"), "F~~~C", "F~~~C~"),
        (ActionKey(decorator: "PUBLISH", action: "x"), "~PUBLISH~~~x", "~PUBLISH~~~x~"),
        (ActionKey(), "", ""),
        (ActionKey(config: "UPDATE_ROUTING_WORKERS", decorator: "ROUTING_WORKER"),
         "UPDATE_ROUTING_WORKERS~ROUTING_WORKER", "UPDATE_ROUTING_WORKERS~ROUTING_WORKER~"),
        (ActionKey(config: "command_svc"), "command_svc", "command_svc~"),
        (ActionKey(config: "Flow", decorator: "PUBLISH", source: "Subject", context: "Ctx", action: "act"),
         "Flow~PUBLISH~Subject~Ctx~act", "Flow~PUBLISH~Subject~Ctx~act~"),
    ]

    @Test("genericTopic reproduces DigitalPy; subscriptionPrefix ends at a field boundary", arguments: examples)
    func genericTopicAndPrefix(_ key: ActionKey, genericTopic: String, prefix: String) {
        #expect(key.genericTopic == genericTopic)
        #expect(key.subscriptionPrefix == prefix)
    }

    @Test("topic writes all five fields")
    func topic() {
        #expect(ActionKey().topic == "~~~~")
        #expect(ActionKey(config: "EchoFlow", source: "svcA", context: "EchoFlow", action: "Push").topic
            == "EchoFlow~~svcA~EchoFlow~Push")
        #expect(ActionKey(config: "PubFlow", decorator: "PUBLISH", source: "Subject", context: "PubFlow",
                          action: "notify").topic == "PubFlow~PUBLISH~Subject~PubFlow~notify")
    }

    static let uuid = "0b7c4c5e-2f36-4f3e-9d3c-6f1f5a1f0c11"

    /// (subscription key, frame, does the reference's prefix match, does ours).
    static let overMatching: [(ActionKey, String, reference: Bool, ours: Bool)] = [
        (ActionKey(config: "EchoFlow", action: "done"), "EchoFlow~~~~done~\(uuid)~body", true, true),
        (ActionKey(config: "EchoFlow", action: "done"), "EchoFlow~~~~doneX~\(uuid)~body", true, false),
        (ActionKey(config: "command_svc"), "command_svc~~~~ServiceCommand~\(uuid)~b", true, true),
        (ActionKey(config: "command_svc"), "command_svc2~~~~ServiceCommand~\(uuid)~b", true, false),
        (ActionKey(config: "F", context: "C"), "F~~~Ctx~a~\(uuid)~b", true, false),
        (ActionKey(), "anything~at~all~~~x~", true, true),
    ]

    @Test("the safe prefix does not over-match a longer field", arguments: overMatching)
    func prefixDoesNotOverMatch(_ key: ActionKey, _ frame: String, reference: Bool, ours: Bool) {
        #expect(Array(frame.utf8).starts(with: key.genericTopic.utf8) == reference)
        #expect(Array(frame.utf8).starts(with: key.subscriptionPrefix.utf8) == ours)
    }

    @Test("a written header starts with its key's subscription prefix", arguments: examples.map(\.0))
    func writtenHeaderMatchesPrefix(_ key: ActionKey) throws {
        var buffer = [UInt8](repeating: 0, count: 256)
        let count = try buffer.withUnsafeMutableBytes { try WireHeader.write(key, id: Self.uuid, into: $0) }
        #expect(buffer[..<count].starts(with: key.subscriptionPrefix.utf8))
        #expect(buffer[..<count].starts(with: key.topic.utf8))
    }
}
