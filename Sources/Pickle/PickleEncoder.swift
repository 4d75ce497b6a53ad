/// Encodes a ``PickleValue`` as CPython's `pickle.dumps(value, protocol=N)` does.
///
/// The goal is byte-for-byte equality with CPython 3.11's C pickler (`_pickle.c`), so that a
/// Swift peer's message bodies are indistinguishable from a Python peer's. That means copying
/// its choices exactly:
/// - `PROTO n`, then for protocol 4+ the body in `FRAME`s: a frame is closed at the first value
///   boundary after it reaches 64 KiB, a frame under 4 bytes is written without its header, and a
///   `str`/`bytes`/`bytearray` payload of 64 KiB or more is written outside any frame;
/// - `BININT1`/`BININT2`/`BININT` for ints in 32-bit range (negative ones always `BININT`),
///   `LONG1`/`LONG4` with minimal two's complement beyond; `BINFLOAT` for floats;
/// - `SHORT_BINUNICODE` (protocol 4+) / `BINUNICODE` / `BINUNICODE8`, and `SHORT_BINBYTES` /
///   `BINBYTES` / `BINBYTES8`; below protocol 3, bytes as `_codecs.encode(str, 'latin1')`;
/// - `EMPTY_LIST`/`EMPTY_DICT`/`EMPTY_SET` then items in `MARK … APPENDS`/`SETITEMS`/`ADDITEMS`
///   batches of 1000 (a single item uses `APPEND`/`SETITEM`; a dict or set whose size is a
///   multiple of 1000 gets a trailing empty batch, as CPython writes it); `TUPLE1`-`TUPLE3` or
///   `MARK … TUPLE`; `bytearray` as `BYTEARRAY8` (protocol 5) or `builtins.bytearray(b'…')`;
///   sets as `set([…])` below protocol 4;
/// - the memo: every str, bytes, bytearray, list, dict, set, frozenset, non-empty tuple and
///   class reference is memoised (`MEMOIZE`, or `BINPUT`/`LONG_BINPUT` below protocol 4), and a
///   repeated object is written as `BINGET`/`LONG_BINGET`.
///
/// ## What cannot be exact
/// CPython's memo works on object *identity*, which a ``PickleValue`` does not have. This encoder
/// treats equal `str` and `bytes` values as one object (a repeat becomes a memo `GET`), which is
/// what CPython does for the common cases: equal string constants in one module, identifier-like
/// strings (interned, e.g. dict keys repeated across records), one-character strings, `""` and
/// `b""` are each a single object in CPython. Other values (tuples, lists, dicts, bytearrays) are
/// never shared. So the output differs from CPython's only when the Python object graph shared
/// something else (`l = []; {'a': l, 'b': l}`) or held equal strings as distinct objects; Python
/// then still decodes it to an equal value.
///
/// The encoder does not validate: a dict key Python cannot hash (a list, say) is written and
/// Python will refuse it when loading, and duplicate keys in a hand-built ``PickleValue/dict(_:)``
/// are all written (Python keeps the last value). It recurses once per nesting level, so values
/// nested many thousands deep (which ``PickleDecoder`` never produces) can exhaust the stack.
public enum PickleEncoder {
    /// The protocols this encoder writes. DigitalPy uses CPython 3.11's default, 4.
    public static let supportedProtocols: ClosedRange<Int> = 2...5

    /// Encodes `value` at `protocol` (2...5; 4 is what DigitalPy writes).
    public static func encode(_ value: PickleValue, protocol version: Int = 4) -> [UInt8] {
        var buffer: [UInt8] = []
        encode(value, protocol: version, into: &buffer)
        return buffer
    }

    /// Appends the encoding of `value` to `buffer`, which may already hold, say, a message
    /// header, and may be reused across calls (`removeAll(keepingCapacity: true)`) so that
    /// steady-state encoding does not reallocate the output.
    public static func encode(_ value: PickleValue, protocol version: Int = 4, into buffer: inout [UInt8]) {
        precondition(supportedProtocols.contains(version), "pickle protocol \(version) is not in 2...5")
        var pickler = Pickler(protocol: version)
        swap(&pickler.out, &buffer)
        pickler.dump(value)
        swap(&pickler.out, &buffer)
    }
}

