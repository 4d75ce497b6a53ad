import Testing
@testable import ZManager
import ZeroMQ

@Suite("Routing: lookups from header bytes")
struct RoutingFlowByteIndexTests {
    static let table = RoutingFlowTableTests.table

    /// Writes a frame for `key` and runs `body` on its parsed header.
    static func withHeader<R>(
        of key: ActionKey, _ body: (HeaderFields, UnsafeRawBufferPointer) throws -> R
    ) throws -> R {
        let id = "0b7c4c5e-2f36-4f3e-9d3c-6f1f5a1f0c11"
        var frame = [UInt8](repeating: 0, count: WireHeader.length(of: key, id: id) + 3)
        try frame.withUnsafeMutableBytes { _ = try WireHeader.write(key, id: id, into: $0) }
        return try frame.withUnsafeBytes { buffer in try body(try WireHeader.parse(buffer), buffer) }
    }

    @Test("byte-level position agrees with string-level first-match stepping",
          arguments: RoutingFlowTableTests.steps)
    func agreesWithStrings(_ flow: String, _ text: String, _ expected: String?) throws {
        let key = try ActionKey(parsing: text, config: flow)
        let position = try Self.withHeader(of: key) { fields, frame in
            Self.table.position(ofHeader: fields, in: frame)
        }
        if let step = Self.table.stepIndex(of: key) {
            #expect(position == FlowPosition(flow: try #require(Self.table.flowIndex(named: flow)), step: step))
        } else {
            #expect(position == nil)
        }
        #expect(position.flatMap { Self.table.position(after: $0) }.map { Self.table.step(at: $0) }
            == Self.table.nextStep(after: key))
    }

    static let names: [(String, Int?)] = [
        ("IAMConnection", 0), ("ServiceManagement_GetServiceTopics", 1), ("IAMConnectio", nil),
        ("IAMConnectionX", nil), ("", nil), ("iamconnection", nil),
    ]

    @Test("flow lookup by name bytes is exact", arguments: names)
    func flowIndexByBytes(_ name: String, _ expected: Int?) {
        let bytes = Array(name.utf8)
        #expect(bytes.withUnsafeBytes { Self.table.flowIndex(utf8: $0) } == expected)
    }

    @Test("the resolved table answers from header bytes too")
    func resolvedFromHeader() throws {
        let mapping = try ActionMapping(parsing: "[actionmapping]\n??Connection = iam.connect\n")
        let resolved = ResolvedFlowTable(flows: Self.table, mapping: mapping)
        let key = try ActionKey(parsing: "Subject?IAMConnection?Connection", config: "IAMConnection")
        let handler = try Self.withHeader(of: key) { fields, frame in
            resolved.handler(forHeader: fields, in: frame)
        }
        #expect(handler.map { mapping[$0].target } == "iam.connect")
        #expect(resolved.handler(at: FlowPosition(flow: 0, step: 1)) == handler)
        #expect(resolved.handler(at: FlowPosition(flow: 0, step: 2)) == nil)
    }

    @Test("flow lookup stays exact across hundreds of flows (open addressing, probing past collisions)")
    func manyFlows() throws {
        let names = (0..<300).map { "Flow\($0)" } + ["F", "FF", "Flow", "ServiceManagement_GetServiceTopics_\(String(repeating: "x", count: 40))"]
        let text = names.map { "[\($0)]\n?\($0)?Push\n??done\n" }.joined()
        let table = try FlowTable(parsing: text, path: "many.ini")
        for (index, name) in names.enumerated() {
            let found = Array(name.utf8).withUnsafeBytes { table.flowIndex(utf8: $0) }
            #expect(found == index, "\(name)")
        }
        for missing in ["Flow300", "Flow-1", "flow1", "Flow1 ", "FFF", ""] {
            #expect(Array(missing.utf8).withUnsafeBytes { table.flowIndex(utf8: $0) } == nil, "\(missing)")
        }
    }
}

@Suite("Routing: the position cache")
struct PositionCacheTests {
    static let flows = """
        [A]
        ?A?Push
        Subject?A?work
        ??done
        [Bravo_flow_with_a_longer_name]
        ?Bravo_flow_with_a_longer_name?Push
        Subject?Bravo_flow_with_a_longer_name?work
        ??done
        [\(long)]
        ?\(long)?Push
        ??done
        """

