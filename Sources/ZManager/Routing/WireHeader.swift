import CZManagerShims
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// DigitalPy's one-frame message header, read and written in place.
///
/// Every ZManager frame is `config~decorator~source~context~action~id~body`: five action-key
/// fields, the message id (DigitalPy's `str(uuid4())`, the correlation key), then the body,
/// which may itself contain `~` (a pickle usually does). The Subject and the workers must
/// read this header for every message, so these functions work on raw bytes and never
/// allocate: parsing yields byte ranges (``HeaderFields``), writing copies UTF-8 bytes into a
/// buffer the caller owns (e.g. a pooled zero-copy buffer).
public enum WireHeader {
    /// The header's field delimiter, `~` (DigitalPy's `ZMANAGER_MESSAGE_DELIMITER`).
    public static let delimiter = UInt8(ascii: "~")

    /// Number of `~` in a complete header: one after each of the 5 key fields and the id.
    public static let delimiterCount = 6

    /// Parses the header of a received frame. Stops at the 6th `~`; everything after it is the
    /// body, untouched (it may contain `~`). Does not allocate.
    ///
    /// Frames must be complete: DigitalPy's `from_zmanager_message` fails on any frame with
    /// fewer than 6 `~` too (it indexes the missing id/body), so no working peer sends one.
    /// Bare topics without id, such as subscription strings, go through ``parseTopic(_:)``.
    ///
    /// - Throws: ``WireHeaderError/tooFewFields(found:)`` when fewer than six `~`-terminated
    ///   fields precede the body.
    public static func parse(_ frame: UnsafeRawBufferPointer) throws(WireHeaderError) -> HeaderFields {
        let d = Delimiters(scanning: frame)
        guard d.count == delimiterCount else { throw .tooFewFields(found: d.count) }
        return HeaderFields(
            config: 0..<d[0],
            decorator: (d[0] + 1)..<d[1],
            source: (d[1] + 1)..<d[2],
            context: (d[2] + 1)..<d[3],
            action: (d[3] + 1)..<d[4],
            id: (d[4] + 1)..<d[5],
            bodyOffset: d[5] + 1,
            hasMessageID: true)
    }

    /// Parses a bare topic with DigitalPy's tolerance (`deserialize_from_topic`): 3 parts are
    /// `source~context~action`, 4 parts `decorator~source~context~action` (the missing leading
    /// fields are empty, i.e. *left-padded*), 5 parts are the full key. With a 6th part it
    /// is the message id (a trailing `~` is optional here), and anything after a 6th `~` is
    /// the body, as in ``parse(_:)``.
    ///
    /// Fields that were padded, and a missing id, are reported as empty ranges at offset 0;
    /// ``HeaderFields/hasMessageID`` says whether an id was present.
    ///
    /// - Throws: ``WireHeaderError/tooFewTopicFields(found:)`` for fewer than 3 parts.
    public static func parseTopic(_ topic: UnsafeRawBufferPointer) throws(WireHeaderError) -> HeaderFields {
        let d = Delimiters(scanning: topic)
        if d.count == delimiterCount { return try parse(topic) }
        let parts = d.count + 1
        guard parts >= 3 else { throw .tooFewTopicFields(found: parts) }
        // Start and end offsets of each part that is present.
        func part(_ k: Int) -> Range<Int> {
            let start = k == 0 ? 0 : d[k - 1] + 1
            let end = k < d.count ? d[k] : topic.count
            return start..<end
        }
        let none = 0..<0
        switch parts {
        case 3:
            return HeaderFields(
                config: none, decorator: none, source: part(0), context: part(1), action: part(2),
                id: none, bodyOffset: topic.count, hasMessageID: false)
        case 4:
            return HeaderFields(
                config: none, decorator: part(0), source: part(1), context: part(2), action: part(3),
                id: none, bodyOffset: topic.count, hasMessageID: false)
        case 5:
            return HeaderFields(
                config: part(0), decorator: part(1), source: part(2), context: part(3), action: part(4),
                id: none, bodyOffset: topic.count, hasMessageID: false)
        default:  // 6 parts: the id runs to the end
            return HeaderFields(
                config: part(0), decorator: part(1), source: part(2), context: part(3), action: part(4),
                id: part(5), bodyOffset: topic.count, hasMessageID: true)
        }
    }

    /// The number of bytes ``write(_:id:into:)`` writes: the UTF-8
    /// lengths of the five key fields and the id, plus six `~`. `target` is not on the wire.
    public static func length(of key: ActionKey, idLength: Int) -> Int {
        key.config.utf8.count + key.decorator.utf8.count + key.source.utf8.count
            + key.context.utf8.count + key.action.utf8.count + idLength + delimiterCount
    }

