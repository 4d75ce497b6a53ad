/// Why ``PickleDecoder`` rejected an input, and where.
///
/// Every error carries the byte ``offset`` of the opcode being executed when it was detected
/// (or of the first unread byte for ``Kind/trailingBytes``), and, when there was one, that
/// ``opcode``. The ``description`` is one sentence a person can act on, e.g.
/// `pickle refused at offset 13, STACK_GLOBAL (0x93): global 'posix.system' is not an allowed
/// data constructor (pickle is code; only data opcodes are accepted)`.
public struct PickleError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong.
    public enum Kind: Hashable, Sendable {
        /// The input ended inside an opcode's argument, or before `STOP`.
        case truncated
        /// A length field claims more bytes than remain in the input (never allocated).
        case lengthExceedsInput(length: UInt64, remaining: Int)
        /// An opcode that builds or calls arbitrary Python objects (`GLOBAL`, `REDUCE`, `BUILD`,
        /// `INST`, `OBJ`, `NEWOBJ`, `PERSID`, `EXT*`, out-of-band buffers…). Never executed.
        case forbiddenOpcode
        /// A `GLOBAL` / `STACK_GLOBAL` naming something other than the few builtin data
        /// constructors CPython itself uses for plain data (see ``PickleDecoder``).
        case forbiddenGlobal(module: String, name: String)
        /// `REDUCE` whose callable or arguments are not one of the accepted data patterns.
        case invalidReduce(String)
        /// A byte that is not an opcode in any pickle protocol.
        case unknownOpcode
        /// `PROTO` with a version above 5.
        case unsupportedProtocol(Int)
        /// An opcode needed more stack items than there are above the current `MARK`.
        case stackUnderflow
        /// An opcode that works up to a `MARK` found none.
        case missingMark
        /// `GET` of a memo slot that was never `PUT`.
        case memoKeyNotFound(UInt64)
        /// `PUT` / `GET` with a negative or unparsable index.
        case invalidMemoIndex
        /// An opcode's operand has the wrong type (e.g. `APPEND` to a dict, `SETITEMS` on a list,
        /// `STACK_GLOBAL` with non-string names, an odd number of items for `DICT`).
        case typeMismatch(String)
        /// A dict key or set element that Python could not hash (list, dict, set, bytearray, or a
        /// tuple containing one).
        case unhashableKey
        /// A text or binary string argument that is not valid UTF-8 (including encoded lone
        /// surrogates, which Python tolerates and Swift's `String` cannot hold).
        case invalidUTF8
        /// A protocol 0/1 text argument (`INT`, `LONG`, `FLOAT`, `STRING`, `UNICODE`, …) that does
        /// not parse, or a Python 2 `str` that does not decode with the chosen encoding.
        case invalidArgument(String)
        /// Bytes remain after `STOP`.
        case trailingBytes(count: Int)
        /// Items or marks were left on the stack at `STOP` (never produced by CPython).
        case unbalancedStack
        /// Containers nest deeper than ``PickleDecoder/Options/maxDepth``.
        case nestingTooDeep(limit: Int)
        /// The decoded value, with shared references expanded, would hold more than
        /// ``PickleDecoder/Options/maxValueCount`` values ("billion laughs" protection).
        case tooManyValues(limit: Int)
        /// Hashing and comparing dict keys and set elements would take more work than the input
        /// justifies (a huge key fetched many times from the memo by two-byte `GET`s).
        case hashingBudgetExceeded
        /// A container contains itself (possible in Python; not representable as a value).
        case recursiveStructure
        /// A class or function reference (from `GLOBAL`) ended up as a data value.
        case unsupportedValue(String)
    }

    public let kind: Kind
    /// Byte offset in the input of the opcode being executed (or of the first trailing byte).
    public let offset: Int
    /// The opcode being executed, when the error is about one.
    public let opcode: PickleOpcode?

    public init(_ kind: Kind, offset: Int, opcode: PickleOpcode?) {
        self.kind = kind
        self.offset = offset
        self.opcode = opcode
    }

    public var description: String {
        var text: String
        switch kind {
        case .forbiddenOpcode, .forbiddenGlobal, .invalidReduce, .unknownOpcode:
            text = "pickle refused at offset \(offset)"
        default:
            text = "invalid pickle at offset \(offset)"
        }
        if let opcode { text += ", \(opcode)" }
        text += ": "
        switch kind {
        case .truncated:
            text += "input ends before the opcode's argument or before STOP (truncated pickle)"
        case .lengthExceedsInput(let length, let remaining):
            text += "length field \(length) exceeds the \(remaining) bytes remaining"
        case .forbiddenOpcode:
            text += "this opcode builds or calls arbitrary Python objects; pickle is code, and "
                + "only data opcodes are accepted"
        case .forbiddenGlobal(let module, let name):
            text += "global '\(module).\(name)' is not an allowed data constructor (pickle is "
                + "code; only data opcodes are accepted)"
        case .invalidReduce(let why):
            text += "REDUCE is accepted only for builtin data constructors: \(why)"
        case .unknownOpcode:
            text += "not a pickle opcode"
        case .unsupportedProtocol(let version):
            text += "unsupported pickle protocol \(version) (0...5 are known)"
        case .stackUnderflow:
            text += "stack underflow"
        case .missingMark:
            text += "could not find MARK"
        case .memoKeyNotFound(let index):
            text += "memo key \(index) was never stored"
        case .invalidMemoIndex:
            text += "invalid memo index"
        case .typeMismatch(let why):
            text += why
        case .unhashableKey:
            text += "unhashable dict key or set element (list, dict, set or bytearray)"
        case .invalidUTF8:
            text += "string is not valid UTF-8"
        case .invalidArgument(let why):
            text += why
        case .trailingBytes(let count):
            text += "\(count) byte(s) after STOP"
        case .unbalancedStack:
            text += "items or marks left on the stack at STOP"
        case .nestingTooDeep(let limit):
            text += "containers nest deeper than \(limit) levels"
        case .tooManyValues(let limit):
            text += "value would expand to more than \(limit) elements (shared references "
                + "are expanded in a PickleValue)"
        case .hashingBudgetExceeded:
            text += "dict keys / set elements are too large for how often they are used"
        case .recursiveStructure:
            text += "a container contains itself; recursive structures cannot be a PickleValue"
        case .unsupportedValue(let why):
            text += why
        }
        return text
    }
}
