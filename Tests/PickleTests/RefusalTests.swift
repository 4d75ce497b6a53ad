import Pickle
import Testing

/// Pickle is code: anything beyond data must be refused, naming the opcode and its offset.
@Suite struct RefusalTests {
    /// `pickle.dumps(Evil())` where `Evil.__reduce__` returns `(os.system, ("echo pwned",))`.
    static let osSystem: [(protocolVersion: Int, hex: String, opcode: PickleOpcode, offset: Int)] = [
        (0, "63706f7369780a73797374656d0a70300a28566563686f2070776e65640a70310a7470320a5270330a2e", .global, 0),
        (2, "800263706f7369780a73797374656d0a7100580a0000006563686f2070776e656471018571025271032e", .global, 2),
        (4, "80049525000000000000008c05706f736978948c0673797374656d9493948c0a6563686f2070776e656494859452942e", .stackGlobal, 28),
    ]

    @Test func osSystemIsRefusedAtTheGlobal() {
        for fixture in Self.osSystem {
            let error = decodeResult(expandHex(fixture.hex)).failure
            #expect(error?.kind == .forbiddenGlobal(module: "posix", name: "system"), "protocol \(fixture.protocolVersion)")
            #expect(error?.opcode == fixture.opcode)
            #expect(error?.offset == fixture.offset)
        }
        let error = decodeResult(expandHex(Self.osSystem[2].hex)).failure
        let text = error.map(String.init(describing:)) ?? ""
        #expect(text.contains("STACK_GLOBAL (0x93)"), "\(text)")
        #expect(text.contains("offset 28"), "\(text)")
        #expect(text.contains("posix.system"), "\(text)")
    }

    @Test func osSystemIsRefusedEvenWithConstructorsDisabled() {
        let strict = PickleDecoder.Options(allowsBuiltinConstructors: false)
        let error = decodeResult(expandHex(Self.osSystem[1].hex), options: strict).failure
        #expect(error?.kind == .forbiddenOpcode)
        #expect(error?.opcode == .global)
        #expect(error?.offset == 2)
        #expect(String(describing: error!).contains("GLOBAL (0x63 'c')"))
    }

    /// `pickle.dumps(Foo(), 4)` for a plain class instance.
    @Test func classInstanceIsRefused() {
        let hex = "80049521000000000000008c085f5f6d61696e5f5f948c03466f6f9493942981947d948c0178944b0173622e"
        let error = decodeResult(expandHex(hex)).failure
        #expect(error?.kind == .forbiddenGlobal(module: "__main__", name: "Foo"))
        #expect(error?.opcode == .stackGlobal)
        #expect(error?.offset == 28)
    }

    @Test("every object-building opcode is refused before its argument is read", arguments: [
        PickleOpcode.build, .inst, .obj, .newObj, .newObjEx, .persID, .binPersID, .ext1, .ext2, .ext4,
        .nextBuffer, .readonlyBuffer,
    ])
    func objectOpcodesAreRefused(_ opcode: PickleOpcode) {
        let error = decodeResult([0x80, 0x05, 0x4E, opcode.rawValue, 0x2E]).failure
        #expect(error?.kind == .forbiddenOpcode)
        #expect(error?.opcode == opcode)
        #expect(error?.offset == 3)
    }

    @Test func unknownBytesAreRefused() {
        for byte: UInt8 in [0x00, 0x01, 0x41, 0x99, 0xFF] {
            let error = decodeResult([0x80, 0x04, byte]).failure
            #expect(error?.kind == .unknownOpcode)
            #expect(error?.opcode?.rawValue == byte)
            #expect(error?.offset == 2)
        }
    }

    @Test func reduceOfAnAllowedConstructorWithOtherArgumentsIsRefused() {
        // set(1), bytearray("x") without an encoding, REDUCE of a non-callable.
        for pickle in ["c__builtin__\nset\nK\u{01}\u{85}R.", "cbuiltins\nbytearray\nX\u{01}\u{00}\u{00}\u{00}x\u{85}R.", "K\u{01})R."] {
            let error = decodeResult(pk(pickle)).failure
            guard case .invalidReduce = error?.kind else {
                Issue.record("\(pickle.debugDescription): \(String(describing: error))")
                continue
            }
            #expect(error?.opcode == .reduce)
        }
    }

