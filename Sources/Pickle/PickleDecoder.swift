/// Decodes Python pickles that contain only plain data into a ``PickleValue``.
///
/// ## Why a restricted decoder
/// A pickle is a program for a small stack machine, and its `GLOBAL`/`STACK_GLOBAL` + `REDUCE`
/// (and `BUILD`, `INST`, `OBJ`, `NEWOBJ`, `NEWOBJ_EX`, `EXT*`, `PERSID`) opcodes import and call
/// arbitrary Python callables: `pickle.loads` of untrusted bytes is remote code execution. This
/// decoder never imports or calls anything. It runs only the data opcodes of protocols 0-5:
/// `PROTO FRAME STOP MARK POP POP_MARK DUP NONE NEWTRUE NEWFALSE INT BININT BININT1 BININT2 LONG
/// LONG1 LONG4 FLOAT BINFLOAT STRING BINSTRING SHORT_BINSTRING UNICODE BINUNICODE
/// SHORT_BINUNICODE BINUNICODE8 BINBYTES SHORT_BINBYTES BINBYTES8 BYTEARRAY8 EMPTY_LIST APPEND
/// APPENDS LIST EMPTY_TUPLE TUPLE TUPLE1 TUPLE2 TUPLE3 EMPTY_DICT DICT SETITEM SETITEMS EMPTY_SET
/// ADDITEMS FROZENSET PUT BINPUT LONG_BINPUT GET BINGET LONG_BINGET MEMOIZE`, and refuses every
/// other byte with a ``PickleError`` naming the opcode and its offset.
///
/// ### The one exception: CPython's own spellings of builtin data types
/// CPython has no opcode for some plain data and spells it as a call of a builtin type:
/// `bytearray` below protocol 5 is `builtins.bytearray(b'…')`, `bytes` below protocol 3 is
/// `_codecs.encode('…', 'latin1')` (or `builtins.bytes()` when empty) and sets below protocol 4
/// are `builtins.set([...])` / `builtins.frozenset([...])`. So, unless
/// ``Options/allowsBuiltinConstructors`` is turned off, `GLOBAL`/`STACK_GLOBAL` may name exactly
/// `builtins`/`__builtin__` `.bytes`, `.bytearray`, `.set`, `.frozenset` and `_codecs.encode`,
/// and `REDUCE` may apply one of them to the argument shapes CPython writes. These are
/// interpreted as data (nothing is looked up or called); any other global, e.g. `posix.system`,
/// is refused at the `GLOBAL`/`STACK_GLOBAL` opcode.
///
/// ## Decisions
/// - **Shared references.** Python's memo (`PUT`/`GET`/`MEMOIZE`) shares *objects*: a list put in
///   the memo and then extended by `APPENDS` is the same list wherever it was fetched with `GET`.
///   The decoder keeps every mutable container (list, dict, set, and tuples holding one) in an
///   arena and lets the stack and the memo hold indices into it; the value tree is materialised
///   at `STOP`, so later mutation is visible through every reference, as in Python. Recursive
///   structures (a list containing itself) cannot be a value and are refused.
/// - **Python 2 `str`** (`STRING`, `BINSTRING`, `SHORT_BINSTRING`) decodes as Python 3's
///   `pickle.loads` does by default (`encoding="ASCII"`): an ASCII ``PickleValue/string(_:)``,
///   and an error if a byte is not ASCII. ``Options/py2Strings`` offers Python's other choices
///   (`latin1`, `utf-8`, `bytes`).
/// - **Sets** (`EMPTY_SET`/`ADDITEMS`/`FROZENSET`, and `set([...])` below protocol 4) decode to
///   ``PickleValue/set(_:)`` / ``PickleValue/frozenset(_:)`` in pickled order, so they round-trip.
/// - **Dict keys and set elements** must be hashable in Python's sense (no list, dict, set or
///   bytearray, also inside a tuple); duplicate keys keep the first position and the last value,
///   as Python does. Keys are compared by ``PickleValue`` equality, so unlike Python `1`, `1.0`
///   and `True` are three keys (CPython never writes such a dict).
/// - **Stricter than CPython where CPython's pickler never goes**: bytes after `STOP`, items or
///   marks left on the stack at `STOP`, lone surrogates in strings (Swift strings cannot hold
///   them), `INT`/`LONG` text other than plain decimal, and more than 4300 decimal digits (CPython's
///   own default `int()` limit) are errors. `FRAME` is checked as CPython's C unpickler does it:
///   its length must fit in the remaining input.
/// - **Resource limits**: no allocation is sized by a length field before that length is checked
///   against the remaining input; nesting is limited by ``Options/maxDepth`` (default 1000, which
///   is also the depth CPython can pickle) and the size of the value *with shared references
///   expanded* by ``Options/maxValueCount`` (memo `GET`s can otherwise describe exponentially
///   large trees in a few bytes); the time spent hashing dict keys and set elements is bounded
///   by the input size (32 units per input byte plus 65,536, a unit being one value hashed or
///   32 payload bytes of one), so a huge memoised key cannot be reused cheaply many times and
///   deeply nested sets cannot hash every level below each level. The decoder
///   never traps on any input.
public enum PickleDecoder {
    /// How Python 2 `str` objects (`STRING`, `BINSTRING`, `SHORT_BINSTRING`) are decoded; the
    /// cases mirror `pickle.loads(…, encoding=…)`.
    public enum Py2StringDecoding: Hashable, Sendable {
        /// ``PickleValue/string(_:)`` when every byte is ASCII, otherwise an error (Python's default).
        case ascii
        /// ``PickleValue/string(_:)``, each byte one code point.
        case latin1
        /// ``PickleValue/string(_:)`` when the bytes are valid UTF-8, otherwise an error.
        case utf8
        /// ``PickleValue/bytes(_:)`` (Python's `encoding="bytes"`).
        case bytes
    }

