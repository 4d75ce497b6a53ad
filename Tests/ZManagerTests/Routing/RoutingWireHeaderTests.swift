import Testing
@testable import ZManager
import ZeroMQ

@Suite("Routing: wire header")
struct RoutingWireHeaderTests {
    static let uuid = "0b7c4c5e-2f36-4f3e-9d3c-6f1f5a1f0c11"

    static let keys: [ActionKey] = [
        ActionKey(),
        ActionKey(config: "EchoFlow", source: "svcA", context: "EchoFlow", action: "Push"),
        ActionKey(config: "PubFlow", decorator: "PUBLISH", source: "Subject", context: "PubFlow", action: "notify"),
        ActionKey(config: "EchoFlow", action: "done"),
        ActionKey(config: "Flüsse", source: "Süd", context: "ação", action: "東京"),
    ]

    @Test("write then parse gives the same fields, id and body", arguments: keys)
    func roundTrip(_ key: ActionKey) throws {
        let body: [UInt8] = [0x80, 0x04] + Array("x~y~~z".utf8)  // a body may contain '~'
        let headerLength = WireHeader.length(of: key, id: Self.uuid)
        var frame = [UInt8](repeating: 0, count: headerLength + body.count)
        let written = try frame.withUnsafeMutableBytes { try WireHeader.write(key, id: Self.uuid, into: $0) }
        #expect(written == headerLength)
        frame.replaceSubrange(written..., with: body)
        #expect(Array(frame[..<written]) == Array((key.topic + "~" + Self.uuid + "~").utf8))

        try frame.withUnsafeBytes { buffer in
            let fields = try WireHeader.parse(buffer)
            #expect(fields.actionKey(in: buffer) == key)
            #expect(fields.string(.id, in: buffer) == Self.uuid)
            #expect(fields.hasMessageID)
            #expect(fields.bodyOffset == written)
            #expect(Array(fields.body(in: buffer)) == body)
        }
    }

    @Test("parses a DigitalPy frame without copying: ranges, field comparison")
    func parsesReferenceFrame() throws {
        let frame = Array("EchoFlow~~svcA~EchoFlow~Push~\(Self.uuid)~".utf8) + [0x80, 0x04, 0x7E, 0x95]
        try frame.withUnsafeBytes { buffer in
            let fields = try WireHeader.parse(buffer)
            #expect(fields.config == 0..<8)
            #expect(fields.decorator == 9..<9)
            #expect(fields.source == 10..<14)
            #expect(fields.context == 15..<23)
            #expect(fields.action == 24..<28)
            #expect(fields.id == 29..<65)
            #expect(fields.bodyOffset == 66)
            #expect(fields.field(.action, in: buffer, equals: "Push"))
            #expect(!fields.field(.action, in: buffer, equals: "Pus"))
            #expect(!fields.field(.action, in: buffer, equals: "PushX"))
            #expect(fields.field(.decorator, in: buffer, equals: ""))
            #expect(Array(fields.body(in: buffer)) == [0x80, 0x04, 0x7E, 0x95])
        }
    }

    static let malformedFrames: [(String, Int)] = [
        ("", 0), ("EchoFlow", 0), ("a~b", 1), ("S~C~A", 2), ("F~D~S~C~A", 4), ("F~D~S~C~A~\(uuid)", 5),
    ]

