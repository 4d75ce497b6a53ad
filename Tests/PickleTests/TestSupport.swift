import Pickle

/// One pickle written by CPython 3.11 (see Fixtures/make_fixtures.py).
struct Fixture: Sendable, CustomStringConvertible {
    let name: String
    let protocolVersion: Int
    /// Hex, with long runs written `[unit*count]`.
    let pickle: String
    /// ``typedDump(_:)`` of the value, when short enough to commit.
    let dump: String?
    /// FNV-1a 64 of the typed dump.
    let dumpHash: UInt64
    /// Whether ``PickleEncoder`` must reproduce `pickle` byte for byte.
    let encodesExactly: Bool

    var bytes: [UInt8] { expandHex(pickle) }
    var description: String { "\(name) (protocol \(protocolVersion))" }
}

/// Decodes hex, expanding `[unit*count]` runs.
func expandHex(_ text: String) -> [UInt8] {
    var out: [UInt8] = []
    let chars = Array(text.utf8)
    func nibble(_ c: UInt8) -> UInt8 {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        default: fatalError("bad hex in fixture")
        }
    }
    func bytes(_ slice: ArraySlice<UInt8>) -> [UInt8] {
        var result: [UInt8] = []
        var index = slice.startIndex
        while index < slice.endIndex {
            result.append(nibble(slice[index]) << 4 | nibble(slice[index + 1]))
            index += 2
        }
        return result
    }
    var index = 0
    while index < chars.count {
        if chars[index] == UInt8(ascii: "[") {
            let star = chars[index...].firstIndex(of: UInt8(ascii: "*"))!
            let close = chars[index...].firstIndex(of: UInt8(ascii: "]"))!
            let unit = bytes(chars[(index + 1)..<star])
            let count = Int(String(decoding: chars[(star + 1)..<close], as: UTF8.self))!
            for _ in 0..<count { out.append(contentsOf: unit) }
            index = close + 1
        } else {
            out.append(nibble(chars[index]) << 4 | nibble(chars[index + 1]))
            index += 2
        }
    }
    return out
}

func hex(_ bytes: some Sequence<UInt8>) -> String {
    let digits = Array("0123456789abcdef")
    var text = ""
    for byte in bytes {
        text.append(digits[Int(byte >> 4)])
        text.append(digits[Int(byte & 0xF)])
    }
    return text
}

/// The typed dump make_fixtures.py writes: exact types, values and order.
func typedDump(_ value: PickleValue) -> String {
    var text = ""
    typedDump(value, into: &text)
    return text
}

private func typedDump(_ value: PickleValue, into text: inout String) {
    func join(_ elements: [PickleValue], _ text: inout String) {
        for (index, element) in elements.enumerated() {
            if index > 0 { text += "," }
            typedDump(element, into: &text)
        }
    }
    switch value {
    case .none: text += "N"
    case .bool(let flag): text += flag ? "T" : "F"
    case .int(let number): text += "i\(number);"
    case .bigInt(let big): text += "i\(big);"
    case .float(let number):
        let bits = number.bitPattern
        text += "f" + hex((0..<8).reversed().map { UInt8(truncatingIfNeeded: bits >> UInt64($0 * 8)) })
    case .string(let string): text += "s" + hex(string.utf8) + ";"
    case .bytes(let bytes): text += "b" + hex(bytes) + ";"
    case .bytearray(let bytes): text += "B" + hex(bytes) + ";"
    case .list(let elements):
        text += "["
        join(elements, &text)
        text += "]"
    case .tuple(let elements):
        text += "("
        join(elements, &text)
        text += ")"
    case .dict(let pairs):
        text += "{"
        for (index, pair) in pairs.enumerated() {
            if index > 0 { text += "," }
            typedDump(pair.key, into: &text)
            text += ":"
            typedDump(pair.value, into: &text)
        }
        text += "}"
    case .set(let elements):
        text += "S{"
        join(elements, &text)
        text += "}"
    case .frozenset(let elements):
        text += "Z{"
        join(elements, &text)
        text += "}"
    }
}

func fnv1a64(_ text: String) -> UInt64 {
    var hash: UInt64 = 0xCBF2_9CE4_8422_2325
    for byte in text.utf8 {
        hash ^= UInt64(byte)
        hash = hash &* 0x100_0000_01B3
    }
    return hash
}

/// A small deterministic RNG (SplitMix64), so fuzz cases are the same on every run.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Decodes, turning the typed error into a `Result` for easy assertions.
func decodeResult(_ bytes: [UInt8], options: PickleDecoder.Options = .init()) -> Result<PickleValue, PickleError> {
    Result { () throws(PickleError) -> PickleValue in try PickleDecoder.decode(bytes, options: options) }
}

/// Bytes from an ASCII-and-escapes literal, for hand-written pickles: `pk("\u{80}\u{04}N.")`
/// maps each scalar below 256 to one byte.
func pk(_ text: String) -> [UInt8] {
    text.unicodeScalars.map { scalar in
        precondition(scalar.value < 256)
        return UInt8(scalar.value)
    }
}

/// Where two encodings first differ, with some context, for failure messages.
func differenceReport(ours: [UInt8], theirs: [UInt8]) -> String {
    let common = min(ours.count, theirs.count)
    let first = (0..<common).first { ours[$0] != theirs[$0] } ?? common
    let start = max(0, first - 12)
    return """
        \(ours.count) bytes vs CPython's \(theirs.count); first difference at \(first): \
        ours …\(hex(ours[start..<min(ours.count, first + 24)])) \
        CPython's …\(hex(theirs[start..<min(theirs.count, first + 24)]))
        """
}