    /// Limits and choices for decoding.
    public struct Options: Hashable, Sendable {
        /// Deepest container nesting accepted (a flat list is depth 1). Code that walks a
        /// ``PickleValue`` (equality, encoding, `description`, even its deallocation) recurses
        /// once per level, so raising this far beyond the default risks stack overflow there.
        public var maxDepth: Int
        /// Most values (every scalar and container counts one) in the decoded tree, counting
        /// a shared reference once per place it appears.
        public var maxValueCount: Int
        /// How Python 2 `str` objects are decoded.
        public var py2Strings: Py2StringDecoding
        /// Whether CPython's spellings of `bytes`, `bytearray`, `set` and `frozenset` through
        /// `GLOBAL` + `REDUCE` are accepted (see ``PickleDecoder``). When `false`, every
        /// `GLOBAL`, `STACK_GLOBAL` and `REDUCE` is refused.
        public var allowsBuiltinConstructors: Bool

        public init(
            maxDepth: Int = 1000,
            maxValueCount: Int = 10_000_000,
            py2Strings: Py2StringDecoding = .ascii,
            allowsBuiltinConstructors: Bool = true
        ) {
            self.maxDepth = maxDepth
            self.maxValueCount = maxValueCount
            self.py2Strings = py2Strings
            self.allowsBuiltinConstructors = allowsBuiltinConstructors
        }
    }

    /// Decodes one pickle that must span the whole buffer.
    public static func decode(
        _ buffer: UnsafeRawBufferPointer, options: Options = Options()
    ) throws(PickleError) -> PickleValue {
        var machine = Unpickler(input: buffer, options: options)
        return try machine.run()
    }

    /// Decodes one pickle that must span the whole collection (`[UInt8]`, `ArraySlice<UInt8>`,
    /// …). Contiguous collections are read in place; others are copied once.
    public static func decode(
        _ bytes: some Collection<UInt8>, options: Options = Options()
    ) throws(PickleError) -> PickleValue {
        let result: Result<PickleValue, PickleError>? = bytes.withContiguousStorageIfAvailable {
            buffer in
            Result { () throws(PickleError) -> PickleValue in
                try decode(UnsafeRawBufferPointer(buffer), options: options)
            }
        }
        if let result { return try result.get() }
        let copy = Array(bytes)
        let copied = copy.withUnsafeBytes { buffer in
            Result { () throws(PickleError) -> PickleValue in
                try decode(buffer, options: options)
            }
        }
        return try copied.get()
    }
}

// MARK: - The machine

/// What the decoder tracks about a final value without walking it again: nesting depth (a
/// scalar is 0), size with shared references expanded (a scalar is 1), the work hashing or
/// comparing it costs (about one unit per value and per 32 payload bytes) and whether Python
/// could hash it.
private struct Shape {
    var depth: Int
    var count: Int
    var cost: Int
    var hashable: Bool

    static let scalar = Shape(depth: 0, count: 1, cost: 1, hashable: true)
    static let emptyContainer = Shape(depth: 1, count: 1, cost: 1, hashable: true)

    static func of(scalar value: PickleValue) -> Shape {
        switch value {
        case .string(let text): return Shape(depth: 0, count: 1, cost: 1 + text.utf8.count / 32, hashable: true)
        case .bytes(let bytes): return Shape(depth: 0, count: 1, cost: 1 + bytes.count / 32, hashable: true)
        case .bytearray(let bytes): return Shape(depth: 0, count: 1, cost: 1 + bytes.count / 32, hashable: false)
        case .bigInt(let big):
            return Shape(depth: 0, count: 1, cost: 1 + big.littleEndianTwosComplement.count / 32, hashable: true)
        default: return .scalar
        }
    }

    /// Adds a child's shape into a container's running total (saturating).
    mutating func absorb(_ child: Shape) {
        depth = max(depth, child.depth + 1)
        count = min(count &+ child.count, Int.max / 4)
        cost = min(cost &+ child.cost, Int.max / 4)
        hashable = hashable && child.hashable
    }
}

/// The builtin data constructors a `GLOBAL` may name (see ``PickleDecoder``).
private enum BuiltinConstructor {
    case bytes, bytearray, set, frozenset, codecsEncode

    var pythonName: String {
        switch self {
        case .bytes: return "bytes"
        case .bytearray: return "bytearray"
        case .set: return "set"
        case .frozenset: return "frozenset"
        case .codecsEncode: return "_codecs.encode"
        }
    }
}

/// What the stack and the memo hold.
private enum Item {
    /// An immutable value, already final (scalars, and tuples/frozensets of such values).
    case value(PickleValue, Shape)
    /// A container in the arena, which may still change (list, dict, set, tuple holding one).
    case node(Int)
    /// A reference to an allowed builtin constructor, only meaningful as `REDUCE`'s callable.
    case constructor(BuiltinConstructor)
}

private enum NodeKind {
    case list, tuple, dict, set
}

private struct Node {
    var kind: NodeKind
    /// Elements; for a dict, keys and values interleaved (keys are always `.value`).
    var items: [Item]
    /// Key → element position, built once a dict or set grows past a few entries.
    var index: [PickleValue: Int]?
}

private let indexThreshold = 8
/// CPython's default `sys.get_int_max_str_digits()`.
private let maxDecimalDigits = 4300