    @Test("frames with fewer than six '~'-terminated fields are rejected", arguments: malformedFrames)
    func rejectsShortFrames(_ text: String, _ found: Int) {
        let bytes = Array(text.utf8)
        let error = #expect(throws: WireHeaderError.self) {
            try bytes.withUnsafeBytes { try WireHeader.parse($0) }
        }
        #expect(error == .tooFewFields(found: found))
    }

    @Test("the malformed-header error says what was expected")
    func malformedText() {
        #expect(WireHeaderError.tooFewFields(found: 4).description
            == "malformed header: found 4 '~'-terminated fields before the body;"
            + " expected 6: config~decorator~source~context~action~id~")
        #expect(WireHeaderError.tooFewTopicFields(found: 2).description
            == "malformed topic: found 2 '~'-separated fields; expected at least 3: source~context~action")
    }

    /// (topic, config, decorator, source, context, action, id or nil).
    static let topics: [(String, String, String, String, String, String, String?)] = [
        ("S~C~A", "", "", "S", "C", "A", nil),  // left-padded twice
        ("D~S~C~A", "", "D", "S", "C", "A", nil),  // left-padded once
        ("F~D~S~C~A", "F", "D", "S", "C", "A", nil),
        ("~~~~", "", "", "", "", "", nil),
        ("F~D~S~C~A~\(uuid)", "F", "D", "S", "C", "A", uuid),
        ("F~D~S~C~A~\(uuid)~", "F", "D", "S", "C", "A", uuid),
    ]

    @Test("bare topics get DigitalPy's left-padding tolerance", arguments: topics)
    func parsesTopics(
        _ text: String, _ config: String, _ decorator: String, _ source: String, _ context: String,
        _ action: String, _ id: String?
    ) throws {
        let bytes = Array(text.utf8)
        try bytes.withUnsafeBytes { buffer in
            let fields = try WireHeader.parseTopic(buffer)
            #expect(fields.actionKey(in: buffer)
                == ActionKey(config: config, decorator: decorator, source: source, context: context, action: action))
            #expect(fields.hasMessageID == (id != nil))
            #expect(fields.string(.id, in: buffer) == (id ?? ""))
        }
    }

    @Test("topics with fewer than three parts are rejected", arguments: [("", 1), ("x", 1), ("a~b", 2)])
    func rejectsShortTopics(_ text: String, _ found: Int) {
        let bytes = Array(text.utf8)
        let error = #expect(throws: WireHeaderError.self) {
            try bytes.withUnsafeBytes { try WireHeader.parseTopic($0) }
        }
        #expect(error == .tooFewTopicFields(found: found))
    }

    @Test("writing into a buffer that is too small fails without writing")
    func bufferTooSmall() {
        let key = ActionKey(config: "EchoFlow", action: "done")
        let needed = WireHeader.length(of: key, id: Self.uuid)
        var buffer = [UInt8](repeating: 0xAA, count: needed - 1)
        let error = #expect(throws: WireHeaderError.self) {
            try buffer.withUnsafeMutableBytes { try WireHeader.write(key, id: Self.uuid, into: $0) }
        }
        #expect(error == .bufferTooSmall(needed: needed, available: needed - 1))
        #expect(buffer.allSatisfy { $0 == 0xAA })
        #expect(error?.description == "header needs \(needed) bytes but the buffer has \(needed - 1)")
    }

    static let tildes: [(ActionKey, String, HeaderFields.Field)] = [
        (ActionKey(config: "a~b"), "id", .config),
        (ActionKey(decorator: "~"), "id", .decorator),
        (ActionKey(source: "s~"), "id", .source),
        (ActionKey(context: "~c"), "id", .context),
        (ActionKey(action: "a~"), "id", .action),
        (ActionKey(), "i~d", .id),
    ]

    @Test("a '~' inside a field is refused: it would shift every later field", arguments: tildes)
    func delimiterInField(_ key: ActionKey, _ id: String, _ field: HeaderFields.Field) {
        var buffer = [UInt8](repeating: 0, count: 64)
        let error = #expect(throws: WireHeaderError.self) {
            try buffer.withUnsafeMutableBytes { try WireHeader.write(key, id: id, into: $0) }
        }
        #expect(error == .delimiterInField(field))
    }

    @Test("an id given as bytes is written as is")
    func idAsBytes() throws {
        let key = ActionKey(config: "F", action: "a")
        let id: [UInt8] = Array("abc".utf8)
        var buffer = [UInt8](repeating: 0, count: 32)
        let n = try id.withUnsafeBytes { idBytes in
            try buffer.withUnsafeMutableBytes { try WireHeader.write(key, id: idBytes, into: $0) }
        }
        #expect(n == WireHeader.length(of: key, idLength: 3))
        #expect(Array(buffer[..<n]) == Array("F~~~~a~abc~".utf8))
    }

    /// The six delimiters found byte by byte: what the word-at-a-time scan must agree with.
    static func referenceOffsets(_ bytes: [UInt8]) -> [Int] {
        Array(bytes.indices.filter { bytes[$0] == WireHeader.delimiter }.prefix(WireHeader.delimiterCount))
    }

    @Test("the word-at-a-time delimiter scan agrees with a byte loop on random frames")
    func scanAgreesWithByteLoop() throws {
        // Bytes around the pattern (0x7E) and those that break the short zero-byte trick
        // (0x00 before 0x01, 0x7F, 0x80, 0xFE, 0xFF), at every length and alignment of a tail.
        let alphabet: [UInt8] = [0x7E, 0x7E, 0x00, 0x01, 0x7D, 0x7F, 0x80, 0xFE, 0xFF, 0x61, 0x7E ^ 0x80]
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for trial in 0..<4000 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            let count = Int(state >> 58) + trial % 3  // 0...65
            var frame = [UInt8]()
            for _ in 0..<count {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                frame.append(alphabet[Int(state >> 33) % alphabet.count])
            }
            let expected = Self.referenceOffsets(frame)
            let parsed = frame.withUnsafeBytes { buffer in Result { try WireHeader.parse(buffer) } }
            if expected.count == WireHeader.delimiterCount {
                let fields = try parsed.get()
                #expect(fields.config.upperBound == expected[0], "frame \(frame)")
                #expect(fields.id == (expected[4] + 1)..<expected[5], "frame \(frame)")
                #expect(fields.bodyOffset == expected[5] + 1, "frame \(frame)")
            } else {
                #expect(throws: WireHeaderError.tooFewFields(found: expected.count)) { try parsed.get() }
            }
        }
    }
}