    /// ``length(of:idLength:)`` for a `String` id.
    public static func length(of key: ActionKey, id: String) -> Int {
        length(of: key, idLength: id.utf8.count)
    }

    /// Writes `config~decorator~source~context~action~id~` at the start of `buffer` and returns
    /// the number of bytes written; the body goes right after. Does not allocate (native Swift
    /// strings are copied from their contiguous UTF-8 storage).
    ///
    /// - Throws: ``WireHeaderError/bufferTooSmall(needed:available:)`` (nothing is written), or
    ///   ``WireHeaderError/delimiterInField(_:)`` when a field contains `~`, which would shift
    ///   every later field for the receiver (the buffer's contents are then unspecified).
    @discardableResult
    public static func write(
        _ key: ActionKey, id: UnsafeRawBufferPointer, into buffer: UnsafeMutableRawBufferPointer
    ) throws(WireHeaderError) -> Int {
        let needed = length(of: key, idLength: id.count)
        guard needed <= buffer.count, let base = buffer.baseAddress else {
            throw .bufferTooSmall(needed: needed, available: buffer.count)
        }
        var offset = 0
        try copy(key.config, .config, to: base, at: &offset)
        try copy(key.decorator, .decorator, to: base, at: &offset)
        try copy(key.source, .source, to: base, at: &offset)
        try copy(key.context, .context, to: base, at: &offset)
        try copy(key.action, .action, to: base, at: &offset)
        if copyChecked(id, to: base, at: &offset) { throw .delimiterInField(.id) }
        return offset
    }

    /// ``write(_:id:into:)`` with a `String` id.
    @discardableResult
    public static func write(
        _ key: ActionKey, id: String, into buffer: UnsafeMutableRawBufferPointer
    ) throws(WireHeaderError) -> Int {
        let fast: Result<Int, WireHeaderError>? = id.utf8.withContiguousStorageIfAvailable { bytes in
            Result { () throws(WireHeaderError) in
                try write(key, id: UnsafeRawBufferPointer(bytes), into: buffer)
            }
        }
        if let fast { return try fast.get() }
        // Not contiguous (e.g. a bridged string): make it native once. Rare and allocating.
        var native = id
        native.makeContiguousUTF8()
        return try write(key, id: native, into: buffer)
    }

    /// Copies one field and its `~` terminator.
    @inline(__always)
    private static func copy(
        _ field: String, _ which: HeaderFields.Field, to base: UnsafeMutableRawPointer, at offset: inout Int
    ) throws(WireHeaderError) {
        let clash: Bool =
            field.utf8.withContiguousStorageIfAvailable { bytes in
                copyChecked(UnsafeRawBufferPointer(bytes), to: base, at: &offset)
            } ?? copySlowly(field, to: base, at: &offset)
        if clash { throw .delimiterInField(which) }
    }

    /// Copies bytes plus a `~`; returns true when the bytes contained a `~`.
    @inline(__always)
    private static func copyChecked(
        _ bytes: UnsafeRawBufferPointer, to base: UnsafeMutableRawPointer, at offset: inout Int
    ) -> Bool {
        var clash = false
        for byte in bytes {
            clash = clash || byte == delimiter
            base.storeBytes(of: byte, toByteOffset: offset, as: UInt8.self)
            offset += 1
        }
        base.storeBytes(of: delimiter, toByteOffset: offset, as: UInt8.self)
        offset += 1
        return clash
    }

    /// Fallback for strings without contiguous UTF-8 storage: byte by byte through the view.
    private static func copySlowly(_ field: String, to base: UnsafeMutableRawPointer, at offset: inout Int) -> Bool {
        var clash = false
        for byte in field.utf8 {
            clash = clash || byte == delimiter
            base.storeBytes(of: byte, toByteOffset: offset, as: UInt8.self)
            offset += 1
        }
        base.storeBytes(of: delimiter, toByteOffset: offset, as: UInt8.self)
        offset += 1
        return clash
    }
}

/// The offsets of the first (up to) six `~` in a buffer, kept in fixed storage so scanning a
/// header never touches the heap.
/// The first six `~` of a buffer, found by `zm_find_tildes` (`CZManagerShims`), sixteen bytes
/// at a time: every role parses every header, and a byte loop, `memchr` per field and a
/// word-at-a-time Swift scan each measured about 300 instructions for a 74-byte header.
private struct Delimiters {
    private var offsets: (Int64, Int64, Int64, Int64, Int64, Int64) = (0, 0, 0, 0, 0, 0)
    let count: Int

    @inline(__always)
    init(scanning bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress else {
            count = 0
            return
        }
        let found = withUnsafeMutablePointer(to: &offsets) { tuple in
            tuple.withMemoryRebound(to: Int64.self, capacity: WireHeader.delimiterCount) { out in
                zm_find_tildes(base.assumingMemoryBound(to: UInt8.self), bytes.count, Int32(WireHeader.delimiterCount), out)
            }
        }
        count = Int(found)
    }

