/// A Python value built only from plain data: what a DigitalPy message body holds when its
/// values are simple (`pickle.dumps(values_dict)`, as DigitalPy writes them).
///
/// This is deliberately a closed set of data types. Pickle itself is a small programming
/// language (its `GLOBAL` + `REDUCE` opcodes call any importable function), so
/// ``PickleDecoder`` accepts only the opcodes that build these values and refuses the rest.
///
/// Python semantics the value model keeps:
/// - dicts keep insertion order (`dict` is ordered since Python 3.7) and lookups by key find the
///   last pair with that key, as `dict(pairs)` would;
/// - `==` follows Python's `==` where it is cheap to: `int` values compare by value whatever
///   their representation (``int(_:)`` vs ``bigInt(_:)``), strings compare by code points (not
///   Swift's canonical equivalence: `"é"` and `"e\u{301}"` are different Python strings),
///   dicts compare as mappings (order-insensitive) and sets as sets; floats use IEEE `==`
///   (`-0.0 == 0.0`, NaN unequal to itself), like Python.
///
/// Differences from Python: `True != 1`, `1 != 1.0` and `b"a" != bytearray(b"a")` here (the
/// cases stay distinct so a value round-trips with its type), and a shared or recursive object
/// graph becomes a tree (a ``PickleValue`` has no identity).
public enum PickleValue: Sendable {
    /// `None`.
    case none
    /// `True` / `False`.
    case bool(Bool)
    /// An `int` that fits in 64 bits.
    case int(Int64)
    /// An `int` of any size (the decoder uses it only outside the `Int64` range).
    case bigInt(PickleBigInt)
    /// A `float` (IEEE 754 double, as in CPython).
    case float(Double)
    /// A `str`.
    case string(String)
    /// A `bytes`.
    case bytes([UInt8])
    /// A `bytearray`.
    case bytearray([UInt8])
    /// A `list`.
    case list([PickleValue])
    /// A `tuple`.
    case tuple([PickleValue])
    /// A `dict`, as its pairs in insertion order.
    case dict([(key: PickleValue, value: PickleValue)])
    /// A `set`, elements in the order they were pickled (Python's hash order, which is arbitrary).
    case set([PickleValue])
    /// A `frozenset`, elements in the order they were pickled.
    case frozenset([PickleValue])
}

// MARK: - Convenience

extension PickleValue {
    /// Any Swift integer: ``int(_:)`` when it fits in `Int64`, ``bigInt(_:)`` otherwise.
    public static func integer(_ value: some BinaryInteger) -> PickleValue {
        if let small = Int64(exactly: value) { return .int(small) }
        return .bigInt(PickleBigInt(value))
    }

    /// Whether this is `None`.
    public var isNone: Bool {
        if case .none = self { return true }
        return false
    }

    /// The `str`, if this is one.
    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// The `bool`, if this is one.
    public var boolValue: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    /// The `int`, if this is one and it fits in `Int`.
    public var intValue: Int? {
        switch self {
        case .int(let value): return Int(exactly: value)
        case .bigInt(let value): return value.intValue
        default: return nil
        }
    }

    /// The `int`, if this is one and it fits in `Int64`.
    public var int64Value: Int64? {
        switch self {
        case .int(let value): return value
        case .bigInt(let value): return value.int64Value
        default: return nil
        }
    }

    /// The `float`, if this is one (an `int` is not converted).
    public var doubleValue: Double? {
        if case .float(let value) = self { return value }
        return nil
    }

    /// The contents of a `bytes` or a `bytearray`.
    public var bytesValue: [UInt8]? {
        switch self {
        case .bytes(let value), .bytearray(let value): return value
        default: return nil
        }
    }

    /// The elements of a `list` or a `tuple`.
    public var arrayValue: [PickleValue]? {
        switch self {
        case .list(let value), .tuple(let value): return value
        default: return nil
        }
    }

    /// The pairs of a `dict`, in insertion order.
    public var dictPairs: [(key: PickleValue, value: PickleValue)]? {
        if case .dict(let pairs) = self { return pairs }
        return nil
    }

