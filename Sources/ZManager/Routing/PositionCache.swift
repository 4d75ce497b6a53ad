/// The last header a role looked up and the flow position it resolved to.
///
/// A message's position (``FlowTable/position(ofHeader:in:)``) depends only on the five key
/// fields of its header, i.e. on the bytes before the id, and a role sees the same few headers
/// over and over (every request of a flow has the same `Push` header, every step the same step
/// header). Comparing those bytes with the last ones looked up is a few word compares; the
/// lookup it saves (hash the flow name, probe, match the steps field by field) measured about
/// 400 instructions per message in a worker. A miss costs the compare and then the lookup.
///
/// One per role thread; it owns its key buffer and frees it when it goes.
struct PositionCache: ~Copyable {
    /// The cached key part (headers whose key part is longer than ``KeyBytes/capacity`` are
    /// looked up every time).
    private var key = KeyBytes()
    private var position = FlowPosition(flow: 0, step: 0)
    /// The ``Inbound/keyGeneration`` `position` was found under; nil when it was found for a
    /// header given by its bytes (or not yet).
    private var generation: UInt64?

    init() {}

    /// `inbound`'s position in `flows`, nil when its flow is unknown or no step matches.
    /// Only positions found are cached; a miss is looked up again next time.
    ///
    /// Inlined down to the header's parts: passing the borrowed `inbound` out of line copied
    /// it (160 bytes, a `memcpy` per message).
    @inline(__always)
    mutating func position(of inbound: borrowing Inbound, in flows: FlowTable) -> FlowPosition? {
        // Same key generation: the header's key part is the one `position` was found for,
        // known without comparing its bytes again.
        if generation == inbound.keyGeneration { return position }
        let (found, cached) = lookUp(header: inbound.headBytes, fields: inbound.fields, in: flows)
        if cached { generation = inbound.keyGeneration }
        return found
    }

    mutating func position(ofHeader header: UnsafeRawBufferPointer, fields: HeaderFields, in flows: FlowTable) -> FlowPosition? {
        lookUp(header: header, fields: fields, in: flows).found
    }

    /// The position, and whether it is now the cached one (false for a miss, and for a key too
    /// long to cache).
    private mutating func lookUp(header: UnsafeRawBufferPointer, fields: HeaderFields,
                                 in flows: FlowTable) -> (found: FlowPosition?, cached: Bool) {
        let count = fields.id.lowerBound
        if key.isEqual(toFirst: count, of: header) { return (position, true) }
        guard let found = flows.position(ofHeader: fields, in: header) else { return (nil, false) }
        generation = nil
        guard key.remember(first: count, of: header) else { return (found, false) }
        position = found
        return (found, true)
    }
}
