import Foundation
import Pickle
import Testing

/// Differential test against the real CPython, when `python3` is on the PATH (it is in CI).
///
/// Random values are encoded here at every protocol; Python loads each pickle, re-pickles what it
/// got at the same protocol and dumps it typed. Python's bytes must equal ours (so framing,
/// opcode choice, memo indices and batching match CPython exactly) and its value must equal ours.
/// Python's bytes are then decoded here again.
@Suite struct PythonRoundTripTests {
    static let python: URL? = {
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") {
            let candidate = URL(fileURLWithPath: String(directory)).appendingPathComponent("python3")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        return nil
    }()

    static let script = #"""
        import pickle, struct, sys

        def dump(v):
            t = type(v)
            if v is None: return "N"
            if v is True: return "T"
            if v is False: return "F"
            if t is int: return "i%d;" % v
            if t is float: return "f" + struct.pack(">d", v).hex()
            if t is str: return "s" + v.encode("utf-8").hex() + ";"
            if t is bytes: return "b" + v.hex() + ";"
            if t is bytearray: return "B" + bytes(v).hex() + ";"
            if t is list: return "[" + ",".join(dump(x) for x in v) + "]"
            if t is tuple: return "(" + ",".join(dump(x) for x in v) + ")"
            if t is dict: return "{" + ",".join(dump(k) + ":" + dump(x) for k, x in v.items()) + "}"
            if t is set: return "S{" + ",".join(dump(x) for x in v) + "}"
            if t is frozenset: return "Z{" + ",".join(dump(x) for x in v) + "}"
            raise TypeError(t)