private struct Unpickler {
    let input: UnsafeRawBufferPointer
    let options: PickleDecoder.Options
    var position = 0
    var opcodeStart = 0
    var opcode = PickleOpcode.stop
    var stack: [Item] = []
    var marks: [Int] = []
    var arena: [Node] = []
    var memoDense: [Item?] = []
    var memoSparse: [UInt64: Item] = [:]
    var memoCount: UInt64 = 0
    var keyWork = 0
    let keyWorkBudget: Int

    /// Key work every input may spend whatever its size (a unit is one value hashed or
    /// compared, or 32 payload bytes of one).
    static let keyWorkAllowance = 65_536

    init(input: UnsafeRawBufferPointer, options: PickleDecoder.Options) {
        self.input = input
        self.options = options
        // Proportional to the input alone. It used to add `maxValueCount` (10 million units, about
        // a second of hashing), so that a 2 KiB pickle of frozensets nested a thousand deep,
        // each level hashing every level below it, cost 0.4 s to decode (found by Fuzz/).
        self.keyWorkBudget = min(input.count, Int.max / 64) * 32 + Self.keyWorkAllowance
    }

    // MARK: Errors

    func error(_ kind: PickleError.Kind) -> PickleError {
        PickleError(kind, offset: opcodeStart, opcode: opcode)
    }

    // MARK: Reading

    var remaining: Int { input.count - position }

    mutating func take(_ count: Int) throws(PickleError) -> UnsafeRawBufferPointer {
        guard count <= remaining else { throw error(.truncated) }
        let slice = UnsafeRawBufferPointer(rebasing: input[position..<(position + count)])
        position += count
        return slice
    }

    /// Takes `length` bytes named by a length field, refusing lengths beyond the input.
    mutating func takeLength(_ length: UInt64) throws(PickleError) -> UnsafeRawBufferPointer {
        guard length <= UInt64(remaining) else {
            throw error(.lengthExceedsInput(length: length, remaining: remaining))
        }
        return try take(Int(length))
    }

    mutating func readUInt8() throws(PickleError) -> UInt8 {
        guard position < input.count else { throw error(.truncated) }
        defer { position += 1 }
        return input[position]
    }

    mutating func readUInt16() throws(PickleError) -> UInt16 {
        let bytes = try take(2)
        return UInt16(littleEndian: bytes.loadUnaligned(as: UInt16.self))
    }

    mutating func readUInt32() throws(PickleError) -> UInt32 {
        let bytes = try take(4)
        return UInt32(littleEndian: bytes.loadUnaligned(as: UInt32.self))
    }

    mutating func readUInt64() throws(PickleError) -> UInt64 {
        let bytes = try take(8)
        return UInt64(littleEndian: bytes.loadUnaligned(as: UInt64.self))
    }

    /// A protocol 0 text argument: the bytes up to (not including) the next newline.
    mutating func readLine() throws(PickleError) -> UnsafeRawBufferPointer {
        var end = position
        while end < input.count && input[end] != 0x0A { end += 1 }
        guard end < input.count else { throw error(.truncated) }
        let line = UnsafeRawBufferPointer(rebasing: input[position..<end])
        position = end + 1
        return line
    }

