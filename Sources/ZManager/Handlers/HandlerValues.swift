public import Pickle

// Typed access to DigitalPy bodies for Swift handlers. Nothing here runs unless a handler
// asks: the core forwards bodies as bytes, so an echo step costs no decoding in either form.

extension HandlerRequest {
    /// The body decoded as a pickle: DigitalPy's `values` dict for a single-form request from
    /// a Python peer (`request.values()["name"]?.stringValue`), or whatever a Swift peer
    /// pickled into a split-form body.
    ///
    /// Decodes on every call (the body is borrowed, so nothing is cached); call it once per
    /// step. Only data is decoded — pickled Python objects (`GLOBAL`, `REDUCE`, …) are
    /// refused, never executed (see ``PickleDecoder``).
    ///
    /// - Throws: ``PickleBodyError`` naming the refused opcode and its offset. A handler
    ///   that lets it propagate turns the message into an ``ErrorKind/undecodable`` error
    ///   message with the message's id, answered to the sender in its own form.
    public func values() throws(PickleBodyError) -> PickleValue {
        try PythonBodies.decode(body)
    }

    /// ``values()``, required to be a `dict` (every DigitalPy body is one), as its pairs in
    /// order.
    ///
    /// - Throws: ``PickleBodyError`` when the body does not decode, ``HandlerError`` when it
    ///   decodes to something else than a dict.
    public func valuesDict() throws -> [(key: PickleValue, value: PickleValue)] {
        let value = try values()
        guard case .dict(let pairs) = value else {
            throw HandlerError("\(step.text): expected the body to be a pickled dict (DigitalPy's values), found \(PythonBodies.typeName(of: value))")
        }
        return pairs
    }
}

extension HandlerResponse {
    /// Replaces the body with `value` pickled at protocol 4, as DigitalPy's `pickle.dumps`
    /// writes it, so a Python peer reads it with `request.get_values()`. DigitalPy bodies are
    /// dicts: pass a ``PickleValue/dict(_:)`` (a dictionary literal works) for Python peers.
    ///
    /// The encoding is written into the response's reused storage, so a handler writing
    /// values of a steady size does not reallocate the output.
    public mutating func setValues(_ value: PickleValue) {
        storage.removeAll(keepingCapacity: true)
        PickleEncoder.encode(value, protocol: PythonBodies.pickleProtocol, into: &storage)
        isUnchanged = false
    }
}

extension PythonBodies {
    /// The Python type name of a value, for error messages.
    static func typeName(of value: PickleValue) -> String {
        switch value {
        case .none: "None"
        case .bool: "bool"
        case .int, .bigInt: "int"
        case .float: "float"
        case .string: "str"
        case .bytes: "bytes"
        case .bytearray: "bytearray"
        case .list: "list"
        case .tuple: "tuple"
        case .dict: "dict"
        case .set: "set"
        case .frozenset: "frozenset"
        }
    }
}