    /// A flow whose `Push` header's key part (over 256 bytes) is too long to cache.
    static let long = String(repeating: "C", count: 130)

    /// Receives `frames` one by one through a PULL socket and returns each one's position
    /// through the cache and through a fresh lookup.
    static func positions(_ frames: [String]) throws -> [(cached: FlowPosition?, fresh: FlowPosition?)] {
        let table = try FlowTable(parsing: flows, path: "cache.ini")
        let context = try Context()
        defer { context.terminate() }
        let pull = try Socket(context, .pull)
        try pull.bind("inproc://position-cache")
        let push = try Socket(context, .push)
        try push.connect("inproc://position-cache")
        var cache = PositionCache()
        var inbound = Inbound()
        var answers: [(FlowPosition?, FlowPosition?)] = []
        for frame in frames {
            _ = try push.send(string: frame)
            guard case .message = try inbound.receive(from: pull, maxSize: 1 << 20, maxIDLength: 256) else {
                Issue.record("no message for \(frame)")
                continue
            }
            let fresh = inbound.position(in: table)
            let cached = cache.position(of: inbound, in: table)
            // Asked twice for one message (the roles may): the second answer is the key
            // generation's, and must be this message's too.
            #expect(cache.position(of: inbound, in: table) == fresh, "\(frame), asked again")
            answers.append((cached, fresh))
        }
        pull.close()
        push.close()
        return answers
    }

    @Test("a repeated header hits, a changed field or length misses, unknown flows are never cached")
    func cacheAgreesWithLookup() throws {
        let long = "Bravo_flow_with_a_longer_name"
        let frames = [
            "A~~svc~~Push~1~x", "A~~svc~~Push~2~y",          // same key part, other ids
            "A~~Subject~A~work~3~", "A~~Subject~A~work~3~",  // step 1 twice
            "A~~svc~~Push~4~",                               // back to step 0
            "A~~svc~~Pusx~5~",                               // same length, one byte differs: no step
            "B~~svc~~Push~6~",                               // unknown flow, same length
            "A~~svc~~Push~7~",
            "\(long)~~svc~~Push~8~", "\(long)~~Subject~\(long)~work~9~", "\(long)~~Subject~\(long)~work~10~",
            "\(long)~~Subject~\(long)~worK~11~",             // differs in the overlapping tail word
            "A~~svc~~Push~12~", "\(Self.long)~~\(Self.long)~~Push~13~", // a key too long to cache after a cached one
            "\(Self.long)~~\(Self.long)~~Push~14~", "A~~svc~~Push~15~",
        ]
        let answers = try Self.positions(frames)
        #expect(answers.count == frames.count)
        for (frame, answer) in zip(frames, answers) {
            #expect(answer.cached == answer.fresh, "\(frame)")
        }
        #expect(answers[0].cached == FlowPosition(flow: 0, step: 0))
        #expect(answers[2].cached == FlowPosition(flow: 0, step: 1))
        #expect(answers[5].cached == nil)
        #expect(answers[6].cached == nil)
        #expect(answers[10].cached == FlowPosition(flow: 1, step: 1))
        #expect(answers[11].cached == nil)
        #expect(answers[13].cached == FlowPosition(flow: 2, step: 0))
        #expect(answers[15].cached == FlowPosition(flow: 0, step: 0))
    }
}

@Suite("Routing: field comparison")
struct StaticBytesTests {
    @Test("equal only when every byte is: each length 0-40, a difference at each position")
    func comparesEveryByte() {
        for n in 0...40 {
            let text = String((0..<n).map { Character(UnicodeScalar(UInt8(97 + $0 % 26))) })
            let field = StaticBytes(text)
            var same = Array(text.utf8)
            #expect(same.withUnsafeBytes { field.equals($0) }, "length \(n)")
            for k in 0..<n {
                same[k] ^= 0x20
                #expect(!same.withUnsafeBytes { field.equals($0) }, "length \(n), byte \(k)")
                same[k] ^= 0x20
            }
            let longer = Array(text.utf8) + [0x61]
            #expect(!longer.withUnsafeBytes { field.equals($0) }, "length \(n) + 1")
        }
    }
}
