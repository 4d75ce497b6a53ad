/// One pickle opcode byte, with the name CPython's `pickletools` gives it.
///
/// Used in ``PickleError`` so that a refusal or a parse failure says *which* instruction it was
/// about, e.g. `STACK_GLOBAL (0x93)`. Every byte value is representable; bytes that are not
/// opcodes in any protocol (0…5) have the name `"<unknown>"`.
public struct PickleOpcode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// The `pickletools` name, e.g. `"SHORT_BINUNICODE"`, or `"<unknown>"`.
    public var name: String { PickleOpcode.names[Int(rawValue)] ?? "<unknown>" }

    /// Whether this byte is an opcode of some pickle protocol (0…5).
    public var isKnown: Bool { PickleOpcode.names[Int(rawValue)] != nil }

    /// `NAME (0xHH)`, or `NAME (0xHH 'c')` when the byte is a printable ASCII character.
    public var description: String {
        let hexDigits = Array("0123456789abcdef")
        var text = name + " (0x"
        text.append(hexDigits[Int(rawValue >> 4)])
        text.append(hexDigits[Int(rawValue & 0xF)])
        if rawValue >= 0x21 && rawValue < 0x7F {
            text += " '" + String(Character(Unicode.Scalar(rawValue))) + "'"
        }
        return text + ")"
    }

    // Protocol 0 and 1.
    public static let mark = PickleOpcode(rawValue: 0x28)  // (
    public static let stop = PickleOpcode(rawValue: 0x2E)  // .
    public static let pop = PickleOpcode(rawValue: 0x30)  // 0
    public static let popMark = PickleOpcode(rawValue: 0x31)  // 1
    public static let dup = PickleOpcode(rawValue: 0x32)  // 2
    public static let float = PickleOpcode(rawValue: 0x46)  // F
    public static let int = PickleOpcode(rawValue: 0x49)  // I
    public static let binInt = PickleOpcode(rawValue: 0x4A)  // J
    public static let binInt1 = PickleOpcode(rawValue: 0x4B)  // K
    public static let long = PickleOpcode(rawValue: 0x4C)  // L
    public static let binInt2 = PickleOpcode(rawValue: 0x4D)  // M
    public static let none = PickleOpcode(rawValue: 0x4E)  // N
    public static let persID = PickleOpcode(rawValue: 0x50)  // P
    public static let binPersID = PickleOpcode(rawValue: 0x51)  // Q
    public static let reduce = PickleOpcode(rawValue: 0x52)  // R
    public static let string = PickleOpcode(rawValue: 0x53)  // S
    public static let binString = PickleOpcode(rawValue: 0x54)  // T
    public static let shortBinString = PickleOpcode(rawValue: 0x55)  // U
    public static let unicode = PickleOpcode(rawValue: 0x56)  // V
    public static let binUnicode = PickleOpcode(rawValue: 0x58)  // X
    public static let append = PickleOpcode(rawValue: 0x61)  // a
    public static let build = PickleOpcode(rawValue: 0x62)  // b
    public static let global = PickleOpcode(rawValue: 0x63)  // c
    public static let dict = PickleOpcode(rawValue: 0x64)  // d
    public static let emptyDict = PickleOpcode(rawValue: 0x7D)  // }
    public static let appends = PickleOpcode(rawValue: 0x65)  // e
    public static let get = PickleOpcode(rawValue: 0x67)  // g
    public static let binGet = PickleOpcode(rawValue: 0x68)  // h
    public static let inst = PickleOpcode(rawValue: 0x69)  // i
    public static let longBinGet = PickleOpcode(rawValue: 0x6A)  // j
    public static let list = PickleOpcode(rawValue: 0x6C)  // l
    public static let emptyList = PickleOpcode(rawValue: 0x5D)  // ]
    public static let obj = PickleOpcode(rawValue: 0x6F)  // o
    public static let put = PickleOpcode(rawValue: 0x70)  // p
    public static let binPut = PickleOpcode(rawValue: 0x71)  // q
    public static let longBinPut = PickleOpcode(rawValue: 0x72)  // r
    public static let setItem = PickleOpcode(rawValue: 0x73)  // s
    public static let tuple = PickleOpcode(rawValue: 0x74)  // t
    public static let emptyTuple = PickleOpcode(rawValue: 0x29)  // )
    public static let setItems = PickleOpcode(rawValue: 0x75)  // u
    public static let binFloat = PickleOpcode(rawValue: 0x47)  // G
    // Protocol 2.
    public static let proto = PickleOpcode(rawValue: 0x80)
    public static let newObj = PickleOpcode(rawValue: 0x81)
    public static let ext1 = PickleOpcode(rawValue: 0x82)
    public static let ext2 = PickleOpcode(rawValue: 0x83)
    public static let ext4 = PickleOpcode(rawValue: 0x84)
    public static let tuple1 = PickleOpcode(rawValue: 0x85)
    public static let tuple2 = PickleOpcode(rawValue: 0x86)
    public static let tuple3 = PickleOpcode(rawValue: 0x87)
    public static let newTrue = PickleOpcode(rawValue: 0x88)
    public static let newFalse = PickleOpcode(rawValue: 0x89)
    public static let long1 = PickleOpcode(rawValue: 0x8A)
    public static let long4 = PickleOpcode(rawValue: 0x8B)
    // Protocol 3.
    public static let binBytes = PickleOpcode(rawValue: 0x42)  // B
    public static let shortBinBytes = PickleOpcode(rawValue: 0x43)  // C
    // Protocol 4.
    public static let shortBinUnicode = PickleOpcode(rawValue: 0x8C)
    public static let binUnicode8 = PickleOpcode(rawValue: 0x8D)
    public static let binBytes8 = PickleOpcode(rawValue: 0x8E)
    public static let emptySet = PickleOpcode(rawValue: 0x8F)
    public static let addItems = PickleOpcode(rawValue: 0x90)
    public static let frozenSet = PickleOpcode(rawValue: 0x91)
    public static let newObjEx = PickleOpcode(rawValue: 0x92)
    public static let stackGlobal = PickleOpcode(rawValue: 0x93)
    public static let memoize = PickleOpcode(rawValue: 0x94)
    public static let frame = PickleOpcode(rawValue: 0x95)
    // Protocol 5.
    public static let byteArray8 = PickleOpcode(rawValue: 0x96)
    public static let nextBuffer = PickleOpcode(rawValue: 0x97)
    public static let readonlyBuffer = PickleOpcode(rawValue: 0x98)

    private static let names: [String?] = {
        var table = [String?](repeating: nil, count: 256)
        let all: [(UInt8, String)] = [
            (0x28, "MARK"), (0x2E, "STOP"), (0x30, "POP"), (0x31, "POP_MARK"), (0x32, "DUP"),
            (0x46, "FLOAT"), (0x49, "INT"), (0x4A, "BININT"), (0x4B, "BININT1"), (0x4C, "LONG"),
            (0x4D, "BININT2"), (0x4E, "NONE"), (0x50, "PERSID"), (0x51, "BINPERSID"),
            (0x52, "REDUCE"), (0x53, "STRING"), (0x54, "BINSTRING"), (0x55, "SHORT_BINSTRING"),
            (0x56, "UNICODE"), (0x58, "BINUNICODE"), (0x61, "APPEND"), (0x62, "BUILD"),
            (0x63, "GLOBAL"), (0x64, "DICT"), (0x7D, "EMPTY_DICT"), (0x65, "APPENDS"),
            (0x67, "GET"), (0x68, "BINGET"), (0x69, "INST"), (0x6A, "LONG_BINGET"),
            (0x6C, "LIST"), (0x5D, "EMPTY_LIST"), (0x6F, "OBJ"), (0x70, "PUT"), (0x71, "BINPUT"),
            (0x72, "LONG_BINPUT"), (0x73, "SETITEM"), (0x74, "TUPLE"), (0x29, "EMPTY_TUPLE"),
            (0x75, "SETITEMS"), (0x47, "BINFLOAT"),
            (0x80, "PROTO"), (0x81, "NEWOBJ"), (0x82, "EXT1"), (0x83, "EXT2"), (0x84, "EXT4"),
            (0x85, "TUPLE1"), (0x86, "TUPLE2"), (0x87, "TUPLE3"), (0x88, "NEWTRUE"),
            (0x89, "NEWFALSE"), (0x8A, "LONG1"), (0x8B, "LONG4"),
            (0x42, "BINBYTES"), (0x43, "SHORT_BINBYTES"),
            (0x8C, "SHORT_BINUNICODE"), (0x8D, "BINUNICODE8"), (0x8E, "BINBYTES8"),
            (0x8F, "EMPTY_SET"), (0x90, "ADDITEMS"), (0x91, "FROZENSET"), (0x92, "NEWOBJ_EX"),
            (0x93, "STACK_GLOBAL"), (0x94, "MEMOIZE"), (0x95, "FRAME"),
            (0x96, "BYTEARRAY8"), (0x97, "NEXT_BUFFER"), (0x98, "READONLY_BUFFER"),
        ]
        for (byte, name) in all { table[Int(byte)] = name }
        return table
    }()
}
