import Testing
@testable import ZManager

@Suite("Routing: action keys")
struct RoutingActionKeyTests {
    struct Valid: Sendable, CustomTestStringConvertible {
        let text: String
        let source: String
        let context: String
        let decorator: String
        let action: String
        let target: String?
        /// What `text` formats back to.
        let canonical: String
        var testDescription: String { "\"\(text)\"" }
    }

    static let valid: [Valid] = [
        Valid(text: "Subject?IAMConnection?Connection", source: "Subject", context: "IAMConnection",
              decorator: "", action: "Connection", target: nil, canonical: "Subject?IAMConnection?Connection"),
        Valid(text: "?IAMConnection?Push", source: "", context: "IAMConnection",
              decorator: "", action: "Push", target: nil, canonical: "?IAMConnection?Push"),
        Valid(text: "??done", source: "", context: "", decorator: "", action: "done", target: nil,
              canonical: "??done"),
        Valid(text: "??", source: "", context: "", decorator: "", action: "", target: nil, canonical: "??"),
        Valid(text: "Subject?ServiceManagement__GetServiceTopics@PUBLISH?get_service_topics",
              source: "Subject", context: "ServiceManagement__GetServiceTopics", decorator: "PUBLISH",
              action: "get_service_topics", target: nil,
              canonical: "Subject?ServiceManagement__GetServiceTopics@PUBLISH?get_service_topics"),
        Valid(text: "?ServiceManagement__GetServiceTopics@ASYNC?get_service_topics_response",
              source: "", context: "ServiceManagement__GetServiceTopics", decorator: "ASYNC",
              action: "get_service_topics_response", target: nil,
              canonical: "?ServiceManagement__GetServiceTopics@ASYNC?get_service_topics_response"),
        Valid(text: "?Ctx@?act", source: "", context: "Ctx", decorator: "", action: "act", target: nil,
              canonical: "?Ctx?act"),
        Valid(text: "a-b?c^d?e_f9", source: "a-b", context: "c^d", decorator: "", action: "e_f9", target: nil,
              canonical: "a-b?c^d?e_f9"),
        Valid(text: "??POSTMovie = filmology_app.components.Facade.POSTMovie", source: "", context: "",
              decorator: "", action: "POSTMovie", target: "filmology_app.components.Facade.POSTMovie",
              canonical: "??POSTMovie = filmology_app.components.Facade.POSTMovie"),
        Valid(text: "??x=a.b", source: "", context: "", decorator: "", action: "x", target: "a.b",
              canonical: "??x = a.b"),
        Valid(text: " \t??x   =\ta.b  ", source: "", context: "", decorator: "", action: "x", target: "a.b",
              canonical: "??x = a.b"),
        Valid(text: "Süd?Kontext?ação", source: "Süd", context: "Kontext", decorator: "", action: "ação",
              target: nil, canonical: "Süd?Kontext?ação"),
    ]

    @Test("parses valid keys and formats them back", arguments: valid)
    func parsesValid(_ row: Valid) throws {
        let key = try ActionKey(parsing: row.text, config: "Flow")
        #expect(key.source == row.source)
        #expect(key.context == row.context)
        #expect(key.decorator == row.decorator)
        #expect(key.action == row.action)
        #expect(key.target == row.target)
        #expect(key.config == "Flow")
        #expect(key.text == row.canonical)
        #expect(try ActionKey(parsing: key.text, config: "Flow") == key)
    }

    struct Invalid: Sendable, CustomTestStringConvertible {
        let text: String
        let column: Int
        let expected: String
        let found: Character?
        var testDescription: String { "\"\(text)\"" }
    }

    static let invalid: [Invalid] = [
        Invalid(text: "", column: 1, expected: "'?' after the sender", found: nil),
        Invalid(text: "Subject", column: 8, expected: "'?' after the sender", found: nil),
        Invalid(text: "Sub ject?C?A", column: 4, expected: "'?' after the sender", found: " "),
        Invalid(text: "a.b?c?d", column: 2, expected: "'?' after the sender", found: "."),
        Invalid(text: "?X", column: 3,
                expected: "'@' and a decorator, or '?' and the action, after the context", found: nil),
        Invalid(text: "?X@PUBLISH", column: 11, expected: "'?' between the decorator and the action", found: nil),
        Invalid(text: "?X@PUB LISH?a", column: 7, expected: "'?' between the decorator and the action", found: " "),
        Invalid(text: "a?b?c?d", column: 6, expected: "the end of the key or '= target' after the action", found: "?"),
        Invalid(text: "a?b?c junk", column: 7, expected: "the end of the key or '= target' after the action", found: "j"),
        Invalid(text: "??x~y", column: 4, expected: "the end of the key or '= target' after the action", found: "~"),
        Invalid(text: "??x =", column: 6, expected: "a target name (letters, digits, '_' or '.') after '='", found: nil),
        Invalid(text: "??x = -a", column: 7, expected: "a target name (letters, digits, '_' or '.') after '='", found: "-"),
        Invalid(text: "??x = a b", column: 9, expected: "the end of the key after the target", found: "b"),
    ]