    @Test func aClassReferenceIsNotData() {
        let error = decodeResult(pk("cbuiltins\nset\n.")).failure
        guard case .unsupportedValue = error?.kind else {
            Issue.record("\(String(describing: error))")
            return
        }
    }
}

/// Malformed input: always a typed error with the offset, never a trap.
@Suite struct MalformedInputTests {
    static let cases: [(name: String, bytes: [UInt8], kind: PickleError.Kind, offset: Int)] = [
        ("empty", [], .truncated, 0),
        ("only PROTO", [0x80, 0x04], .truncated, 2),
        ("PROTO without version", [0x80], .truncated, 0),
        ("no STOP", pk("N"), .truncated, 1),
        ("bytes after STOP", pk("N.x"), .trailingBytes(count: 1), 2),
        ("STOP on empty stack", pk("."), .stackUnderflow, 0),
        ("two values at STOP", pk("NN."), .unbalancedStack, 2),
        ("unclosed MARK at STOP", pk("(N."), .unbalancedStack, 2),
        ("APPEND without a list", pk("Na"), .stackUnderflow, 1),
        ("APPENDS without MARK", pk("]Ne"), .missingMark, 2),
        ("SETITEMS odd", pk("}(K\u{01}u."), .typeMismatch("odd number of items for SETITEMS"), 4),
        ("APPEND to a dict", pk("}K\u{01}a."), .typeMismatch("APPEND needs a list below its items"), 3),
        ("GET of missing memo", pk("h\u{05}."), .memoKeyNotFound(5), 0),
        ("negative PUT", pk("Np-1\n."), .invalidMemoIndex, 1),
        ("BINUNICODE longer than input", [0x58, 0xFF, 0xFF, 0xFF, 0xFF, 0x61], .lengthExceedsInput(length: 0xFFFF_FFFF, remaining: 1), 0),
        ("BINBYTES8 huge", [0x8E, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F], .lengthExceedsInput(length: 0x7FFF_FFFF_FFFF_FFFF, remaining: 0), 0),
        ("BYTEARRAY8 huge", [0x96, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x2E], .lengthExceedsInput(length: 1 << 63, remaining: 1), 0),
        ("FRAME beyond input", [0x80, 0x04, 0x95, 0x10, 0, 0, 0, 0, 0, 0, 0, 0x4E, 0x2E], .lengthExceedsInput(length: 16, remaining: 2), 2),
        ("LONG4 negative", [0x8B, 0xFF, 0xFF, 0xFF, 0xFF], .invalidArgument("LONG4 has a negative byte count"), 0),
        ("short BININT", [0x4A, 0x01, 0x02], .truncated, 0),
        ("protocol 6", [0x80, 0x06, 0x4E, 0x2E], .unsupportedProtocol(6), 0),
        ("invalid UTF-8", [0x8C, 0x02, 0xC3, 0x28, 0x2E], .invalidUTF8, 0),
        ("encoded surrogate", [0x8C, 0x03, 0xED, 0xA0, 0x80, 0x2E], .invalidUTF8, 0),
        ("list as dict key", pk("}]K\u{01}s."), .unhashableKey, 4),
        ("bytearray in a frozenset", [0x28, 0x96, 1, 0, 0, 0, 0, 0, 0, 0, 0x61, 0x91, 0x2E], .unhashableKey, 11),
        ("tuple holding a list as a key", pk("}]\u{85}Ns."), .unhashableKey, 4),
        ("list containing itself", pk("]\u{94}h\u{00}a."), .recursiveStructure, 5),
        ("INT not a number", pk("Iabc\n."), .invalidArgument("INT argument is not a decimal integer of at most 4300 digits"), 0),
        ("INT line without newline", pk("I12"), .truncated, 0),
        ("STRING unquoted", pk("Sabc\n."), .invalidArgument("the STRING opcode argument must be quoted"), 0),
        ("TUPLE2 with one item", pk("N\u{86}."), .stackUnderflow, 1),
        ("TUPLE2 across a MARK", pk("N(N\u{86}."), .stackUnderflow, 3),
        ("STACK_GLOBAL with ints", pk("K\u{01}K\u{02}\u{93}."), .typeMismatch("STACK_GLOBAL needs two str below it"), 4),
    ]