// MARK: - Memo tables keyed by content

/// A `str` compared by code points (Python's equality), hashed cheaply by its edges.
private struct TextKey: Hashable {
    let text: String
    static func == (a: TextKey, b: TextKey) -> Bool {
        a.text.utf8.count == b.text.utf8.count && a.text.utf8.elementsEqual(b.text.utf8)
    }
    func hash(into hasher: inout Hasher) {
        let utf8 = text.utf8
        hasher.combine(utf8.count)
        for byte in utf8.prefix(16) { hasher.combine(byte) }
        for byte in utf8.suffix(16) { hasher.combine(byte) }
    }
}

/// A `bytes` compared in full, hashed cheaply by its length and edges (payloads can be large).
private struct BytesKey: Hashable {
    let bytes: [UInt8]
    static func == (a: BytesKey, b: BytesKey) -> Bool { a.bytes == b.bytes }
    func hash(into hasher: inout Hasher) {
        hasher.combine(bytes.count)
        for byte in bytes.prefix(16) { hasher.combine(byte) }
        for byte in bytes.suffix(16) { hasher.combine(byte) }
    }
}

/// Content → memo index; a short array until it grows, so small bodies allocate little.
private struct MemoTable<Key: Hashable> {
    var small: [(key: Key, index: Int)] = []
    var large: [Key: Int]?

    func lookup(_ key: Key) -> Int? {
        if let large { return large[key] }
        for entry in small where entry.key == key { return entry.index }
        return nil
    }

    mutating func insert(_ key: Key, _ index: Int) {
        if large != nil {
            large![key] = index
        } else if small.count < 16 {
            small.append((key, index))
        } else {
            var table = [Key: Int](minimumCapacity: 64)
            for entry in small { table[entry.key] = entry.index }
            table[key] = index
            large = table
            small = []
        }
    }
}

/// Builtin callables CPython writes for some data below the newest protocols.
private enum Callable: Hashable {
    case bytes, bytearray, set, frozenset, codecsEncode

    func module(protocol version: Int) -> String {
        if self == .codecsEncode { return "_codecs" }
        return version < 3 ? "__builtin__" : "builtins"  // CPython's fix_imports below protocol 3
    }

    var name: String {
        switch self {
        case .bytes: return "bytes"
        case .bytearray: return "bytearray"
        case .set: return "set"
        case .frozenset: return "frozenset"
        case .codecsEncode: return "encode"
        }
    }
}

/// An argument of a reduce CPython writes: a value, or a temporary object CPython creates
/// afresh for the call (so it is memoised but not shared with an equal value, except a
/// one-character Latin-1 string, which CPython caches).
private enum Argument {
    case value(PickleValue)
    case temporaryString(String)
    case temporaryBytes([UInt8])
    case temporaryList([PickleValue])
}

private let frameHeaderSize = 9
private let frameSizeMin = 4
private let frameSizeTarget = 64 * 1024
private let batchSize = 1000

// MARK: - The pickler

private struct Pickler {
    var out: [UInt8] = []
    let version: Int
    var framing = false
    var frameStart = -1
    var memoCount = 0
    var strings = MemoTable<TextKey>()
    var bytesObjects = MemoTable<BytesKey>()
    var callables: [Callable: Int] = [:]

    init(protocol version: Int) {
        self.version = version
    }

    // MARK: Output and framing (CPython's _Pickler_Write / _Pickler_CommitFrame)

    mutating func openFrameIfNeeded() {
        if framing && frameStart < 0 {
            frameStart = out.count
            out.append(contentsOf: repeatElement(0xFE, count: frameHeaderSize))
        }
    }

    mutating func write(_ byte: UInt8) {
        openFrameIfNeeded()
        out.append(byte)
    }

    mutating func write(_ byte: UInt8, _ second: UInt8) {
        openFrameIfNeeded()
        out.append(byte)
        out.append(second)
    }

    mutating func write(_ opcode: UInt8, uint32 value: UInt32) {
        openFrameIfNeeded()
        out.append(opcode)
        appendLittleEndian(UInt64(value), bytes: 4)
    }