    /// Looks a key up in a `dict` (`nil` if this is not a dict or the key is absent).
    ///
    /// Setting replaces the value of an existing key in place (keeping its position, as
    /// Python does), appends a new key at the end, and removes the key when set to `nil`.
    /// Setting on a value that is not a dict is a programming error and traps.
    public subscript(key: PickleValue) -> PickleValue? {
        get {
            guard case .dict(let pairs) = self else { return nil }
            for pair in pairs.reversed() where pair.key == key { return pair.value }
            return nil
        }
        set {
            guard case .dict(var pairs) = self else {
                preconditionFailure("PickleValue: setting a key on a value that is not a dict")
            }
            self = .none  // drop the second reference so `pairs` is mutated in place
            let index = pairs.firstIndex { $0.key == key }
            switch (index, newValue) {
            case (let index?, let value?):
                pairs[index].value = value
                // Later duplicates (only possible in hand-built pairs) would shadow the update.
                var later = pairs.index(after: index)
                while later < pairs.endIndex {
                    if pairs[later].key == key { pairs.remove(at: later) } else { later += 1 }
                }
            case (nil, let value?):
                pairs.append((key: key, value: value))
            case (_, nil):
                pairs.removeAll { $0.key == key }
            }
            self = .dict(pairs)
        }
    }

    /// Looks a `str` key up in a `dict`, as the `PickleValue`-keyed subscript does.
    public subscript(key: String) -> PickleValue? {
        get { self[.string(key)] }
        set { self[.string(key)] = newValue }
    }

    /// The element at `index` of a `list` or `tuple`, or `nil` when out of range or not a sequence.
    public subscript(index: Int) -> PickleValue? {
        guard let elements = arrayValue, elements.indices.contains(index) else { return nil }
        return elements[index]
    }
}

// MARK: - Literals

extension PickleValue: ExpressibleByNilLiteral {
    public init(nilLiteral: ()) { self = .none }
}

extension PickleValue: ExpressibleByBooleanLiteral {
    public init(booleanLiteral value: Bool) { self = .bool(value) }
}

extension PickleValue: ExpressibleByIntegerLiteral {
    public init(integerLiteral value: Int64) { self = .int(value) }
}

extension PickleValue: ExpressibleByFloatLiteral {
    public init(floatLiteral value: Double) { self = .float(value) }
}

extension PickleValue: ExpressibleByStringLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
}

extension PickleValue: ExpressibleByArrayLiteral {
    /// An array literal is a Python `list`.
    public init(arrayLiteral elements: PickleValue...) { self = .list(elements) }
}

extension PickleValue: ExpressibleByDictionaryLiteral {
    /// A dictionary literal is a Python `dict`, in source order:
    /// `["payload": .bytes(data), "seq": 3]`.
    public init(dictionaryLiteral elements: (PickleValue, PickleValue)...) {
        self = .dict(elements.map { (key: $0.0, value: $0.1) })
    }
}

// MARK: - Equality and hashing (Python's `==` where cheap; see the type's documentation)

extension PickleValue: Hashable {
    public static func == (lhs: PickleValue, rhs: PickleValue) -> Bool {
        switch (lhs, rhs) {
        case (.none, .none): return true
        case (.bool(let a), .bool(let b)): return a == b
        case (.int(let a), .int(let b)): return a == b
        case (.bigInt(let a), .bigInt(let b)): return a == b
        case (.int(let a), .bigInt(let b)), (.bigInt(let b), .int(let a)):
            return b.int64Value == a
        case (.float(let a), .float(let b)): return a == b
        case (.string(let a), .string(let b)): return a.utf8.elementsEqual(b.utf8)
        case (.bytes(let a), .bytes(let b)): return a == b
        case (.bytearray(let a), .bytearray(let b)): return a == b
        case (.list(let a), .list(let b)): return a == b
        case (.tuple(let a), .tuple(let b)): return a == b
        case (.dict(let a), .dict(let b)): return mappingsEqual(a, b)
        case (.set(let a), .set(let b)): return setsEqual(a, b)
        case (.frozenset(let a), .frozenset(let b)): return setsEqual(a, b)
        default: return false
        }
    }

