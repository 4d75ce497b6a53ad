import Pickle
import Testing

@Suite struct DecoderTests {
    @Test func sharedListMutatedAfterMemoizeIsVisibleThroughGet() throws {
        // ] MEMOIZE BINGET 0 (the same list) K 1 APPEND (to the fetched reference) TUPLE2
        let value = try PickleDecoder.decode(pk("\u{80}\u{04}]\u{94}h\u{00}K\u{01}a\u{86}."))
        #expect(value == .tuple([[1], [1]]))
        // APPENDS to the first reference after the second one was fetched.
        let later = try PickleDecoder.decode(pk("\u{80}\u{04}]\u{94}h\u{00}\u{86}\u{94}h\u{00}(K\u{01}K\u{02}e0."))
        #expect(later == .tuple([[1, 2], [1, 2]]))
        // A dict filled through a memo reference.
        let dict = try PickleDecoder.decode(pk("\u{80}\u{04}}\u{94}\u{85}h\u{00}\u{8c}\u{01}kK\u{09}s0."))
        #expect(dict == .tuple([["k": 9]]))
    }

    @Test func sharedListFromCPython() throws {
        // l = [1, 2]; pickle.dumps({"x": l, "y": [l, l]}, 4)
        let fixture = try #require(cpythonFixtures.first { $0.name == "shared_filled_list" && $0.protocolVersion == 4 })
        let value = try PickleDecoder.decode(fixture.bytes)
        #expect(value == ["x": [1, 2], "y": [[1, 2], [1, 2]]])
    }

    @Test func canonicalIntegers() throws {
        // LONG1 with a value that fits Int64 decodes as .int.
        #expect(try PickleDecoder.decode(pk("\u{8a}\u{02}\u{ff}\u{00}.")) == .int(255))
        if case .int = try PickleDecoder.decode(pk("\u{8a}\u{02}\u{ff}\u{00}.")) {} else {
            Issue.record("expected .int")
        }
        let big = try PickleDecoder.decode(pk("\u{8a}\u{09}\u{00}\u{00}\u{00}\u{00}\u{00}\u{00}\u{00}\u{00}\u{01}."))
        #expect(big.bigIntValueDescription == "18446744073709551616")
        #expect(big.intValue == nil)
        #expect(try PickleDecoder.decode(pk("\u{8a}\u{00}.")) == 0)
    }

    @Test func protocolZeroTextOpcodes() throws {
        #expect(try PickleDecoder.decode(pk("I00\n.")) == false)
        #expect(try PickleDecoder.decode(pk("I01\n.")) == true)
        #expect(try PickleDecoder.decode(pk("I-5\n.")) == -5)
        #expect(try PickleDecoder.decode(pk("I99999999999999999999\n.")).bigIntValueDescription == "99999999999999999999")
        #expect(try PickleDecoder.decode(pk("L-123L\n.")) == -123)
        #expect(try PickleDecoder.decode(pk("F1.5\n.")) == 1.5)
        #expect(try PickleDecoder.decode(pk("Vcaf\\u00e9 \\U0001f389\n.")) == "café 🎉")
        #expect(try PickleDecoder.decode(pk("S'a\\x41\\n\\'q'\n.")) == "aA\n'q")
        #expect(try PickleDecoder.decode(pk("(lp0\nI1\naI2\na.")) == [1, 2])
        #expect(try PickleDecoder.decode(pk("(dp0\nVk\np1\nI3\ns.")) == ["k": 3])
        #expect(try PickleDecoder.decode(pk("(I1\nI2\ntp0\ng0\n\u{86}.")) == .tuple([.tuple([1, 2]), .tuple([1, 2])]))
    }