        out = []
        for line in sys.stdin.read().split("\n"):
            if not line:
                continue
            proto, data = line.split(" ")
            try:
                value = pickle.loads(bytes.fromhex(data))
                out.append(pickle.dumps(value, protocol=int(proto)).hex() + " " + dump(value))
            except Exception as e:
                out.append("ERR " + repr(e).replace(" ", "_"))
        sys.stdout.write("\n".join(out) + "\n")
        """#

    struct PythonMissing: Error {}

    /// Runs the script on `input` and returns its output lines.
    static func runPython(_ input: String) throws -> [Substring] {
        let process = Process()
        guard let python else { throw PythonMissing() }
        process.executableURL = python
        process.arguments = ["-c", script]
        let stdin = Pipe()
        let stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        try process.run()
        // The script reads all of stdin before writing, so writing everything first cannot block.
        stdin.fileHandleForWriting.write(Data(input.utf8))
        try stdin.fileHandleForWriting.close()
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        return String(decoding: output, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).dropLast()[...].map { $0 }
    }

    @Test(.enabled(if: python != nil, "python3 is not on the PATH"))
    func randomValuesMatchCPython() throws {
        var random = SeededGenerator(seed: 0x5EED_0010)
        var values: [PickleValue] = (0..<250).map { _ in RandomValues.value(depth: 0, using: &random) }
        values += RandomValues.specialCases
        var input = ""
        var encoded: [(version: Int, value: PickleValue, bytes: [UInt8])] = []
        for value in values {
            for version in PickleEncoder.supportedProtocols {
                let bytes = PickleEncoder.encode(value, protocol: version)
                encoded.append((version, value, bytes))
                input += "\(version) \(hex(bytes))\n"
            }
        }
        let lines = try Self.runPython(input)
        try #require(lines.count == encoded.count)
        var mismatches = 0
        for (line, item) in zip(lines, encoded) {
            let parts = line.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, parts[0] != "ERR" else {
                Issue.record("Python could not load protocol \(item.version) \(item.value): \(line)")
                continue
            }
            if String(parts[0]) != hex(item.bytes) {
                mismatches += 1
                if mismatches <= 5 {
                    let report = differenceReport(ours: item.bytes, theirs: expandHex(String(parts[0])))
                    Issue.record("protocol \(item.version), \(item.value.description.prefix(200)): \(report)")
                }
            }
            #expect(String(parts[1]) == typedDump(item.value), "protocol \(item.version): \(item.value.description.prefix(200))")
            let back = try PickleDecoder.decode(expandHex(String(parts[0])))
            #expect(typedDump(back) == typedDump(item.value))
        }
        #expect(mismatches == 0)
    }
}

/// Random values that CPython re-pickles identically: equal strings and bytes are shared (as
/// this encoder assumes), sets hold small sorted ints (whose CPython iteration order is sorted),
/// dict keys are unique under Python's equality (no bool or float keys).
enum RandomValues {
    static let alphabet: [Unicode.Scalar] = ["a", "b", "k", "~", "'", "\"", "\\", "\n", "\0", "é", "ÿ", "日", "🎉", "\u{301}"]

    static func string(using random: inout SeededGenerator) -> String {
        let length = [0, 1, 1, 3, 8, 20, 300].randomElement(using: &random)!
        var scalars = String.UnicodeScalarView()
        for _ in 0..<length { scalars.append(alphabet.randomElement(using: &random)!) }
        return String(scalars)
    }

    static func bytes(using random: inout SeededGenerator) -> [UInt8] {
        let length = [0, 1, 2, 5, 64, 255, 256, 1000].randomElement(using: &random)!
        return (0..<length).map { _ in [0x00, 0x61, 0x78, 0xFF, 0x0A].randomElement(using: &random)! }
    }

    static func integer(using random: inout SeededGenerator) -> PickleValue {
        switch Int.random(in: 0..<8, using: &random) {
        case 0: return .int(Int64.random(in: 0...255, using: &random))
        case 1: return .int(Int64.random(in: 256...65535, using: &random))
        case 2: return .int(Int64.random(in: -1_000_000...1_000_000, using: &random))
        case 3: return .int(Int64.random(in: Int64(Int32.min)...Int64(Int32.max), using: &random))
        case 4: return .int(Int64.random(in: Int64.min...Int64.max, using: &random))
        case 5: return [.int(Int64.min), .int(Int64.max), .int(-1), .int(-128), .int(-129), .int(2_147_483_648)].randomElement(using: &random)!
        default:
            let count = Int.random(in: 9...40, using: &random)
            return .integer(0) == .int(0) ? .bigInt(PickleBigInt(littleEndianTwosComplement: (0..<count).map { _ in UInt8.random(in: 0...255, using: &random) })) : .none
        }
    }

    static func scalar(using random: inout SeededGenerator) -> PickleValue {
        switch Int.random(in: 0..<9, using: &random) {
        case 0: return .none
        case 1: return .bool(Bool.random(using: &random))
        case 2, 3: return integer(using: &random)
        case 4: return .float([0.0, -0.0, 1.5, .infinity, -.infinity, .nan, 1e300, .leastNonzeroMagnitude, Double.random(in: -1e6...1e6, using: &random)].randomElement(using: &random)!)
        case 5, 6: return .string(string(using: &random))
        case 7: return .bytes(bytes(using: &random))
        default: return .bytearray(bytes(using: &random))
        }
    }

    static func key(using random: inout SeededGenerator) -> PickleValue {
        switch Int.random(in: 0..<5, using: &random) {
        case 0, 1: return .string(string(using: &random))
        case 2: return integer(using: &random)
        case 3: return .bytes(bytes(using: &random))
        default: return .tuple([.string(string(using: &random)), integer(using: &random)])
        }
    }

    static func smallIntSet(using random: inout SeededGenerator) -> [PickleValue] {
        let count = Int.random(in: 0...4, using: &random)
        return Array(Set((0..<count).map { _ in Int64.random(in: 0...7, using: &random) })).sorted().map { .int($0) }
    }

    static func value(depth: Int, using random: inout SeededGenerator) -> PickleValue {
        if depth >= 4 || Int.random(in: 0..<3, using: &random) == 0 { return scalar(using: &random) }
        let count = [0, 1, 2, 3, 4, 7].randomElement(using: &random)!
        switch Int.random(in: 0..<6, using: &random) {
        case 0: return .list((0..<count).map { _ in value(depth: depth + 1, using: &random) })
        case 1: return .tuple((0..<count).map { _ in value(depth: depth + 1, using: &random) })
        case 2, 3:
            var pairs: [(key: PickleValue, value: PickleValue)] = []
            for _ in 0..<count {
                let key = key(using: &random)
                if !pairs.contains(where: { $0.key == key }) {
                    pairs.append((key, value(depth: depth + 1, using: &random)))
                }
            }
            return .dict(pairs)
        case 4: return .set(smallIntSet(using: &random))
        default: return .frozenset(smallIntSet(using: &random))
        }
    }

    /// Batching and framing boundaries.
    static let specialCases: [PickleValue] = [
        .list((0..<1000).map { .int($0) }),
        .list((0..<1001).map { .int($0) }),
        .list((0..<2000).map { .int($0 % 300) }),
        .dict((0..<1000).map { (key: .int($0), value: .none) }),
        .dict((0..<1001).map { (key: .int($0), value: .none) }),
        .set((0..<1000).map { .int($0) }),
        .set((0..<2000).map { .int($0) }),
        .list((0..<12_000).map { .string(String(1_000_000 + $0)) }),
        .list((0..<30_000).map { .int($0) }),
        .list([.bytes([0x79]), .bytes(Array(repeating: 0x78, count: 65_530)), 5]),
        .list([.bytes([0x79]), .bytes(Array(repeating: 0x78, count: 65_530))]),
        ["a": .bytes(Array(repeating: 0x78, count: 70_000)), "b": 1],
        ["a": .bytearray(Array(repeating: 0x78, count: 70_000)), "b": .string(String(repeating: "é", count: 40_000))],
        .string(String(repeating: "x", count: 65_536)),
        .string(String(repeating: "x", count: 65_535)),
        .list([.bytes([0x61]), .bytearray([0x61]), .string("a"), .bytearray([0x61, 0x62]), .bytes([0x61, 0x62])]),
        .list([.set([1, 2]), .set([1, 2]), .frozenset([]), .frozenset([3]), .set([])]),
        .list((0..<300).map { .string("k\($0)") } + (0..<300).map { .string("k\($0)") }),
        .list((0..<300).map { .bytes([UInt8($0 & 0xFF), 1]) } + [.bytearray([1, 2, 3])]),
    ]
}
