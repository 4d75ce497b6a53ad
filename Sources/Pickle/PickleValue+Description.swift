extension PickleValue: CustomStringConvertible {
    /// A Python-like `repr`, for logs and test failures: `{'payload': b'xx', 'seq': 5}`.
    ///
    /// It follows Python's notation closely but is not guaranteed byte-identical to `repr()`
    /// (non-printable non-ASCII characters, for one, are not escaped).
    public var description: String {
        var text = ""
        write(to: &text)
        return text
    }

    private func write(to text: inout String) {
        switch self {
        case .none:
            text += "None"
        case .bool(let flag):
            text += flag ? "True" : "False"
        case .int(let number):
            text += String(number)
        case .bigInt(let big):
            text += big.description
        case .float(let number):
            text += number.description
        case .string(let string):
            PickleValue.writeQuoted(string, to: &text)
        case .bytes(let bytes):
            PickleValue.writeBytes(bytes, to: &text)
        case .bytearray(let bytes):
            text += "bytearray("
            PickleValue.writeBytes(bytes, to: &text)
            text += ")"
        case .list(let elements):
            text += "["
            PickleValue.writeElements(elements, to: &text)
            text += "]"
        case .tuple(let elements):
            text += "("
            PickleValue.writeElements(elements, to: &text)
            if elements.count == 1 { text += "," }
            text += ")"
        case .dict(let pairs):
            text += "{"
            for (index, pair) in pairs.enumerated() {
                if index > 0 { text += ", " }
                pair.key.write(to: &text)
                text += ": "
                pair.value.write(to: &text)
            }
            text += "}"
        case .set(let elements):
            if elements.isEmpty {
                text += "set()"
            } else {
                text += "{"
                PickleValue.writeElements(elements, to: &text)
                text += "}"
            }
        case .frozenset(let elements):
            text += "frozenset("
            if !elements.isEmpty {
                text += "{"
                PickleValue.writeElements(elements, to: &text)
                text += "}"
            }
            text += ")"
        }
    }

    private static func writeElements(_ elements: [PickleValue], to text: inout String) {
        for (index, element) in elements.enumerated() {
            if index > 0 { text += ", " }
            element.write(to: &text)
        }
    }

    private static let hexDigits = Array("0123456789abcdef")

    private static func writeQuoted(_ string: String, to text: inout String) {
        let quote: Character = string.contains("'") && !string.contains("\"") ? "\"" : "'"
        text.append(quote)
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\\": text += "\\\\"
            case "\n": text += "\\n"
            case "\r": text += "\\r"
            case "\t": text += "\\t"
            case _ where Character(scalar) == quote: text += "\\" + String(quote)
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                text += "\\x"
                text.append(hexDigits[Int(scalar.value >> 4)])
                text.append(hexDigits[Int(scalar.value & 0xF)])
            default: text.unicodeScalars.append(scalar)
            }
        }
        text.append(quote)
    }

    private static func writeBytes(_ bytes: [UInt8], to text: inout String) {
        let hasSingle = bytes.contains(UInt8(ascii: "'"))
        let quote: UInt8 = hasSingle && !bytes.contains(UInt8(ascii: "\"")) ? UInt8(ascii: "\"") : UInt8(ascii: "'")
        text += "b"
        text.unicodeScalars.append(Unicode.Scalar(quote))
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "\\"): text += "\\\\"
            case UInt8(ascii: "\n"): text += "\\n"
            case UInt8(ascii: "\r"): text += "\\r"
            case UInt8(ascii: "\t"): text += "\\t"
            case quote: text += "\\" + String(Unicode.Scalar(quote))
            case 0x20..<0x7F: text.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                text += "\\x"
                text.append(hexDigits[Int(byte >> 4)])
                text.append(hexDigits[Int(byte & 0xF)])
            }
        }
        text.unicodeScalars.append(Unicode.Scalar(quote))
    }
}