    public func hash(into hasher: inout Hasher) {
        switch self {
        case .none:
            hasher.combine(0 as UInt8)
        case .bool(let value):
            hasher.combine(1 as UInt8)
            hasher.combine(value)
        case .int(let value):
            hasher.combine(2 as UInt8)
            hasher.combine(value)
        case .bigInt(let value):
            hasher.combine(2 as UInt8)
            if let small = value.int64Value {
                hasher.combine(small)
            } else {
                hasher.combine(value)
            }
        case .float(let value):
            hasher.combine(3 as UInt8)
            hasher.combine(value)
        case .string(let value):
            hasher.combine(4 as UInt8)
            var copy = value
            copy.withUTF8 { utf8 in
                hasher.combine(utf8.count)
                hasher.combine(bytes: UnsafeRawBufferPointer(utf8))
            }
        case .bytes(let value):
            hasher.combine(5 as UInt8)
            hasher.combine(value)
        case .bytearray(let value):
            hasher.combine(6 as UInt8)
            hasher.combine(value)
        case .list(let value):
            hasher.combine(7 as UInt8)
            hasher.combine(value)
        case .tuple(let value):
            hasher.combine(8 as UInt8)
            hasher.combine(value)
        case .dict(let pairs):
            hasher.combine(9 as UInt8)
            // Order-insensitive, over the pairs Python would keep (last value wins).
            let unique = PickleValue.effectivePairs(pairs)
            var sum = 0
            for pair in unique {
                var pairHasher = Hasher()
                pairHasher.combine(pair.key)
                pairHasher.combine(pair.value)
                sum &+= pairHasher.finalize()
            }
            hasher.combine(unique.count)
            hasher.combine(sum)
        case .set(let elements), .frozenset(let elements):
            hasher.combine(self.isFrozen ? 11 as UInt8 : 10 as UInt8)
            let (count, sum) = PickleValue.uniqueHashSum(elements)
            hasher.combine(count)
            hasher.combine(sum)
        }
    }

    private var isFrozen: Bool {
        if case .frozenset = self { return true }
        return false
    }

    /// The pairs a Python dict built from `pairs` would hold: first position, last value.
    static func effectivePairs(
        _ pairs: [(key: PickleValue, value: PickleValue)]
    ) -> [(key: PickleValue, value: PickleValue)] {
        if pairs.count < 2 { return pairs }
        var positions: [PickleValue: Int] = [:]
        positions.reserveCapacity(pairs.count)
        var result: [(key: PickleValue, value: PickleValue)] = []
        result.reserveCapacity(pairs.count)
        for pair in pairs {
            if let position = positions[pair.key] {
                result[position].value = pair.value
            } else {
                positions[pair.key] = result.count
                result.append(pair)
            }
        }
        return result
    }

    /// The elements a Python set built from `elements` would hold.
    /// The number of distinct elements and the sum of their hashes (order-insensitive, as a
    /// set's hash must be), hashing each element once. Deduplicating through a `Set` and then
    /// summing hashed every element twice, so each level of nested sets doubled the work of the
    /// level below: a 1 KiB pickle of nested frozensets took 0.9 s to hash (found by Fuzz/).
    static func uniqueHashSum(_ elements: [PickleValue]) -> (count: Int, sum: Int) {
        if elements.count < 2 { return (elements.count, elements.first?.hashValue ?? 0) }
        var distinct: [Int: [Int]] = [:]  // hash → indices of the distinct elements with it
        var count = 0, sum = 0
        for (index, element) in elements.enumerated() {
            let hash = element.hashValue
            if let same = distinct[hash], same.contains(where: { elements[$0] == element }) { continue }
            distinct[hash, default: []].append(index)
            count += 1
            sum &+= hash
        }
        return (count, sum)
    }

    private static func mappingsEqual(
        _ a: [(key: PickleValue, value: PickleValue)],
        _ b: [(key: PickleValue, value: PickleValue)]
    ) -> Bool {
        // Fast path: same pairs in the same order.
        if a.count == b.count && zip(a, b).allSatisfy({ $0.key == $1.key && $0.value == $1.value }) {
            return true
        }
        let left = effectivePairs(a)
        let right = effectivePairs(b)
        guard left.count == right.count else { return false }
        var lookup: [PickleValue: PickleValue] = [:]
        lookup.reserveCapacity(right.count)
        for pair in right { lookup[pair.key] = pair.value }
        return left.allSatisfy { lookup[$0.key] == $0.value }
    }

    private static func setsEqual(_ a: [PickleValue], _ b: [PickleValue]) -> Bool {
        if a == b { return true }
        return Swift.Set(a) == Swift.Set(b)
    }
}
