/// An integer of any size, as Python's `int` is.
///
/// Stored the way pickle's `LONG1`/`LONG4` opcodes carry it: little-endian two's complement,
/// always in the *minimal* number of bytes (the same bytes CPython writes, so encoding is a
/// copy), and zero as no bytes at all. Because the form is canonical, the synthesised `==` and
/// `hash` compare numeric values.
///
/// ``PickleDecoder`` only produces a ``PickleValue/bigInt(_:)`` for values outside `Int64`;
/// ``PickleValue``'s equality treats `.int(5)` and `.bigInt(PickleBigInt(5))` as equal.
public struct PickleBigInt: Hashable, Sendable, CustomStringConvertible {
    /// Minimal little-endian two's complement bytes; `[]` for zero.
    public let littleEndianTwosComplement: [UInt8]

    /// Wraps little-endian two's complement bytes (any length; redundant sign bytes are trimmed).
    public init(littleEndianTwosComplement bytes: some Collection<UInt8>) {
        var storage = Array(bytes)
        PickleBigInt.normalize(&storage)
        self.littleEndianTwosComplement = storage
    }

    /// The value of any Swift integer.
    public init(_ value: some BinaryInteger) {
        var storage: [UInt8] = []
        storage.reserveCapacity(value.words.count * MemoryLayout<UInt>.size + 1)
        for word in value.words {
            var word = word
            for _ in 0..<MemoryLayout<UInt>.size {
                storage.append(UInt8(truncatingIfNeeded: word))
                word >>= 8
            }
        }
        // `words` of an unsigned value with its top bit set must not read as negative.
        storage.append(value < 0 ? 0xFF : 0x00)
        PickleBigInt.normalize(&storage)
        self.littleEndianTwosComplement = storage
    }

    /// Parses an optionally signed decimal integer (`"-123"`, `"+7"`, `"0"`); `nil` if malformed.
    ///
    /// Cost is quadratic in the number of digits; callers parsing untrusted text should bound
    /// it (``PickleDecoder`` allows 4300 digits, as CPython's `int()` does by default).
    public init?(decimal text: some StringProtocol) {
        var utf8 = Substring(text).utf8[...]
        var negative = false
        if let first = utf8.first, first == UInt8(ascii: "-") || first == UInt8(ascii: "+") {
            negative = first == UInt8(ascii: "-")
            utf8 = utf8.dropFirst()
        }
        guard !utf8.isEmpty else { return nil }
        // Magnitude as little-endian base-2^32 limbs, built 9 decimal digits at a time.
        var limbs: [UInt32] = []
        var chunk: UInt32 = 0
        var chunkDigits = 0
        func flush(_ chunk: UInt32, _ digits: Int) {
            var multiplier: UInt64 = 1
            for _ in 0..<digits { multiplier *= 10 }
            var carry = UInt64(chunk)
            for index in limbs.indices {
                let product = UInt64(limbs[index]) * multiplier + carry
                limbs[index] = UInt32(truncatingIfNeeded: product)
                carry = product >> 32
            }
            if carry != 0 { limbs.append(UInt32(carry)) }
        }
        for byte in utf8 {
            guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") else { return nil }
            chunk = chunk * 10 + UInt32(byte - UInt8(ascii: "0"))
            chunkDigits += 1
            if chunkDigits == 9 {
                flush(chunk, 9)
                chunk = 0
                chunkDigits = 0
            }
        }
        if chunkDigits > 0 { flush(chunk, chunkDigits) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(limbs.count * 4 + 1)
        for limb in limbs {
            bytes.append(UInt8(truncatingIfNeeded: limb))
            bytes.append(UInt8(truncatingIfNeeded: limb >> 8))
            bytes.append(UInt8(truncatingIfNeeded: limb >> 16))
            bytes.append(UInt8(truncatingIfNeeded: limb >> 24))
        }
        bytes.append(0)  // positive sign byte
        if negative { PickleBigInt.negate(&bytes) }
        PickleBigInt.normalize(&bytes)
        self.littleEndianTwosComplement = bytes
    }

    /// Whether the value is below zero.
    public var isNegative: Bool { (littleEndianTwosComplement.last ?? 0) & 0x80 != 0 }

    /// The value, when it fits in an `Int64`.
    public var int64Value: Int64? {
        let bytes = littleEndianTwosComplement
        guard bytes.count <= 8 else { return nil }
        var value: UInt64 = isNegative ? ~0 : 0
        for (index, byte) in bytes.enumerated() {
            let shift = UInt64(index * 8)
            value = (value & ~(0xFF << shift)) | (UInt64(byte) << shift)
        }
        return Int64(bitPattern: value)
    }

    /// The value, when it fits in an `Int`.
    public var intValue: Int? { int64Value.flatMap { Int(exactly: $0) } }

    /// The value in decimal, e.g. `"-1267650600228229401496703205376"`.
    ///
    /// Quadratic in the number of digits; meant for display and tests.
    public var description: String {
        var magnitude = littleEndianTwosComplement
        let negative = isNegative
        if negative {
            magnitude.append(0xFF)
            PickleBigInt.negate(&magnitude)
        }
        var limbs: [UInt32] = []
        limbs.reserveCapacity(magnitude.count / 4 + 1)
        var index = 0
        while index < magnitude.count {
            var limb: UInt32 = 0
            for offset in 0..<4 where index + offset < magnitude.count {
                limb |= UInt32(magnitude[index + offset]) << UInt32(offset * 8)
            }
            limbs.append(limb)
            index += 4
        }
        while limbs.last == 0 { limbs.removeLast() }
        if limbs.isEmpty { return "0" }
        var chunks: [UInt32] = []  // base 10^9, least significant first
        while !limbs.isEmpty {
            var remainder: UInt64 = 0
            for position in limbs.indices.reversed() {
                let current = (remainder << 32) | UInt64(limbs[position])
                limbs[position] = UInt32(current / 1_000_000_000)
                remainder = current % 1_000_000_000
            }
            chunks.append(UInt32(remainder))
            while limbs.last == 0 { limbs.removeLast() }
        }
        var text = negative ? "-" : ""
        text += String(chunks.last!)
        for chunk in chunks.dropLast().reversed() {
            let digits = String(chunk)
            text += String(repeating: "0", count: 9 - digits.count) + digits
        }
        return text
    }

    /// Trims redundant sign bytes so the representation is minimal; all-zero becomes `[]`.
    static func normalize(_ bytes: inout [UInt8]) {
        var count = bytes.count
        while count > 0 {
            let top = bytes[count - 1]
            let nextHighBit = count > 1 ? bytes[count - 2] & 0x80 : 0
            if top == 0x00 && nextHighBit == 0 {
                count -= 1
            } else if top == 0xFF && count > 1 && nextHighBit != 0 {
                count -= 1
            } else {
                break
            }
        }
        if count < bytes.count { bytes.removeSubrange(count...) }
    }

    /// Two's complement negation in place (the width is unchanged; callers add a sign byte).
    static func negate(_ bytes: inout [UInt8]) {
        var carry = true
        for index in bytes.indices {
            let inverted = ~bytes[index]
            if carry {
                let (sum, overflow) = inverted.addingReportingOverflow(1)
                bytes[index] = sum
                carry = overflow
            } else {
                bytes[index] = inverted
            }
        }
    }
}