    @Test func py2StringsFollowTheChosenEncoding() throws {
        let nonASCII = pk("U\u{02}\u{c3}\u{a9}.")
        let error = try #require(decodeResult(nonASCII).failure)
        #expect(error.offset == 0)
        #expect(error.opcode == .shortBinString)
        #expect(try PickleDecoder.decode(nonASCII, options: .init(py2Strings: .latin1)) == "Ã©")
        #expect(try PickleDecoder.decode(nonASCII, options: .init(py2Strings: .utf8)) == "é")
        #expect(try PickleDecoder.decode(nonASCII, options: .init(py2Strings: .bytes)) == .bytes([0xC3, 0xA9]))
        #expect(try PickleDecoder.decode(pk("T\u{03}\u{00}\u{00}\u{00}abc.")) == "abc")
    }

    @Test func stackAndMarkEdgeCases() throws {
        #expect(try PickleDecoder.decode(pk("(0N.")) == nil)  // POP removes an empty mark
        #expect(try PickleDecoder.decode(pk("(NN1N.")) == nil)  // POP_MARK
        #expect(try PickleDecoder.decode(pk("K\u{07}2\u{86}.")) == .tuple([7, 7]))  // DUP
        // Duplicate dict keys: first position, last value (Python's dict semantics).
        #expect(try PickleDecoder.decode(pk("}(K\u{01}K\u{02}K\u{05}K\u{06}K\u{01}K\u{03}u.")).dictPairs?.count == 2)
        #expect(try PickleDecoder.decode(pk("}(K\u{01}K\u{02}K\u{05}K\u{06}K\u{01}K\u{03}u.")) == [1: 3, 5: 6])
        // More keys than the linear-scan threshold, with a duplicate after the index exists.
        var many = pk("}(")
        for key in 0..<20 { many += [0x4B, UInt8(key), 0x4B, 0x00] }
        many += [0x4B, 3, 0x4B, 99, 0x75, 0x2E]
        let dict = try PickleDecoder.decode(many)
        #expect(dict.dictPairs?.count == 20)
        #expect(dict[.int(3)] == 99)
        #expect(dict.dictPairs?[3].value == 99)
    }

    @Test func setsAndFrozensets() throws {
        #expect(try PickleDecoder.decode(pk("\u{8f}(K\u{01}K\u{02}K\u{01}\u{90}.")) == .set([1, 2]))
        #expect(try PickleDecoder.decode(pk("(K\u{02}K\u{01}\u{91}.")) == .frozenset([1, 2]))
        #expect(try PickleDecoder.decode(pk("(K\u{02}K\u{01}\u{91}.")) == .frozenset([2, 1]))
    }

    @Test func acceptsBuiltinConstructorsOnlyWhenAllowed() throws {
        let bytearrayP4 = expandHex("80049523000000000000008c086275696c74696e73948c096279746561727261799493944302616294859452942e")
        #expect(try PickleDecoder.decode(bytearrayP4) == .bytearray([0x61, 0x62]))
        let strict = PickleDecoder.Options(allowsBuiltinConstructors: false)
        let error = try #require(decodeResult(bytearrayP4, options: strict).failure)
        #expect(error.kind == .forbiddenOpcode)
        #expect(error.opcode == .stackGlobal)
        #expect(error.offset == 34)
    }

    @Test func bufferAndSliceEntryPointsAgree() throws {
        let bytes = PickleEncoder.encode(["a": [1, 2.5, "x"], "b": .bytes([0, 1])])
        let fromArray = try PickleDecoder.decode(bytes)
        let fromBuffer = try bytes.withUnsafeBytes { buffer in
            try PickleDecoder.decode(buffer)
        }
        let fromSlice = try PickleDecoder.decode(([0xAA] + bytes)[1...])
        let fromLazy = try PickleDecoder.decode(bytes.lazy.map { $0 })  // not contiguous
        #expect(fromArray == fromBuffer)
        #expect(fromArray == fromSlice)
        #expect(fromArray == fromLazy)
    }
}

extension PickleValue {
    var bigIntValueDescription: String? {
        switch self {
        case .int(let value): return String(value)
        case .bigInt(let value): return value.description
        default: return nil
        }
    }
}

extension Result {
    var failure: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}