@Suite("Routing: the header key memo")
struct HeaderKeyMemoTests {
    /// Parses `frames` in order through one memo and each on its own, in full.
    static func agree(_ frames: [String], sourceLocation: Testing.SourceLocation = #_sourceLocation) {
        var memo = HeaderKeyMemo()
        for frame in frames {
            let bytes = Array(frame.utf8)
            let full = bytes.withUnsafeBytes { buffer in Result { () throws(WireHeaderError) in try WireHeader.parse(buffer) } }
            let memoised = bytes.withUnsafeBytes { buffer in Result { () throws(WireHeaderError) in try memo.parse(buffer) } }
            #expect(memoised == full, "\(frame)", sourceLocation: sourceLocation)
        }
    }

    static let long = String(repeating: "L", count: 130)

    static let frames = [
        "A~~svc~~Push~id-1~body",
        "A~~svc~~Push~id-22~bo~dy~",             // same key, longer id, '~' in the body
        "A~~svc~~Push~~",                        // same key, empty id and body
        "A~~svc~~Push~no-tilde-after-the-id",    // same key, too few fields: the full parse's error
        "A~~svc~~Push~",                         // exactly the key: no id field at all
        "A~~svc~~Push",                          // shorter than the key
        "A~~svc~~Pusx~id~",                      // one byte of the key differs
        "A~~svc~~Push~id-3~",                    // back to the first key
        "A~~svc~~Push~~id~",                     // the key then an empty id: '~' right after it
        "A~PUBLISH~Subject~A~notify~0b7c4c5e-2f36-4f3e-9d3c-6f1f5a1f0c11~\u{80}\u{04}~",
        "\(long)~~svc~\(long)~Push~id-4~x",      // a key longer than the memo keeps
        "\(long)~~svc~\(long)~Push~id-5~x",
        "A~~svc~~Push~id-6~",
        "",
    ]

