import Pickle
import Testing

@Suite struct ValueTests {
    @Test func literalsAndAccessors() {
        let payload: [UInt8] = [1, 2, 3]
        var body: PickleValue = ["payload": .bytes(payload), "seq": 3, "name": "n", "ok": true, "x": 1.5, "none": nil]
        #expect(body["payload"]?.bytesValue == payload)
        #expect(body["seq"]?.intValue == 3)
        #expect(body["seq"]?.int64Value == 3)
        #expect(body["name"]?.stringValue == "n")
        #expect(body["ok"]?.boolValue == true)
        #expect(body["x"]?.doubleValue == 1.5)
        #expect(body["none"]?.isNone == true)
        #expect(body["missing"] == nil)
        #expect(body.dictPairs?.map(\.key) == ["payload", "seq", "name", "ok", "x", "none"])
        // Setting keeps the position of an existing key, appends a new one, removes on nil.
        body["seq"] = 4
        body["new"] = [1, 2]
        body["name"] = nil
        #expect(body.dictPairs?.map(\.key) == ["payload", "seq", "ok", "x", "none", "new"])
        #expect(body["seq"] == 4)
        #expect(body["new"]?[1] == 2)
        #expect(body["new"]?[5] == nil)
        #expect(PickleValue.bytearray(payload).bytesValue == payload)
        #expect(PickleValue.tuple([1]).arrayValue == [1])
    }

    @Test func equalityFollowsPython() {
        #expect(PickleValue.int(5) == .bigInt(PickleBigInt(5)))
        #expect(PickleValue.int(5).hashValue == PickleValue.bigInt(PickleBigInt(5)).hashValue)
        #expect(PickleValue.string("é") != .string("e\u{301}"))  // different code points in Python
        #expect(PickleValue.float(-0.0) == .float(0.0))
        #expect(PickleValue.float(.nan) != .float(.nan))
        // dicts compare as mappings, sets as sets
        let ab: PickleValue = ["a": 1, "b": 2]
        let ba: PickleValue = ["b": 2, "a": 1]
        #expect(ab == ba)
        #expect(ab.hashValue == ba.hashValue)
        #expect(PickleValue.set([1, 2, 3]) == .set([3, 1, 2]))
        #expect(PickleValue.set([1, 1, 2]) == .set([2, 1]))
        #expect(PickleValue.set([1, 1, 2]).hashValue == PickleValue.set([2, 1]).hashValue)
        #expect(PickleValue.set([1]) != .frozenset([1]))
        // types stay distinct where Python would not distinguish them
        #expect(PickleValue.bool(true) != .int(1))
        #expect(PickleValue.int(1) != .float(1))
        #expect(PickleValue.bytes([1]) != .bytearray([1]))
        #expect(PickleValue.list([1]) != .tuple([1]))
        // duplicate keys in hand-built pairs: last value wins, as in dict(pairs)
        let duplicated = PickleValue.dict([(key: "a", value: 1), (key: "a", value: 2)])
        #expect(duplicated == ["a": 2])
        #expect(duplicated["a"] == 2)
    }

    /// A set's hash hashes each element once. It used to hash every element twice (once to drop
    /// duplicates, once to sum), so each level of nesting doubled the work below it: at the 40
    /// levels here that is 2^40 element hashes, which never finishes; now it is 40.
    @Test func nestedSetsHashInLinearTime() {
        var value = PickleValue.frozenset([0, 1])
        var twin = PickleValue.frozenset([1, 0, 1])
        for level in 0..<40 {
            value = .frozenset([value, .int(Int64(level))])
            // The same set written another way: reordered, a scalar repeated. (Not the subtree:
            // a value holding one subtree twice is a tree of 2^40 nodes to hash by any method.)
            twin = .frozenset([.int(Int64(level)), twin, .int(Int64(level))])
        }
        #expect(value == twin)
        #expect(value.hashValue == twin.hashValue)
        #expect(PickleValue.set([.frozenset([1, 2]), .frozenset([2, 1])]).hashValue == PickleValue.set([.frozenset([1, 2])]).hashValue)
    }

    @Test func bigIntConversions() throws {
        let cases: [(String, [UInt8])] = [
            ("0", []), ("1", [1]), ("-1", [0xFF]), ("127", [0x7F]), ("128", [0x80, 0x00]),
            ("-128", [0x80]), ("-129", [0x7F, 0xFF]), ("255", [0xFF, 0x00]), ("-32768", [0x00, 0x80]),
            ("18446744073709551616", [0, 0, 0, 0, 0, 0, 0, 0, 1]),
            ("-1267650600228229401496703205376", [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xF0]),
            ("-9223372036854775808", [0, 0, 0, 0, 0, 0, 0, 0x80]),
        ]
        for (decimal, bytes) in cases {
            let parsed = try #require(PickleBigInt(decimal: decimal))
            #expect(parsed.littleEndianTwosComplement == bytes, "\(decimal)")
            #expect(parsed.description == decimal)
            #expect(PickleBigInt(littleEndianTwosComplement: bytes + (parsed.isNegative ? [0xFF, 0xFF] : [0, 0])) == parsed)
        }
        #expect(PickleBigInt(Int64.min).int64Value == Int64.min)
        #expect(PickleBigInt(UInt64.max).description == "18446744073709551615")
        #expect(PickleBigInt(UInt64.max).int64Value == nil)
        #expect(PickleBigInt(decimal: "+42")?.intValue == 42)
        #expect(PickleBigInt(decimal: "-0")?.littleEndianTwosComplement == [])
        #expect(PickleBigInt(decimal: "") == nil)
        #expect(PickleBigInt(decimal: "12a") == nil)
        #expect(PickleBigInt(decimal: "-") == nil)
        #expect(PickleValue.integer(UInt64.max) == .bigInt(PickleBigInt(UInt64.max)))
        #expect(PickleValue.integer(7 as UInt8) == .int(7))
        // A bigInt that fits is written exactly like the int it equals, as CPython has one int type.
        #expect(PickleEncoder.encode(.bigInt(PickleBigInt(5))) == PickleEncoder.encode(.int(5)))
        #expect(PickleEncoder.encode(.bigInt(PickleBigInt(-1 << 40))) == PickleEncoder.encode(.int(-1 << 40)))
        // 2**2100 round-trips through decimal
        let huge = String(repeating: "9", count: 700)
        #expect(PickleBigInt(decimal: huge)?.description == huge)
        #expect(PickleBigInt(decimal: "-" + huge)?.description == "-" + huge)
    }

    @Test func descriptionIsPythonLike() {
        let value: PickleValue = [
            "b": .bytes([0x78, 0x00, 0x27]), "t": .tuple([1]), "s": .set([]), "f": .frozenset([1]),
            "n": nil, "x": 1.5, "q": "it's", "a": .bytearray([0x41]),
        ]
        #expect(value.description == #"{'b': b"x\x00'", 't': (1,), 's': set(), 'f': frozenset({1}), 'n': None, 'x': 1.5, 'q': "it's", 'a': bytearray(b'A')}"#)
    }

    @Test func opcodeNames() {
        #expect(PickleOpcode.stackGlobal.description == "STACK_GLOBAL (0x93)")
        #expect(PickleOpcode.global.description == "GLOBAL (0x63 'c')")
        #expect(PickleOpcode(rawValue: 0xFF).name == "<unknown>")
        #expect(PickleOpcode(rawValue: 0xFF).isKnown == false)
        let known = (0...255).filter { PickleOpcode(rawValue: UInt8($0)).isKnown }
        #expect(known.count == 68)
    }
}