    @Test("rejects malformed keys, saying where and what was expected", arguments: invalid)
    func rejectsInvalid(_ row: Invalid) {
        let error = #expect(throws: ActionKeyParseError.self) { try ActionKey(parsing: row.text) }
        #expect(error?.column == row.column)
        #expect(error?.expected == row.expected)
        #expect(error?.found == row.found)
        #expect(error?.text == row.text)
    }

    @Test("the error text names the key, the column, the expectation and the form")
    func errorText() {
        let error = #expect(throws: ActionKeyParseError.self) { try ActionKey(parsing: "?X") }
        #expect(
            error?.description
                == "invalid action key \"?X\": at column 3 expected '@' and a decorator, or '?' and the action,"
                + " after the context, found the end (form: Sender?Context@Decorator?Action [= target],"
                + " parts made of letters, digits, '_', '-' or '^')")
        let other = #expect(throws: ActionKeyParseError.self) { try ActionKey(parsing: "a b?c?d") }
        #expect(other?.reason == "at column 2 expected '?' after the sender, found ' '")
    }

    @Test("formats keys built in code")
    func formatsBuiltKeys() {
        #expect(ActionKey().text == "??")
        #expect(ActionKey(decorator: "ASYNC", context: "C", action: "a").text == "?C@ASYNC?a")
        #expect(ActionKey(source: "S", action: "a", target: "x.y").description == "S??a = x.y")
        #expect(ActionKey(config: "F", source: "S", action: "a").debugDescription == "[F] S??a")
    }

    static let matching: [(String, String, Bool)] = [
        ("Subject?Ctx?Echo", "?Ctx@ASYNC?Echo", true),  // the reference's own example
        ("a?b?c", "a?b?c", true),
        ("a?b?c", "x?b?c", false),
        ("a?b?c", "a?x?c", false),
        ("a?b?c", "a?b?x", false),
        ("??", "a?b@D?c", true),
        ("?X@PUBLISH?a", "?X@ASYNC?a", false),
        ("?X@PUBLISH?a", "?X@publish?a", false),  // case-sensitive, like the reference
        ("??done", "??Done", false),
        ("S??", "?C?a", true),
    ]

    @Test("wildcard matching: equal or either side empty, symmetric", arguments: matching)
    func matches(_ a: String, _ b: String, _ expected: Bool) throws {
        let x = try ActionKey(parsing: a), y = try ActionKey(parsing: b)
        #expect(x.matches(y) == expected)
        #expect(y.matches(x) == expected)
    }

    @Test("matching ignores config and target; == does not")
    func matchIgnoresConfigAndTarget() {
        let a = ActionKey(config: "F1", source: "S", action: "a", target: "x.y")
        let b = ActionKey(config: "F2", source: "S", action: "a")
        #expect(a.matches(b))
        #expect(a != b)
        #expect(ActionKey(config: "F", action: "a") == ActionKey(config: "F", action: "a"))
    }

    static let ends: [(String, Bool)] = [
        ("??done", true), ("?@PUBLISH?done", true), ("S??done", false), ("?C?done", false),
        ("??Done", false), ("??", false),
    ]

    @Test("end of flow: action done with empty context and source", arguments: ends)
    func endOfFlow(_ text: String, _ expected: Bool) throws {
        #expect(try ActionKey(parsing: text).isEndOfFlow == expected)
    }

    @Test("decorator constants and predicates")
    func decorators() throws {
        #expect(Decorator.publish == "PUBLISH")
        #expect(Decorator.async == "ASYNC")
        #expect(try ActionKey(parsing: "?C@PUBLISH?a").isPublish)
        #expect(try !ActionKey(parsing: "?C@publish?a").isPublish)
        #expect(try ActionKey(parsing: "?C@ASYNC?a").isAsync)
    }
}
