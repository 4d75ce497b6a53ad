/// A flow's id or name as the deadlines' table keeps it: 64 bytes of plain data, so that recording
/// and matching a flow allocates nothing and copies are a `memcpy` (a UUID is 36 bytes).
///
/// Up to 48 bytes are kept whole. A longer id keeps its first 48 bytes, its length and the
/// digest of all its bytes: two different long ids are taken for one only if they share all
/// three (the 64-bit digest, seeded per process, of ids that already agree in length and first 48
/// bytes), which no honest peer will meet. Its text (``description``) is then the first 48
/// bytes; ``FlowDeadlines`` keeps the whole text of such ids and names beside the table.
///
/// A `String` key cost an allocation for every id longer than 15 bytes, on the Subject and
/// again on the Integration Manager, for every flow.
///
/// The key carries its own 64-bit digest, computed once from its words, and hands only that to
/// `Hasher`: hashing the bytes through `Hasher.combine(bytes:)` (SipHash) measured about 900
/// instructions per flow at the IM under callgrind, most of the table's cost. The digest starts
/// from a per-process random seed, so ids chosen to collide cannot be precomputed.
struct FlowKey: Hashable, Sendable, CustomStringConvertible {
    static let inlineCapacity = 48
    private var words: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0)
    private var count = 0
    private var digest: UInt64 = 0
    private static let seed = UInt64.random(in: .min ... .max)

    init(_ bytes: UnsafeRawBufferPointer) {
        count = bytes.count
        let kept = min(bytes.count, Self.inlineCapacity)
        if let base = bytes.baseAddress {
            withUnsafeMutableBytes(of: &words) { $0.baseAddress!.copyMemory(from: base, byteCount: kept) }
        }
        if bytes.count <= Self.inlineCapacity {
            digest = withUnsafeBytes(of: words) { Self.digest(UnsafeRawBufferPointer(rebasing: $0.prefix((kept + 7) & ~7)), count: kept) }
        } else {
            digest = Self.digest(bytes, count: bytes.count)
        }
    }

    /// Multiply-xor over 8-byte words (the tail zero-padded), then a final avalanche.
    private static func digest(_ bytes: UnsafeRawBufferPointer, count: Int) -> UInt64 {
        var h = seed ^ UInt64(count)
        var offset = 0
        while offset + 8 <= bytes.count {
            h = (h ^ bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) &* 0x9E37_79B9_7F4A_7C15
            h ^= h >> 29
            offset += 8
        }
        if offset < bytes.count {
            var tail: UInt64 = 0
            withUnsafeMutableBytes(of: &tail) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[offset...])) }
            h = (h ^ tail) &* 0x9E37_79B9_7F4A_7C15
        }
        h ^= h >> 32
        h = h &* 0xD6E8_FEB8_6659_FD93
        return h ^ (h >> 32)
    }

    init(_ string: String) {
        var string = string
        self = string.withUTF8 { FlowKey(UnsafeRawBufferPointer($0)) }
    }

    /// The key of an id as error messages carry it (``Outbound/sanitize(_:)``: `~` replaced, at
    /// most 200 characters), so that an error's id finds its flow.
    static func id(_ bytes: UnsafeRawBufferPointer) -> FlowKey {
        bytes.count <= 200 ? FlowKey(bytes) : FlowKey(Outbound.sanitize(String(decoding: bytes, as: UTF8.self)))
    }

    static func id(_ string: String) -> FlowKey {
        string.utf8.count <= 200 ? FlowKey(string) : FlowKey(Outbound.sanitize(string))
    }

    /// The text of an id as error messages carry it (the same rule as ``id(_:)-(UnsafeRawBufferPointer)``).
    static func text(_ bytes: UnsafeRawBufferPointer) -> String { text(String(decoding: bytes, as: UTF8.self)) }

    static func text(_ string: String) -> String { string.utf8.count <= 200 ? string : Outbound.sanitize(string) }

    /// Whether the key keeps all its bytes (48 or fewer).
    var isWhole: Bool { count <= Self.inlineCapacity }

    /// The bytes kept: the whole key, or a long one's first 48.
    func withBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        withUnsafeBytes(of: words) { body(UnsafeRawBufferPointer(rebasing: $0.prefix(min(count, Self.inlineCapacity)))) }
    }

    var description: String { withBytes { String(decoding: $0, as: UTF8.self) } }

    static func == (a: FlowKey, b: FlowKey) -> Bool {
        // Bytes past `count` are zero in both, so the words compare whole.
        a.digest == b.digest && a.count == b.count && a.words == b.words
    }

    func hash(into hasher: inout Hasher) {
        hasher.combine(digest)
    }
}
