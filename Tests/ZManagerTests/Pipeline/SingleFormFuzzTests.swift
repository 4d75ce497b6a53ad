import Foundation
import Pickle
import Testing
import ZManager
import ZeroMQ

/// Random and truncated single-form (DigitalPy) frames through a real pipeline whose handler
/// decodes values: every frame gets exactly one answer — an error message unless the frame
/// happens to be a well-formed request with a pickled dict body — and the pipeline keeps
/// serving. No crash, no silent drop.
@Suite("Fuzz: random and truncated single-form frames always get an answer")
struct SingleFormFuzzTests {
    /// SplitMix64: a seeded generator, so a failing run can be replayed from its seed.
    struct SeededGenerator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    /// What the pipeline must answer to a frame, computed from the frame alone.
    enum Expectation {
        /// The header does not parse: the Subject reports it, without an id.
        case undecodableWithoutID
        /// A complete header: an answer carrying this id, a result only if `resultAllowed`.
        case answer(id: String, resultAllowed: Bool)
    }

    static func expectation(for frame: [UInt8]) -> Expectation {
        frame.withUnsafeBytes { bytes in
            guard let fields = try? WireHeader.parse(bytes) else { return .undecodableWithoutID }
            let id = fields.string(.id, in: bytes)
            let isRequest = fields.string(.config, in: bytes) == "Fuzz" && fields.string(.action, in: bytes) == "Push"
            let body = fields.body(in: bytes)
            let isDict: Bool
            if case .dict? = try? PickleDecoder.decode(body) { isDict = true } else { isDict = false }
            return .answer(id: id, resultAllowed: isRequest && isDict)
        }
    }

    static func validFrame(id: String, values: PickleValue) -> [UInt8] {
        Array("Fuzz~~svc~Fuzz~Push~\(id)~".utf8) + PickleEncoder.encode(values, protocol: 4)
    }

    static func randomValues(_ rng: inout SeededGenerator) -> PickleValue {
        var pairs: [(key: PickleValue, value: PickleValue)] = [("name", .string("n\(rng.next() % 1000)"))]
        for i in 0..<Int(rng.next() % 4) {
            let value: PickleValue
            switch rng.next() % 5 {
            case 0: value = .integer(Int64(bitPattern: rng.next()))
            case 1: value = .bytes((0..<Int(rng.next() % 40)).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
            case 2: value = .float(Double(rng.next() % 10_000) / 7)
            case 3: value = [.string("x"), .none, .bool(true)]
            default: value = .bigInt(PickleBigInt(UInt64.max) )
            }
            pairs.append((.string("k\(i)"), value))
        }
        return .dict(pairs)
    }

    /// One fuzzed frame: a truncation or a mutation of a valid request, or random bytes.
    static func fuzzedFrame(index: Int, _ rng: inout SeededGenerator) -> [UInt8] {
        let valid = validFrame(id: "f\(index)", values: randomValues(&rng))
        switch rng.next() % 5 {
        case 0:  // truncated anywhere, header included
            return Array(valid.prefix(Int(rng.next() % UInt64(valid.count))))
        case 1:  // truncated inside the body
            let header = valid.firstRange(of: Array("~f\(index)~".utf8))!.upperBound
            return Array(valid.prefix(header + Int(rng.next() % UInt64(valid.count - header))))
        case 2:  // one body byte changed
            var frame = valid
            let header = valid.firstRange(of: Array("~f\(index)~".utf8))!.upperBound
            frame[header + Int(rng.next() % UInt64(valid.count - header))] = UInt8(truncatingIfNeeded: rng.next())
            return frame
        case 3:  // a valid header, random body
            return Array("Fuzz~~svc~Fuzz~Push~f\(index)~".utf8)
                + (0..<Int(rng.next() % 64)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        default:  // random bytes without '~' (never a header)
            return (0..<Int(1 + rng.next() % 128)).map { _ in
                let byte = UInt8(truncatingIfNeeded: rng.next())
                return byte == 0x7E || byte == 0 ? 0x41 : byte
            }
        }
    }

    @Test func everyFuzzedFrameGetsExactlyOneAnswer() throws {
        let seed = UInt64.random(in: 0...UInt64.max)
        var rng = SeededGenerator(state: seed)
        let pipeline = try TestPipeline(transport: .inproc, flows: "[Fuzz]\n?Fuzz?Push\nSubject?Fuzz?Stamp\n??done\n",
                                        mapping: "[actionmapping]\n??Stamp = zmanager.builtin.stamp\n", form: .single)
        defer { pipeline.stop() }
        try pipeline.subscribe(Topics.resultPrefix(flow: "Fuzz"))
        var results = 0
        var errors = 0
        for index in 0..<300 {
            let frame = Self.fuzzedFrame(index: index, &rng)
            try pipeline.client.sendRaw([frame])
            let answer = try #require(try pipeline.client.receive(timeout: .seconds(5)),
                                      "seed \(seed), frame \(index) (\(frame.count) bytes) got no answer")
            switch Self.expectation(for: frame) {
            case .undecodableWithoutID:
                #expect(answer.errorKind == .undecodable, "seed \(seed), frame \(index): \(answer.errorText)")
                #expect(answer.id.isEmpty)
            case .answer(let id, let resultAllowed):
                #expect(answer.id == id, "seed \(seed), frame \(index)")
                if !resultAllowed {
                    #expect(answer.errorKind != nil, "seed \(seed), frame \(index) is malformed but got a result")
                }
            }
            #expect(answer.form == .single)
            if answer.errorKind != nil {
                // Every error answering a Python peer is a pickled dict it can load.
                #expect(try answer.values()["kind"]?.stringValue == answer.action, "seed \(seed), frame \(index)")
                errors += 1
            } else {
                results += 1
            }
        }
        #expect(try pipeline.client.receive(timeout: .milliseconds(200)) == nil, "seed \(seed): no extra answers")
        #expect(errors > 100, "seed \(seed): the fuzzer mostly produces malformed frames (\(errors) errors, \(results) results)")
        let ok = try pipeline.roundTrip(flow: "Fuzz", body: "")
        #expect(ok?.errorKind == .undecodable, "an empty body is still refused, and the pipeline still answers")
        #expect(pipeline.node.statistics.inFlight == 0)
    }
}
