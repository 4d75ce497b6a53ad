/// Parsing the text form `Sender?Context@Decorator?Action [= target]`.
///
/// The grammar is DigitalPy's `deserialize_from_ini` regex, with two deliberate differences:
/// the whole text must be consumed (the reference matches only a prefix, so `a?b?c junk` and
/// `a?b?c?d` were silently accepted as `a?b?c`), and a target after `=` must not be empty.
/// Failing loudly at load time is cheaper than a flow step that never matches at run time.
extension ActionKey {
    /// Parses the text form. Leading and trailing spaces/tabs are ignored, and so are spaces
    /// around `=`.
    ///
    /// - Parameters:
    ///   - text: e.g. `Subject?IAMConnection?Connection` or `??POSTMovie = app.Facade.POSTMovie`.
    ///   - config: the flow name to store in ``config`` (the text form has no place for it).
    /// - Throws: ``ActionKeyParseError`` naming the 1-based column and what was expected there.
    public init(parsing text: String, config: String = "") throws(ActionKeyParseError) {
        self = try ActionKeyParser.parse(text, config: config, columnOffset: 0)
    }
}

/// Why a text is not an action key: the column (1-based, in Unicode scalars) where parsing
/// stopped, what the parser expected there and what it found instead.
public struct ActionKeyParseError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The text that failed to parse, as given.
    public let text: String
    /// 1-based column of the offending character (or one past the end when the text ended early).
    /// When the text came from a file line, this is the column in that line.
    public let column: Int
    /// What would have been accepted at ``column``, in words, e.g. `'?' after the sender`.
    public let expected: String
    /// The character found at ``column``; `nil` when the text ended there.
    public let found: Character?

    public init(text: String, column: Int, expected: String, found: Character?) {
        self.text = text
        self.column = column
        self.expected = expected
        self.found = found
    }

    /// The problem without the offending text, for messages that already quote it:
    /// `at column 3 expected '?' before the action, found the end`.
    public var reason: String {
        let what = found.map { "'\($0)'" } ?? "the end"
        return "at column \(column) expected \(expected), found \(what)"
    }

    public var description: String {
        "invalid action key \"\(text)\": \(reason) (form: Sender?Context@Decorator?Action"
            + " [= target], parts made of letters, digits, '_', '-' or '^')"
    }
}

/// Which characters may appear where. Shared by the key parser and the flow-name check.
enum KeyCharacters {
    /// DigitalPy's `[\w^\-_]`: Python's `\w` (Unicode letters and digits, `_`) plus `-` and `^`.
    static func isPartCharacter(_ s: Unicode.Scalar) -> Bool {
        if s.isASCII {
            switch s.value {
            case 0x30...0x39, 0x41...0x5A, 0x61...0x7A, 0x5F, 0x2D, 0x5E: return true
            default: return false
            }
        }
        return isUnicodeWordCharacter(s)
    }

    /// A mapping target: the reference's `[\w\.]`, i.e. a dotted name like `pkg.Class.method`.
    static func isTargetCharacter(_ s: Unicode.Scalar) -> Bool {
        if s.isASCII {
            switch s.value {
            case 0x30...0x39, 0x41...0x5A, 0x61...0x7A, 0x5F, 0x2E: return true
            default: return false
            }
        }
        return isUnicodeWordCharacter(s)
    }

    /// Python's `str.isalnum()` outside ASCII: letters and numbers of any script.
    private static func isUnicodeWordCharacter(_ s: Unicode.Scalar) -> Bool {
        switch s.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
            .decimalNumber, .letterNumber, .otherNumber:
            return true
        default:
            return false
        }
    }

    static func isBlank(_ s: Unicode.Scalar) -> Bool { s == " " || s == "\t" }

    /// Used in messages about flow names and key parts.
    static let partCharactersInWords = "letters, digits, '_', '-' or '^'"
}

/// A hand-written scanner rather than a regex: it knows *where* and *why* it stopped, which
/// is what the error messages need, and it runs without Foundation.
enum ActionKeyParser {
    /// - Parameter columnOffset: added to every reported column, for text cut out of a longer
    ///   line (so errors point at the column in the file, not in the fragment).
    static func parse(
        _ text: String, config: String, columnOffset: Int
    ) throws(ActionKeyParseError) -> ActionKey {
        let scalars = Array(text.unicodeScalars)
        var i = 0

        func fail(_ expected: String) -> ActionKeyParseError {
            ActionKeyParseError(
                text: text,
                column: columnOffset + i + 1,
                expected: expected,
                found: i < scalars.count ? Character(scalars[i]) : nil)
        }
        func skipBlanks() {
            while i < scalars.count, KeyCharacters.isBlank(scalars[i]) { i += 1 }
        }
        func take(_ accepts: (Unicode.Scalar) -> Bool) -> String {
            var part = String.UnicodeScalarView()
            while i < scalars.count, accepts(scalars[i]) {
                part.append(scalars[i])
                i += 1
            }
            return String(part)
        }
        func eat(_ c: Unicode.Scalar) -> Bool {
            guard i < scalars.count, scalars[i] == c else { return false }
            i += 1
            return true
        }

        skipBlanks()
        let source = take(KeyCharacters.isPartCharacter)
        guard eat("?") else { throw fail("'?' after the sender") }
        let context = take(KeyCharacters.isPartCharacter)
        var decorator = ""
        if eat("@") {
            decorator = take(KeyCharacters.isPartCharacter)
            guard eat("?") else { throw fail("'?' between the decorator and the action") }
        } else if !eat("?") {
            throw fail("'@' and a decorator, or '?' and the action, after the context")
        }
        let action = take(KeyCharacters.isPartCharacter)
        skipBlanks()
        var target: String?
        if eat("=") {
            skipBlanks()
            let name = take(KeyCharacters.isTargetCharacter)
            guard !name.isEmpty else {
                throw fail("a target name (letters, digits, '_' or '.') after '='")
            }
            target = name
            skipBlanks()
            guard i == scalars.count else { throw fail("the end of the key after the target") }
        } else if i < scalars.count {
            throw fail("the end of the key or '= target' after the action")
        }
        return ActionKey(
            config: config, decorator: decorator, source: source, context: context,
            action: action, target: target)
    }
}