    @inline(__always)
    subscript(k: Int) -> Int {
        switch k {
        case 0: Int(offsets.0)
        case 1: Int(offsets.1)
        case 2: Int(offsets.2)
        case 3: Int(offsets.3)
        case 4: Int(offsets.4)
        default: Int(offsets.5)
        }
    }
}

/// Where each header field lies in a received buffer, as byte ranges (offsets from the start of
/// the buffer), and where the body starts. Holding ranges instead of strings is what keeps
/// header parsing allocation-free; decode a field only when you need it as text.
public struct HeaderFields: Hashable, Sendable {
    /// The six header fields, in wire order.
    public enum Field: Int, CaseIterable, Hashable, Sendable, CustomStringConvertible {
        case config, decorator, source, context, action, id

        public var description: String {
            switch self {
            case .config: "config"
            case .decorator: "decorator"
            case .source: "source"
            case .context: "context"
            case .action: "action"
            case .id: "id"
            }
        }
    }

    public var config: Range<Int>
    public var decorator: Range<Int>
    public var source: Range<Int>
    public var context: Range<Int>
    public var action: Range<Int>
    /// The message id (empty range when ``hasMessageID`` is false).
    public var id: Range<Int>
    /// Offset of the first body byte (equal to the buffer's count when the body is empty).
    public var bodyOffset: Int
    /// False only for bare topics parsed by ``WireHeader/parseTopic(_:)`` without an id.
    public var hasMessageID: Bool

    public init(
        config: Range<Int>, decorator: Range<Int>, source: Range<Int>, context: Range<Int>,
        action: Range<Int>, id: Range<Int>, bodyOffset: Int, hasMessageID: Bool
    ) {
        self.config = config
        self.decorator = decorator
        self.source = source
        self.context = context
        self.action = action
        self.id = id
        self.bodyOffset = bodyOffset
        self.hasMessageID = hasMessageID
    }

    /// The byte range of a field.
    public subscript(field: Field) -> Range<Int> {
        switch field {
        case .config: config
        case .decorator: decorator
        case .source: source
        case .context: context
        case .action: action
        case .id: id
        }
    }

    /// The field's bytes inside `buffer` (the buffer this header was parsed from). No copy.
    public func bytes(_ field: Field, in buffer: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: buffer[self[field]])
    }

    /// The body inside `buffer`. No copy.
    public func body(in buffer: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: buffer[bodyOffset...])
    }

    /// Whether a field's bytes equal `text`'s UTF-8, without decoding or allocating; for the
    /// hot-path checks such as "is the action `Push`?".
    public func field(_ field: Field, in buffer: UnsafeRawBufferPointer, equals text: String) -> Bool {
        bytes(field, in: buffer).elementsEqual(text.utf8)
    }

    /// A field decoded as UTF-8 (invalid sequences become U+FFFD). Allocates.
    public func string(_ field: Field, in buffer: UnsafeRawBufferPointer) -> String {
        String(decoding: bytes(field, in: buffer), as: UTF8.self)
    }

    /// The five key fields decoded into an ``ActionKey`` (no target). Allocates.
    public func actionKey(in buffer: UnsafeRawBufferPointer) -> ActionKey {
        ActionKey(
            config: string(.config, in: buffer),
            decorator: string(.decorator, in: buffer),
            source: string(.source, in: buffer),
            context: string(.context, in: buffer),
            action: string(.action, in: buffer))
    }
}

/// Why a header could not be read or written.
public enum WireHeaderError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A frame had fewer than six `~`-terminated fields before its body.
    case tooFewFields(found: Int)
    /// A bare topic had fewer than three `~`-separated parts.
    case tooFewTopicFields(found: Int)
    /// The destination buffer cannot hold the header.
    case bufferTooSmall(needed: Int, available: Int)
    /// A field to be written contains `~`, which would corrupt the framing.
    case delimiterInField(HeaderFields.Field)

    public var description: String {
        switch self {
        case .tooFewFields(let found):
            "malformed header: found \(found) '~'-terminated field\(found == 1 ? "" : "s") before the body;"
                + " expected 6: config~decorator~source~context~action~id~"
        case .tooFewTopicFields(let found):
            "malformed topic: found \(found) '~'-separated field\(found == 1 ? "" : "s");"
                + " expected at least 3: source~context~action"
        case .bufferTooSmall(let needed, let available):
            "header needs \(needed) bytes but the buffer has \(available)"
        case .delimiterInField(let field):
            "the \(field) field contains '~', the header delimiter; expected a value without '~'"
        }
    }
}