    @Test("parses as the full parse does, in every order: repeated keys, changed keys, errors")
    func agreesWithFullParse() {
        Self.agree(Self.frames)
        Self.agree(Self.frames.reversed())
        // Each frame right after each other one, so that every frame meets every remembered key.
        for first in Self.frames {
            for second in Self.frames {
                Self.agree([first, second, second])
            }
        }
    }

    @Test("the generation changes with the key and only with it")
    func generationFollowsTheKey() throws {
        var memo = HeaderKeyMemo()
        func generation(after frame: String) throws -> UInt64 {
            _ = try Array(frame.utf8).withUnsafeBytes { buffer throws(WireHeaderError) in try memo.parse(buffer) }
            return memo.generation
        }
        let first = try generation(after: "A~~svc~~Push~1~")
        #expect(try generation(after: "A~~svc~~Push~2~x") == first)
        let second = try generation(after: "A~~Subject~A~work~3~")
        #expect(second != first)
        #expect(try generation(after: "A~~svc~~Push~4~") != second)
        // A key too long to keep is never the same generation twice.
        let longKey = "\(Self.long)~~svc~\(Self.long)~Push~"
        let third = try generation(after: longKey + "5~")
        #expect(try generation(after: longKey + "6~") != third)
    }
}

@Suite("Wire: an Inbound between forms")
struct InboundFormTests {
    /// `Inbound.receive` resets its body frame only after a split-form message (an empty one
    /// costs two libzmq calls per single-form message): a body must never outlive its
    /// message, whichever forms follow each other.
    @Test("a single-form message after a split one leaves no body frame behind")
    func bodyFrameEndsWithItsMessage() throws {
        let context = try Context()
        defer { context.terminate() }
        let pull = try Socket(context, .pull)
        try pull.bind("inproc://inbound-forms")
        let push = try Socket(context, .push)
        try push.connect("inproc://inbound-forms")
        defer {
            pull.close()
            push.close()
        }
        func sendSplit(_ id: String, body: String) throws {
            var header = Message(string: "F~~s~c~a~\(id)~")
            var frame = Message(string: body)
            _ = try push.send(&header, more: true)
            _ = try push.send(&frame)
        }
        var inbound = Inbound()
        func receive() throws -> (form: WireForm, id: String, body: String, bodyFrame: Int) {
            guard case .message = try inbound.receive(from: pull, maxSize: 1 << 20, maxIDLength: 256) else {
                Issue.record("no message")
                return (.single, "", "", -1)
            }
            let body = inbound.withBody { String(decoding: $0, as: UTF8.self) }
            return (inbound.form, inbound.idString, body, inbound.body.count)
        }
        try sendSplit("1", body: "split body one")
        _ = try push.send(string: "F~~s~c~a~2~single body")
        _ = try push.send(string: "F~~s~c~a~3~another single")
        try sendSplit("4", body: "split body two")
        try sendSplit("5", body: "three")
        _ = try push.send(string: "F~~s~c~a~6~")

        let first = try receive()
        #expect(first.form == .split && first.id == "1" && first.body == "split body one" && first.bodyFrame == 14)
        let second = try receive()
        #expect(second.form == .single && second.id == "2" && second.body == "single body")
        #expect(second.bodyFrame == 0, "the split message's body frame is released")
        let third = try receive()
        #expect(third.form == .single && third.body == "another single" && third.bodyFrame == 0)
        let fourth = try receive()
        #expect(fourth.form == .split && fourth.body == "split body two" && fourth.bodyFrame == 14)
        let fifth = try receive()
        #expect(fifth.form == .split && fifth.id == "5" && fifth.body == "three" && fifth.bodyFrame == 5)
        let sixth = try receive()
        #expect(sixth.form == .single && sixth.id == "6" && sixth.body.isEmpty && sixth.bodyFrame == 0)
    }
}
