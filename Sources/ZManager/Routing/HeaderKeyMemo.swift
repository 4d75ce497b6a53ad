import CZManagerShims

/// The key part of the last header a role parsed in full (the bytes before the id, i.e.
/// `config~decorator~source~context~action~`) and the five fields found in it.
///
/// A role sees the same few headers over and over: every request of a flow has the same `Push`
/// header, every step the same step header; only the id and the body change. When a header
/// starts with the remembered key, its first five `~` are where they were last time, so only
/// the id's `~` is left to find: a compare of the key by words and one short scan instead of
/// ``WireHeader/parse(_:)``'s scan of the whole header (measured about 200 instructions per
/// message in the Subject and in the worker). The result is the same as a full parse, and a
/// header that does not start with the key is parsed in full and becomes the new key.
///
/// One per receiving role thread (inside ``Inbound``); it owns its key buffer.
struct HeaderKeyMemo: ~Copyable {
    /// Keys longer than ``KeyBytes/capacity`` are not remembered: such headers are parsed in
    /// full every time.
    private var key = KeyBytes()
    /// Changes whenever the remembered key does (or a header is parsed without being
    /// remembered): two headers parsed under the same generation have the same key, so what
    /// was looked up for the one holds for the other (``PositionCache``).
    private(set) var generation: UInt64 = 0
    private var keyFields = HeaderFields(
        config: 0..<0, decorator: 0..<0, source: 0..<0, context: 0..<0, action: 0..<0,
        id: 0..<0, bodyOffset: 0, hasMessageID: true)

    init() {}

    /// `header`'s fields, as ``WireHeader/parse(_:)`` finds them (and with the same error).
    @inline(__always)
    mutating func parse(_ header: UnsafeRawBufferPointer) throws(WireHeaderError) -> HeaderFields {
        if let fields = repeated(header) { return fields }
        let fields = try WireHeader.parse(header)
        remember(header, fields)
        return fields
    }

    /// The fields of a header that starts with the remembered key; nil when it does not, or
    /// when no `~` ends its id (then the full parse reports the error).
    @inline(__always)
    private func repeated(_ header: UnsafeRawBufferPointer) -> HeaderFields? {
        guard key.isStrictPrefix(of: header), let base = header.baseAddress else { return nil }
        let n = key.count
        var idEnd: Int64 = 0
        guard zm_find_tildes((base + n).assumingMemoryBound(to: UInt8.self), header.count - n, 1, &idEnd) == 1 else {
            return nil
        }
        var fields = keyFields
        let end = n + Int(idEnd)
        fields.id = n..<end
        fields.bodyOffset = end + 1
        return fields
    }

    private mutating func remember(_ header: UnsafeRawBufferPointer, _ fields: HeaderFields) {
        generation &+= 1
        // A header not remembered must not leave the old key: it would be found again under
        // the new generation.
        guard key.remember(first: fields.id.lowerBound, of: header) else { return key.forget() }
        keyFields = fields
    }
}