    mutating func write(_ opcode: UInt8, uint64 value: UInt64) {
        openFrameIfNeeded()
        out.append(opcode)
        appendLittleEndian(value, bytes: 8)
    }

    mutating func appendLittleEndian(_ value: UInt64, bytes: Int) {
        var value = value
        for _ in 0..<bytes {
            out.append(UInt8(truncatingIfNeeded: value))
            value >>= 8
        }
    }

    mutating func write(_ bytes: UnsafeRawBufferPointer) {
        openFrameIfNeeded()
        out.append(contentsOf: bytes)
    }

    mutating func commitFrame() {
        guard framing && frameStart >= 0 else { return }
        let length = out.count - frameStart - frameHeaderSize
        if length >= frameSizeMin {
            out[frameStart] = 0x95  // FRAME
            var value = UInt64(length)
            for offset in 1...8 {
                out[frameStart + offset] = UInt8(truncatingIfNeeded: value)
                value >>= 8
            }
        } else {
            out.removeSubrange(frameStart..<(frameStart + frameHeaderSize))
        }
        frameStart = -1
    }

    /// CPython closes a frame that reached the target size at the start of each `save()`.
    mutating func opcodeBoundary() {
        if framing && frameStart >= 0 && out.count - frameStart - frameHeaderSize >= frameSizeTarget {
            commitFrame()
        }
    }

    /// A header then a payload; payloads of 64 KiB or more go outside any frame.
    mutating func writeHeader(_ opcode: UInt8, size: Int, sizeBytes: Int, payload: UnsafeRawBufferPointer) {
        let bypass = payload.count >= frameSizeTarget
        let wasFraming = framing
        if bypass {
            commitFrame()
            framing = false
        }
        openFrameIfNeeded()
        out.append(opcode)
        appendLittleEndian(UInt64(size), bytes: sizeBytes)
        out.append(contentsOf: payload)
        framing = wasFraming
    }

    // MARK: Memo

    @discardableResult
    mutating func memoPut() -> Int {
        let index = memoCount
        memoCount += 1
        if version >= 4 {
            write(0x94)  // MEMOIZE
        } else if index < 256 {
            write(0x71, UInt8(index))  // BINPUT
        } else {
            write(0x72, uint32: UInt32(truncatingIfNeeded: index))  // LONG_BINPUT
        }
        return index
    }

    mutating func memoGet(_ index: Int) {
        if index < 256 {
            write(0x68, UInt8(index))  // BINGET
        } else {
            write(0x6A, uint32: UInt32(truncatingIfNeeded: index))  // LONG_BINGET
        }
    }

    // MARK: Entry

    mutating func dump(_ value: PickleValue) {
        write(0x80, UInt8(version))  // PROTO, outside any frame
        if version >= 4 { framing = true }
        save(value)
        write(0x2E)  // STOP
        commitFrame()
        framing = false
    }

    // MARK: Values (CPython's save())

    mutating func save(_ value: PickleValue) {
        opcodeBoundary()
        switch value {
        case .none:
            write(0x4E)
        case .bool(let flag):
            write(flag ? 0x88 : 0x89)
        case .int(let number):
            saveInt(number)
        case .bigInt(let big):
            if let small = big.int64Value {
                saveInt(small)
            } else {
                saveLong(big.littleEndianTwosComplement)
            }
        case .float(let number):
            openFrameIfNeeded()
            out.append(0x47)  // BINFLOAT, big-endian
            let bits = number.bitPattern
            for shift in stride(from: 56, through: 0, by: -8) {
                out.append(UInt8(truncatingIfNeeded: bits >> UInt64(shift)))
            }
        case .string(let text):
            let key = TextKey(text: text)
            if let index = strings.lookup(key) {
                memoGet(index)
            } else {
                saveUnicode(text)
                strings.insert(key, memoPut())
            }
        case .bytes(let bytes):
            let key = BytesKey(bytes: bytes)
            if let index = bytesObjects.lookup(key) {
                memoGet(index)
            } else {
                saveBytesObject(bytes)
                bytesObjects.insert(key, memoCount - 1)
            }
        case .bytearray(let bytes):
            saveBytearray(bytes)
        case .list(let elements):
            write(0x5D)  // EMPTY_LIST
            memoPut()
            saveListItems(elements)
        case .tuple(let elements):
            saveTuple(elements.map(Argument.value))
        case .dict(let pairs):
            write(0x7D)  // EMPTY_DICT
            memoPut()
            saveDictItems(pairs)
        case .set(let elements):
            if version < 4 {
                saveReduce(.set, [.temporaryList(elements)])
                return
            }
            write(0x8F)  // EMPTY_SET
            memoPut()
            saveSetItems(elements)
        case .frozenset(let elements):
            if version < 4 {
                saveReduce(.frozenset, [.temporaryList(elements)])
                return
            }
            write(0x28)  // MARK
            for element in elements { save(element) }
            write(0x91)  // FROZENSET
            memoPut()
        }
    }