    func utf8String(_ bytes: UnsafeRawBufferPointer) throws(PickleError) -> String {
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw error(.invalidUTF8)
        }
        return text
    }

    // MARK: Stack

    var fence: Int { marks.last ?? 0 }

    mutating func push(_ value: PickleValue) {
        stack.append(.value(value, Shape.of(scalar: value)))
    }

    mutating func pushNode(_ kind: NodeKind, _ items: [Item] = []) {
        arena.append(Node(kind: kind, items: items, index: nil))
        stack.append(.node(arena.count - 1))
    }

    mutating func pop() throws(PickleError) -> Item {
        guard stack.count > fence else { throw error(.stackUnderflow) }
        return stack.removeLast()
    }

    func top() throws(PickleError) -> Item {
        guard stack.count > fence, let item = stack.last else { throw error(.stackUnderflow) }
        return item
    }

    /// Pops the innermost mark and returns the stack position it recorded.
    mutating func popMark() throws(PickleError) -> Int {
        guard let mark = marks.popLast() else { throw error(.missingMark) }
        return mark
    }

    // MARK: Building values

    func checked(_ shape: Shape) throws(PickleError) -> Shape {
        guard shape.depth <= options.maxDepth else {
            throw error(.nestingTooDeep(limit: options.maxDepth))
        }
        guard shape.count <= options.maxValueCount else {
            throw error(.tooManyValues(limit: options.maxValueCount))
        }
        return shape
    }

    /// The shape of a tuple holding `items`, if they are all final values.
    func containerShape(_ items: ArraySlice<Item>) throws(PickleError) -> Shape? {
        var shape = Shape.emptyContainer
        for item in items {
            guard case .value(_, let itemShape) = item else { return nil }
            shape.absorb(itemShape)
        }
        return try checked(shape)
    }

    mutating func makeTuple(from start: Int) throws(PickleError) {
        let items = stack[start...]
        if let shape = try containerShape(items) {
            let values = items.map { item -> PickleValue in
                if case .value(let value, _) = item { return value }
                return .none  // unreachable: containerShape checked every item
            }
            stack.removeSubrange(start...)
            stack.append(.value(.tuple(values), shape))
        } else {
            let nodeItems = Array(items)
            stack.removeSubrange(start...)
            pushNode(.tuple, nodeItems)
        }
    }

    /// The item as a dict key or set element, with its shape.
    func hashableKey(_ item: Item) throws(PickleError) -> (PickleValue, Shape) {
        switch item {
        case .value(let value, let shape):
            guard shape.hashable else { throw error(.unhashableKey) }
            return (value, shape)
        case .node:
            throw error(.unhashableKey)  // lists, dicts, sets, and tuples that hold one
        case .constructor(let constructor):
            throw error(.unsupportedValue("the class '\(constructor.pythonName)' cannot be a key"))
        }
    }

    /// Adds a key (and for a dict, a value) to a dict or set node, replacing the value of an
    /// existing key in place as Python does.
    mutating func insert(into node: Int, key: Item, value: Item?) throws(PickleError) {
        let (keyValue, keyShape) = try hashableKey(key)
        let stride = value == nil ? 1 : 2
        var found: Int?
        if let index = arena[node].index {
            try charge(keyShape.cost)
            found = index[keyValue]
        } else {
            try charge(keyShape.cost &* max(1, arena[node].items.count / stride))
            var position = 0
            while position < arena[node].items.count {
                if case .value(let existing, _) = arena[node].items[position], existing == keyValue {
                    found = position
                    break
                }
                position += stride
            }
        }
        if let found {
            if let value { arena[node].items[found + 1] = value }
            return
        }
        let position = arena[node].items.count
        arena[node].items.append(key)
        if let value { arena[node].items.append(value) }
        if arena[node].index != nil {
            arena[node].index![keyValue] = position
        } else if position / stride >= indexThreshold {
            var index: [PickleValue: Int] = [:]
            var at = 0
            while at < arena[node].items.count {
                if case .value(let existing, _) = arena[node].items[at] { index[existing] = at }
                at += stride
            }
            arena[node].index = index
        }
    }

    /// The node index of a container of `kind` at `item`, or a type error naming `what`.
    func node(_ item: Item, _ kind: NodeKind, _ what: String) throws(PickleError) -> Int {
        if case .node(let index) = item, arena[index].kind == kind { return index }
        throw error(.typeMismatch("\(opcode.name) needs a \(what) below its items"))
    }

    /// Accounts for hashing and comparing keys, which costs time proportional to their size:
    /// without a budget, a huge memoised key fetched by many two-byte `GET`s would cost
    /// quadratic time.
    mutating func charge(_ cost: Int) throws(PickleError) {
        keyWork = min(keyWork &+ cost, Int.max / 2)
        guard keyWork <= keyWorkBudget else { throw error(.hashingBudgetExceeded) }
    }

    // MARK: Memo

    mutating func memoPut(_ index: UInt64, _ item: Item) {
        if index < UInt64(memoDense.count) {
            let slot = Int(index)
            if memoDense[slot] == nil { memoCount += 1 }
            memoDense[slot] = item
        } else if index == UInt64(memoDense.count) {
            if memoSparse.removeValue(forKey: index) == nil { memoCount += 1 }
            memoDense.append(item)
            while !memoSparse.isEmpty,
                let next = memoSparse.removeValue(forKey: UInt64(memoDense.count))
            {
                memoDense.append(next)
            }
        } else if memoSparse.updateValue(item, forKey: index) == nil {
            memoCount += 1
        }
    }

    func memoGet(_ index: UInt64) throws(PickleError) -> Item {
        if index < UInt64(memoDense.count), let item = memoDense[Int(index)] { return item }
        if let item = memoSparse[index] { return item }
        throw error(.memoKeyNotFound(index))
    }

    // MARK: Text arguments (protocol 0)

    /// An optionally signed decimal integer, as `INT`/`LONG` write it.
    func parseDecimal(_ line: UnsafeRawBufferPointer) throws(PickleError) -> PickleValue {
        let digits = line.count - ((line.first == UInt8(ascii: "-") || line.first == UInt8(ascii: "+")) ? 1 : 0)
        guard digits > 0, digits <= maxDecimalDigits,
            let text = String(validating: line, as: UTF8.self),
            let big = PickleBigInt(decimal: text)
        else {
            throw error(.invalidArgument("\(opcode.name) argument is not a decimal integer "
                + "of at most \(maxDecimalDigits) digits"))
        }
        if let small = big.int64Value { return .int(small) }
        return .bigInt(big)
    }

    func parseMemoIndex(_ line: UnsafeRawBufferPointer) throws(PickleError) -> UInt64 {
        guard !line.isEmpty, line.count <= 20 else { throw error(.invalidMemoIndex) }
        var value: UInt64 = 0
        for byte in line {
            guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") else {
                throw error(.invalidMemoIndex)
            }
            let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(UInt64(byte - UInt8(ascii: "0")))
            guard !overflow1 && !overflow2 else { throw error(.invalidMemoIndex) }
            value = sum
        }
        return value
    }

    /// `STRING`'s argument: a quoted Python 2 string literal with backslash escapes.
    func unescapeQuoted(_ line: UnsafeRawBufferPointer) throws(PickleError) -> [UInt8] {
        guard line.count >= 2, let quote = line.first, quote == line.last,
            quote == UInt8(ascii: "'") || quote == UInt8(ascii: "\"")
        else {
            throw error(.invalidArgument("the STRING opcode argument must be quoted"))
        }
        let body = UnsafeRawBufferPointer(rebasing: line[1..<(line.count - 1)])
        var out: [UInt8] = []
        out.reserveCapacity(body.count)
        var index = 0
        func hexValue(_ byte: UInt8) -> UInt8? {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
            default: return nil
            }
        }
        while index < body.count {
            let byte = body[index]
            index += 1
            guard byte == UInt8(ascii: "\\") else {
                out.append(byte)
                continue
            }
            guard index < body.count else {
                throw error(.invalidArgument("trailing \\ in STRING argument"))
            }
            let escape = body[index]
            index += 1
            switch escape {
            case 0x0A: break  // line continuation
            case UInt8(ascii: "\\"), UInt8(ascii: "'"), UInt8(ascii: "\""): out.append(escape)
            case UInt8(ascii: "a"): out.append(0x07)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "v"): out.append(0x0B)
            case UInt8(ascii: "0")...UInt8(ascii: "7"):
                var value = UInt32(escape - UInt8(ascii: "0"))
                var digits = 1
                while digits < 3, index < body.count,
                    body[index] >= UInt8(ascii: "0"), body[index] <= UInt8(ascii: "7")
                {
                    value = value * 8 + UInt32(body[index] - UInt8(ascii: "0"))
                    index += 1
                    digits += 1
                }
                out.append(UInt8(truncatingIfNeeded: value))
            case UInt8(ascii: "x"):
                guard index + 1 < body.count, let high = hexValue(body[index]),
                    let low = hexValue(body[index + 1])
                else {
                    throw error(.invalidArgument("invalid \\x escape in STRING argument"))
                }
                out.append(high << 4 | low)
                index += 2
            default:
                // Python keeps unknown escapes as they are.
                out.append(UInt8(ascii: "\\"))
                index -= 1
            }
        }
        return out
    }

    /// `UNICODE`'s argument: `raw-unicode-escape` (Latin-1 plus `\uXXXX` / `\UXXXXXXXX`).
    func rawUnicodeEscape(_ line: UnsafeRawBufferPointer) throws(PickleError) -> String {
        var scalars = String.UnicodeScalarView()
        var index = 0
        while index < line.count {
            let byte = line[index]
            index += 1
            guard byte == UInt8(ascii: "\\"), index < line.count else {
                scalars.append(Unicode.Scalar(byte))
                continue
            }
            let next = line[index]
            index += 1
            guard next == UInt8(ascii: "u") || next == UInt8(ascii: "U") else {
                scalars.append("\\")
                scalars.append(Unicode.Scalar(next))
                continue
            }
            let digits = next == UInt8(ascii: "u") ? 4 : 8
            guard index + digits <= line.count else {
                throw error(.invalidArgument("truncated \\u escape in UNICODE argument"))
            }
            var value: UInt32 = 0
            for offset in 0..<digits {
                let digit = line[index + offset]
                let nibble: UInt32
                switch digit {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): nibble = UInt32(digit - UInt8(ascii: "0"))
                case UInt8(ascii: "a")...UInt8(ascii: "f"): nibble = UInt32(digit - UInt8(ascii: "a") + 10)
                case UInt8(ascii: "A")...UInt8(ascii: "F"): nibble = UInt32(digit - UInt8(ascii: "A") + 10)
                default: throw error(.invalidArgument("truncated \\u escape in UNICODE argument"))
                }
                value = value << 4 | nibble
            }
            index += digits
            guard let scalar = Unicode.Scalar(value) else {
                throw error(.invalidUTF8)  // a lone surrogate or beyond U+10FFFF
            }
            scalars.append(scalar)
        }
        return String(scalars)
    }

    /// A Python 2 `str`, decoded as ``PickleDecoder/Options/py2Strings`` says.
    func py2String(_ bytes: some Collection<UInt8>) throws(PickleError) -> PickleValue {
        switch options.py2Strings {
        case .bytes:
            return .bytes(Array(bytes))
        case .ascii:
            guard bytes.allSatisfy({ $0 < 0x80 }) else {
                throw error(.invalidArgument("Python 2 str is not ASCII (Python's default "
                    + "encoding='ASCII'); see PickleDecoder.Options.py2Strings"))
            }
            return .string(String(decoding: bytes, as: UTF8.self))
        case .latin1:
            var text = String.UnicodeScalarView()
            text.append(contentsOf: bytes.lazy.map { Unicode.Scalar($0) })
            return .string(String(text))
        case .utf8:
            guard let text = String(validating: bytes, as: UTF8.self) else {
                throw error(.invalidUTF8)
            }
            return .string(text)
        }
    }

    // MARK: Builtin constructors

    mutating func resolveGlobal(module: String, name: String) throws(PickleError) -> Item {
        let constructor: BuiltinConstructor?
        switch (module, name) {
        case ("builtins", "bytes"), ("__builtin__", "bytes"): constructor = .bytes
        case ("builtins", "bytearray"), ("__builtin__", "bytearray"): constructor = .bytearray
        case ("builtins", "set"), ("__builtin__", "set"): constructor = .set
        case ("builtins", "frozenset"), ("__builtin__", "frozenset"): constructor = .frozenset
        case ("_codecs", "encode"): constructor = .codecsEncode
        default: constructor = nil
        }
        guard let constructor else { throw error(.forbiddenGlobal(module: module, name: name)) }
        return .constructor(constructor)
    }

    func latin1Bytes(_ text: String) throws(PickleError) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            guard scalar.value <= 0xFF else {
                throw error(.invalidReduce("string has a character beyond Latin-1"))
            }
            bytes.append(UInt8(scalar.value))
        }
        return bytes
    }


    mutating func reduce() throws(PickleError) {
        guard stack.count - fence >= 2 else { throw error(.stackUnderflow) }
        let argumentsItem = stack.removeLast()
        let callable = stack.removeLast()
        guard case .constructor(let constructor) = callable else {
            throw error(.invalidReduce("the callable is not bytes, bytearray, set, frozenset "
                + "or _codecs.encode"))
        }
        // Arguments that are final values are only inspected as str/bytes (scalars), so the
        // per-element shape is not needed; a list argument is a node, with exact shapes.
        let arguments: [Item]
        switch argumentsItem {
        case .value(.tuple(let values), _): arguments = values.map { Item.value($0, .scalar) }
        case .node(let index) where arena[index].kind == .tuple: arguments = arena[index].items
        default: throw error(.invalidReduce("the arguments are not a tuple"))
        }
        func string(_ item: Item) -> String? {
            if case .value(.string(let text), _) = item { return text }
            return nil
        }
        let isLatin1Name = { (name: String?) in name == "latin1" || name == "latin-1" }
        switch (constructor, arguments.count) {
        case (.bytes, 0):
            push(.bytes([]))
        case (.codecsEncode, 2) where string(arguments[0]) != nil && isLatin1Name(string(arguments[1])):
            push(.bytes(try latin1Bytes(string(arguments[0])!)))
        case (.bytearray, 0):
            push(.bytearray([]))
        case (.bytearray, 1):
            guard case .value(.bytes(let bytes), _) = arguments[0] else {
                throw error(.invalidReduce("bytearray(x) needs bytes"))
            }
            push(.bytearray(bytes))
        case (.bytearray, 2) where string(arguments[0]) != nil && isLatin1Name(string(arguments[1])):
            push(.bytearray(try latin1Bytes(string(arguments[0])!)))
        case (.set, 0):
            pushNode(.set)
        case (.frozenset, 0):
            stack.append(.value(.frozenset([]), .emptyContainer))
        case (.set, 1), (.frozenset, 1):
            // CPython writes `set(list)`; the list is a node whose items have exact shapes.
            guard case .node(let list) = arguments[0], arena[list].kind == .list else {
                throw error(.invalidReduce("\(constructor.pythonName)(x) needs a list"))
            }
            let items = arena[list].items
            pushNode(.set)
            let setNode = arena.count - 1
            for item in items { try insert(into: setNode, key: item, value: nil) }
            if constructor == .frozenset {
                stack.removeLast()
                let elements = arena[setNode].items
                arena.removeLast()
                try pushFrozenSet(elements[...])
            }
        default:
            throw error(.invalidReduce("\(constructor.pythonName) with \(arguments.count) "
                + "argument(s) of these types is not a pattern CPython writes"))
        }
    }

    mutating func pushFrozenSet(_ items: ArraySlice<Item>) throws(PickleError) {
        var unique: [PickleValue] = []
        var shape = Shape.emptyContainer
        var seen = Set<PickleValue>()
        for item in items {
            let (key, keyShape) = try hashableKey(item)
            try charge(keyShape.cost)
            guard seen.insert(key).inserted else { continue }
            shape.absorb(keyShape)
            unique.append(key)
        }
        stack.append(.value(.frozenset(unique), try checked(shape)))
    }

    // MARK: The loop

    mutating func run() throws(PickleError) -> PickleValue {
        while true {
            opcodeStart = position
            guard position < input.count else {
                opcode = .stop
                throw error(.truncated)
            }
            opcode = PickleOpcode(rawValue: input[position])
            position += 1
            switch opcode.rawValue {
            case 0x80:  // PROTO
                let version = try readUInt8()
                guard version <= 5 else { throw error(.unsupportedProtocol(Int(version))) }
            case 0x95:  // FRAME
                let length = try readUInt64()
                guard length <= UInt64(remaining) else {
                    throw error(.lengthExceedsInput(length: length, remaining: remaining))
                }
            case 0x2E:  // STOP
                return try finish()
            case 0x28:  // MARK
                marks.append(stack.count)
            case 0x30:  // POP
                if let mark = marks.last, mark == stack.count {
                    marks.removeLast()
                } else {
                    _ = try pop()
                }
            case 0x31:  // POP_MARK
                let mark = try popMark()
                stack.removeSubrange(mark...)
            case 0x32:  // DUP
                stack.append(try top())

            // Scalars
            case 0x4E:  // NONE
                push(.none)
            case 0x88:  // NEWTRUE
                push(.bool(true))
            case 0x89:  // NEWFALSE
                push(.bool(false))
            case 0x49:  // INT
                let line = try readLine()
                if line.count == 2 && line[0] == UInt8(ascii: "0")
                    && (line[1] == UInt8(ascii: "0") || line[1] == UInt8(ascii: "1"))
                {
                    push(.bool(line[1] == UInt8(ascii: "1")))
                } else {
                    push(try parseDecimal(line))
                }
            case 0x4A:  // BININT
                push(.int(Int64(Int32(bitPattern: try readUInt32()))))
            case 0x4B:  // BININT1
                push(.int(Int64(try readUInt8())))
            case 0x4D:  // BININT2
                push(.int(Int64(try readUInt16())))
            case 0x4C:  // LONG
                var line = try readLine()
                if line.last == UInt8(ascii: "L") {
                    line = UnsafeRawBufferPointer(rebasing: line[0..<(line.count - 1)])
                }
                push(try parseDecimal(line))
            case 0x8A:  // LONG1
                let length = try readUInt8()
                pushLong(try takeLength(UInt64(length)))
            case 0x8B:  // LONG4
                let length = Int32(bitPattern: try readUInt32())
                guard length >= 0 else {
                    throw error(.invalidArgument("LONG4 has a negative byte count"))
                }
                pushLong(try takeLength(UInt64(length)))
            case 0x46:  // FLOAT
                let line = try readLine()
                guard let text = String(validating: line, as: UTF8.self), let value = Double(text)
                else {
                    throw error(.invalidArgument("FLOAT argument is not a number"))
                }
                push(.float(value))
            case 0x47:  // BINFLOAT
                let bytes = try take(8)
                push(.float(Double(bitPattern: UInt64(bigEndian: bytes.loadUnaligned(as: UInt64.self)))))

            // Strings and bytes
            case 0x53:  // STRING
                push(try py2String(unescapeQuoted(try readLine())))
            case 0x54:  // BINSTRING
                let length = Int32(bitPattern: try readUInt32())
                guard length >= 0 else {
                    throw error(.invalidArgument("BINSTRING has a negative byte count"))
                }
                push(try py2String(try takeLength(UInt64(length))))
            case 0x55:  // SHORT_BINSTRING
                let length = try readUInt8()
                push(try py2String(try takeLength(UInt64(length))))
            case 0x56:  // UNICODE
                push(.string(try rawUnicodeEscape(try readLine())))
            case 0x58:  // BINUNICODE
                let length = try readUInt32()
                push(.string(try utf8String(try takeLength(UInt64(length)))))
            case 0x8C:  // SHORT_BINUNICODE
                let length = try readUInt8()
                push(.string(try utf8String(try takeLength(UInt64(length)))))
            case 0x8D:  // BINUNICODE8
                let length = try readUInt64()
                push(.string(try utf8String(try takeLength(length))))
            case 0x42:  // BINBYTES
                let length = try readUInt32()
                push(.bytes(Array(try takeLength(UInt64(length)))))
            case 0x43:  // SHORT_BINBYTES
                let length = try readUInt8()
                push(.bytes(Array(try takeLength(UInt64(length)))))
            case 0x8E:  // BINBYTES8
                let length = try readUInt64()
                push(.bytes(Array(try takeLength(length))))
            case 0x96:  // BYTEARRAY8
                let length = try readUInt64()
                push(.bytearray(Array(try takeLength(length))))

            // Lists
            case 0x5D:  // EMPTY_LIST
                pushNode(.list)
            case 0x61:  // APPEND
                guard stack.count - 1 > fence else { throw error(.stackUnderflow) }
                let list = try node(stack[stack.count - 2], .list, "list")
                arena[list].items.append(stack.removeLast())
            case 0x65:  // APPENDS
                let mark = try popMark()
                guard mark > fence, mark <= stack.count else { throw error(.stackUnderflow) }
                let list = try node(stack[mark - 1], .list, "list")
                arena[list].items.append(contentsOf: stack[mark...])
                stack.removeSubrange(mark...)
            case 0x6C:  // LIST
                let mark = try popMark()
                let items = Array(stack[mark...])
                stack.removeSubrange(mark...)
                pushNode(.list, items)

            // Tuples
            case 0x29:  // EMPTY_TUPLE
                stack.append(.value(.tuple([]), .emptyContainer))
            case 0x74:  // TUPLE
                try makeTuple(from: try popMark())
            case 0x85, 0x86, 0x87:  // TUPLE1, TUPLE2, TUPLE3
                let count = Int(opcode.rawValue - 0x84)
                guard stack.count - count >= fence else { throw error(.stackUnderflow) }
                try makeTuple(from: stack.count - count)

            // Dicts
            case 0x7D:  // EMPTY_DICT
                pushNode(.dict)
            case 0x64:  // DICT
                let mark = try popMark()
                guard (stack.count - mark) % 2 == 0 else {
                    throw error(.typeMismatch("odd number of items for DICT"))
                }
                let items = Array(stack[mark...])
                stack.removeSubrange(mark...)
                pushNode(.dict)
                let dict = arena.count - 1
                var at = 0
                while at < items.count {
                    try insert(into: dict, key: items[at], value: items[at + 1])
                    at += 2
                }
            case 0x73:  // SETITEM
                guard stack.count - 2 > fence else { throw error(.stackUnderflow) }
                let dict = try node(stack[stack.count - 3], .dict, "dict")
                try insert(into: dict, key: stack[stack.count - 2], value: stack[stack.count - 1])
                stack.removeLast(2)
            case 0x75:  // SETITEMS
                let mark = try popMark()
                guard mark > fence, mark <= stack.count else { throw error(.stackUnderflow) }
                guard (stack.count - mark) % 2 == 0 else {
                    throw error(.typeMismatch("odd number of items for SETITEMS"))
                }
                let dict = try node(stack[mark - 1], .dict, "dict")
                var at = mark
                while at < stack.count {
                    try insert(into: dict, key: stack[at], value: stack[at + 1])
                    at += 2
                }
                stack.removeSubrange(mark...)

            // Sets
            case 0x8F:  // EMPTY_SET
                pushNode(.set)
            case 0x90:  // ADDITEMS
                let mark = try popMark()
                guard mark > fence, mark <= stack.count else { throw error(.stackUnderflow) }
                let set = try node(stack[mark - 1], .set, "set")
                for at in mark..<stack.count {
                    try insert(into: set, key: stack[at], value: nil)
                }
                stack.removeSubrange(mark...)
            case 0x91:  // FROZENSET
                let mark = try popMark()
                let items = stack[mark...]
                try pushFrozenSet(items)
                let frozen = stack.removeLast()
                stack.removeSubrange(mark...)
                stack.append(frozen)

            // Memo
            case 0x70:  // PUT
                let index = try parseMemoIndex(try readLine())
                memoPut(index, try top())
            case 0x71:  // BINPUT
                let index = try readUInt8()
                memoPut(UInt64(index), try top())
            case 0x72:  // LONG_BINPUT
                let index = try readUInt32()
                memoPut(UInt64(index), try top())
            case 0x94:  // MEMOIZE
                memoPut(memoCount, try top())
            case 0x67:  // GET
                stack.append(try memoGet(try parseMemoIndex(try readLine())))
            case 0x68:  // BINGET
                stack.append(try memoGet(UInt64(try readUInt8())))
            case 0x6A:  // LONG_BINGET
                stack.append(try memoGet(UInt64(try readUInt32())))

            // CPython's spellings of builtin data types (see PickleDecoder)
            case 0x63 where options.allowsBuiltinConstructors:  // GLOBAL
                let module = try utf8String(try readLine())
                let name = try utf8String(try readLine())
                stack.append(try resolveGlobal(module: module, name: name))
            case 0x93 where options.allowsBuiltinConstructors:  // STACK_GLOBAL
                guard stack.count - fence >= 2 else { throw error(.stackUnderflow) }
                guard case .value(.string(let name), _) = stack[stack.count - 1],
                    case .value(.string(let module), _) = stack[stack.count - 2]
                else {
                    throw error(.typeMismatch("STACK_GLOBAL needs two str below it"))
                }
                stack.removeLast(2)
                stack.append(try resolveGlobal(module: module, name: name))
            case 0x52 where options.allowsBuiltinConstructors:  // REDUCE
                try reduce()

            default:
                throw error(opcode.isKnown ? .forbiddenOpcode : .unknownOpcode)
            }
        }
    }

    mutating func pushLong(_ bytes: UnsafeRawBufferPointer) {
        if bytes.count <= 8 {
            var value: UInt64 = (bytes.last ?? 0) & 0x80 != 0 ? ~0 : 0
            for (index, byte) in bytes.enumerated() {
                let shift = UInt64(index * 8)
                value = (value & ~(0xFF << shift)) | (UInt64(byte) << shift)
            }
            push(.int(Int64(bitPattern: value)))
        } else {
            let big = PickleBigInt(littleEndianTwosComplement: bytes)
            if let small = big.int64Value {
                push(.int(small))
            } else {
                push(.bigInt(big))
            }
        }
    }

    // MARK: STOP

    mutating func finish() throws(PickleError) -> PickleValue {
        guard stack.count > fence else { throw error(.stackUnderflow) }
        guard stack.count == 1, marks.isEmpty else { throw error(.unbalancedStack) }
        guard position == input.count else {
            let trailing = remaining
            opcodeStart = position
            throw PickleError(.trailingBytes(count: trailing), offset: position, opcode: nil)
        }
        switch stack[0] {
        case .value(let value, _):
            return value
        case .constructor(let constructor):
            throw error(.unsupportedValue("the class '\(constructor.pythonName)' is not data"))
        case .node(let root):
            try analyse(root)
            var cache = [PickleValue?](repeating: nil, count: arena.count)
            return materialise(root, &cache)
        }
    }

    /// Walks the graph under `root` without recursion: refuses cycles and class references, and
    /// enforces the depth and expanded-size limits before anything is materialised.
    func analyse(_ root: Int) throws(PickleError) {
        var state = [UInt8](repeating: 0, count: arena.count)  // 0 new, 1 open, 2 done
        var shapes = [Shape](repeating: .scalar, count: arena.count)
        var work: [(node: Int, next: Int)] = [(root, 0)]
        state[root] = 1
        while let (node, next) = work.last {
            if next < arena[node].items.count {
                work[work.count - 1].next += 1
                switch arena[node].items[next] {
                case .value:
                    break
                case .node(let child):
                    switch state[child] {
                    case 0:
                        guard work.count < options.maxDepth else {
                            throw error(.nestingTooDeep(limit: options.maxDepth))
                        }
                        state[child] = 1
                        work.append((child, 0))
                    case 1:
                        throw error(.recursiveStructure)
                    default:
                        break
                    }
                case .constructor(let constructor):
                    throw error(.unsupportedValue(
                        "the class '\(constructor.pythonName)' is not data"))
                }
            } else {
                var shape = Shape.emptyContainer
                for item in arena[node].items {
                    switch item {
                    case .value(_, let itemShape): shape.absorb(itemShape)
                    case .node(let child): shape.absorb(shapes[child])
                    case .constructor: shape.absorb(.scalar)
                    }
                }
                shapes[node] = try checked(shape)
                state[node] = 2
                work.removeLast()
            }
        }
    }

    /// Builds the value of a node (recursion depth is bounded by `maxDepth`, checked first).
    func materialise(_ node: Int, _ cache: inout [PickleValue?]) -> PickleValue {
        if let value = cache[node] { return value }
        let items = arena[node].items
        func resolve(_ item: Item, _ cache: inout [PickleValue?]) -> PickleValue {
            switch item {
            case .value(let value, _): return value
            case .node(let child): return materialise(child, &cache)
            case .constructor: return .none  // unreachable: analyse refused it
            }
        }
        let value: PickleValue
        switch arena[node].kind {
        case .list, .tuple:
            var elements: [PickleValue] = []
            elements.reserveCapacity(items.count)
            for item in items { elements.append(resolve(item, &cache)) }
            value = arena[node].kind == .list ? .list(elements) : .tuple(elements)
        case .dict:
            var pairs: [(key: PickleValue, value: PickleValue)] = []
            pairs.reserveCapacity(items.count / 2)
            var at = 0
            while at + 1 < items.count {
                pairs.append((key: resolve(items[at], &cache), value: resolve(items[at + 1], &cache)))
                at += 2
            }
            value = .dict(pairs)
        case .set:
            var elements: [PickleValue] = []
            elements.reserveCapacity(items.count)
            for item in items { elements.append(resolve(item, &cache)) }
            value = .set(elements)
        }
        cache[node] = value
        return value
    }
}