    @Test func eachMalformedInputGivesItsError() {
        for testCase in Self.cases {
            let error = decodeResult(testCase.bytes).failure
            #expect(error?.kind == testCase.kind, "\(testCase.name): \(String(describing: error))")
            #expect(error?.offset == testCase.offset, "\(testCase.name): \(String(describing: error))")
        }
    }

    @Test func nestingDepthIsLimited() {
        // 2000 nested lists built with APPEND, and 2000 nested tuples built with TUPLE1.
        let lists = [UInt8](repeating: 0x5D, count: 2000) + [UInt8](repeating: 0x61, count: 1999) + [0x2E]
        let listError = decodeResult(lists).failure
        #expect(listError?.kind == .nestingTooDeep(limit: 1000))
        #expect(listError?.offset == lists.count - 1)
        let tuples = [0x29] + [UInt8](repeating: 0x85, count: 2000) + [0x2E]
        let tupleError = decodeResult(tuples).failure
        #expect(tupleError?.kind == .nestingTooDeep(limit: 1000))
        #expect(tupleError?.offset == 1000)  // the TUPLE1 that makes depth 1001
        // Exactly at the limit is fine.
        let atLimit = [UInt8](repeating: 0x5D, count: 1000) + [UInt8](repeating: 0x61, count: 999) + [0x2E]
        #expect(decodeResult(atLimit).failure == nil)
    }

    @Test func exponentialExpansionIsRefused() {
        // Each level is a list holding the previous one twice: 2^40 values in 122 bytes.
        let lists = [UInt8](repeating: 0x28, count: 40) + [0x5D] + Array([[UInt8]](repeating: [0x32, 0x6C], count: 40).joined()) + [0x2E]
        let listError = decodeResult(lists).failure
        #expect(listError?.kind == .tooManyValues(limit: 10_000_000))
        // The same with tuples, which are final values as soon as they are built.
        let tuples = [0x4E] + Array([[UInt8]](repeating: [0x32, 0x86], count: 40).joined()) + [0x2E]
        let tupleError = decodeResult(tuples).failure
        #expect(tupleError?.kind == .tooManyValues(limit: 10_000_000))
        // A repeated huge memoised key costs hashing time: bounded too.
        var keys: [UInt8] = [0x8E] + withUnsafeBytes(of: UInt64(1 << 20).littleEndian) { Array($0) }
        keys += [UInt8](repeating: 0x61, count: 1 << 20) + [0x94, 0x30, 0x7D]
        for _ in 0..<20_000 { keys += [0x68, 0x00, 0x4E, 0x73] }
        keys += [0x2E]
        let keyError = decodeResult(keys).failure
        #expect(keyError?.kind == .hashingBudgetExceeded)
    }

    /// Frozensets nested n deep: building level k hashes the k levels below it, n²/2 in all for
    /// 2n + 3 bytes. At the depth limit that is refused (it cost 0.4 s under AddressSanitizer when
    /// the budget did not follow the input); a few hundred levels still decode.
    @Test func deeplyNestedSetsCannotHashEveryLevelBelowEachLevel() {
        func nested(_ n: Int) -> [UInt8] {
            [0x80, 4] + [UInt8](repeating: 0x28, count: n) + [UInt8](repeating: 0x91, count: n) + [0x2E]
        }
        #expect(decodeResult(nested(1000)).failure?.kind == .hashingBudgetExceeded)
        #expect(decodeResult(nested(200)).failure == nil)
    }
}