    mutating func saveInt(_ number: Int64) {
        if number >= Int64(Int32.min) && number <= Int64(Int32.max) {
            let bits = UInt32(bitPattern: Int32(truncatingIfNeeded: number))
            if bits >> 16 != 0 {
                write(0x4A, uint32: bits)  // BININT (every negative number)
            } else if bits >> 8 != 0 {
                openFrameIfNeeded()
                out.append(0x4D)  // BININT2
                out.append(UInt8(truncatingIfNeeded: bits))
                out.append(UInt8(truncatingIfNeeded: bits >> 8))
            } else {
                write(0x4B, UInt8(bits))  // BININT1
            }
        } else {
            saveLong(PickleBigInt(number).littleEndianTwosComplement)
        }
    }

    mutating func saveLong(_ bytes: [UInt8]) {
        if bytes.count < 256 {
            write(0x8A, UInt8(bytes.count))  // LONG1
        } else {
            write(0x8B, uint32: UInt32(truncatingIfNeeded: bytes.count))  // LONG4
        }
        bytes.withUnsafeBytes { write($0) }
    }

    /// Writes a `str` (without memoising it).
    mutating func saveUnicode(_ text: String) {
        var text = text
        text.withUTF8 { utf8 in
            let payload = UnsafeRawBufferPointer(utf8)
            if payload.count <= 0xFF && version >= 4 {
                writeHeader(0x8C, size: payload.count, sizeBytes: 1, payload: payload)  // SHORT_BINUNICODE
            } else if UInt64(payload.count) <= UInt64(UInt32.max) {
                writeHeader(0x58, size: payload.count, sizeBytes: 4, payload: payload)  // BINUNICODE
            } else {
                writeHeader(0x8D, size: payload.count, sizeBytes: 8, payload: payload)  // BINUNICODE8
            }
        }
    }

    /// Writes and memoises a `bytes` object (CPython's save_bytes).
    mutating func saveBytesObject(_ bytes: [UInt8]) {
        if version < 3 {
            if bytes.isEmpty {
                saveReduce(.bytes, [])
            } else {
                var text = String.UnicodeScalarView()
                text.append(contentsOf: bytes.lazy.map { Unicode.Scalar($0) })
                saveReduce(.codecsEncode, [.temporaryString(String(text)), .value(.string("latin1"))])
            }
            return
        }
        bytes.withUnsafeBytes { payload in
            if payload.count <= 0xFF {
                writeHeader(0x43, size: payload.count, sizeBytes: 1, payload: payload)  // SHORT_BINBYTES
            } else if UInt64(payload.count) <= UInt64(UInt32.max) {
                writeHeader(0x42, size: payload.count, sizeBytes: 4, payload: payload)  // BINBYTES
            } else {
                writeHeader(0x8E, size: payload.count, sizeBytes: 8, payload: payload)  // BINBYTES8
            }
        }
        memoPut()
    }

    mutating func saveBytearray(_ bytes: [UInt8]) {
        if version < 5 {
            saveReduce(.bytearray, bytes.isEmpty ? [] : [.temporaryBytes(bytes)])
            return
        }
        bytes.withUnsafeBytes { payload in
            writeHeader(0x96, size: payload.count, sizeBytes: 8, payload: payload)  // BYTEARRAY8
        }
        memoPut()
    }

    mutating func saveListItems(_ elements: [PickleValue]) {
        if elements.count == 1 {
            save(elements[0])
            write(0x61)  // APPEND
            return
        }
        var total = 0
        while total < elements.count {
            write(0x28)  // MARK
            let end = min(total + batchSize, elements.count)
            while total < end {
                save(elements[total])
                total += 1
            }
            write(0x65)  // APPENDS
        }
    }

    mutating func saveDictItems(_ pairs: [(key: PickleValue, value: PickleValue)]) {
        if pairs.isEmpty { return }
        if pairs.count == 1 {
            save(pairs[0].key)
            save(pairs[0].value)
            write(0x73)  // SETITEM
            return
        }
        var next = 0
        var inBatch: Int
        repeat {  // CPython's loop: a size that is a multiple of 1000 ends with an empty batch
            write(0x28)  // MARK
            inBatch = 0
            while next < pairs.count {
                save(pairs[next].key)
                save(pairs[next].value)
                next += 1
                inBatch += 1
                if inBatch == batchSize { break }
            }
            write(0x75)  // SETITEMS
        } while inBatch == batchSize
    }

    mutating func saveSetItems(_ elements: [PickleValue]) {
        if elements.isEmpty { return }
        var next = 0
        var inBatch: Int
        repeat {
            write(0x28)  // MARK
            inBatch = 0
            while next < elements.count {
                save(elements[next])
                next += 1
                inBatch += 1
                if inBatch == batchSize { break }
            }
            write(0x90)  // ADDITEMS
        } while inBatch == batchSize
    }

    /// A tuple object (a value's, or a reduce's argument tuple, which CPython creates afresh).
    mutating func saveTuple(_ elements: [Argument]) {
        if elements.isEmpty {
            write(0x29)  // EMPTY_TUPLE, never memoised
            return
        }
        if elements.count <= 3 {
            for element in elements { saveArgument(element) }
            write(0x84 + UInt8(elements.count))  // TUPLE1...TUPLE3
        } else {
            write(0x28)  // MARK
            for element in elements { saveArgument(element) }
            write(0x74)  // TUPLE
        }
        memoPut()
    }

    mutating func saveArgument(_ argument: Argument) {
        switch argument {
        case .value(let value):
            save(value)
        case .temporaryString(let text):
            // Fresh, except that CPython hands out a cached object for one Latin-1 character,
            // the same object its unpickler returns for such a string.
            opcodeBoundary()
            let scalars = text.unicodeScalars
            let isSingleton = scalars.count == 1 && scalars.first!.value < 256
            let key = TextKey(text: text)
            if isSingleton, let index = strings.lookup(key) {
                memoGet(index)
            } else {
                saveUnicode(text)
                let index = memoPut()
                if isSingleton { strings.insert(key, index) }
            }
        case .temporaryBytes(let bytes):
            opcodeBoundary()
            saveBytesObject(bytes)
        case .temporaryList(let elements):
            opcodeBoundary()
            write(0x5D)  // EMPTY_LIST
            memoPut()
            saveListItems(elements)
        }
    }

    /// `callable(*arguments)` then memoising the result (CPython's save_reduce with obj).
    mutating func saveReduce(_ callable: Callable, _ arguments: [Argument]) {
        opcodeBoundary()  // save(callable)
        if let index = callables[callable] {
            memoGet(index)
        } else {
            if version >= 4 {
                save(.string(callable.module(protocol: version)))
                save(.string(callable.name))
                write(0x93)  // STACK_GLOBAL
            } else {
                write(0x63)  // GLOBAL
                for part in [callable.module(protocol: version), callable.name] {
                    var part = part
                    part.withUTF8 { write(UnsafeRawBufferPointer($0)) }
                    write(0x0A)
                }
            }
            callables[callable] = memoPut()
        }
        opcodeBoundary()  // save(argument tuple)
        saveTuple(arguments)
        write(0x52)  // REDUCE
        memoPut()
    }
}
