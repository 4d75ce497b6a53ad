import Testing
@testable import ZManager

@Suite("Routing: action mapping")
struct RoutingActionMappingTests {
    /// A mapping whose entries map each pattern to a target named after it, so the winner is
    /// visible in the result (`S?C?A` → `t.S_C_A`, `?@ASYNC?A` → `t._ASYNC_A`).
    static func mapping(_ patterns: [String]) throws -> ActionMapping {
        let lines = patterns.map { pattern in
            "\(pattern) = \(targetName(pattern))"
        }
        return try ActionMapping(parsing: "[actionmapping]\n" + lines.joined(separator: "\n"), path: "m.ini")
    }

    static func targetName(_ pattern: String) -> String {
        "t." + pattern.replacingQuestionAndAt()
    }

    struct Row: Sendable, CustomTestStringConvertible {
        let entries: [String]
        let request: String
        let winner: String?
        var testDescription: String { "\(request) among \(entries) → \(winner ?? "nil")" }
    }

    /// Each row: the entries present (in file order), the request key, and which entry must win.
    static let order: [Row] = [
        Row(entries: ["?C?", "??A", "S??", "S?C?", "?C?A", "S??A", "S?C?A"], request: "S?C?A", winner: "S?C?A"),
        Row(entries: ["?C?", "??A", "S??", "S?C?", "?C?A", "S??A"], request: "S?C?A", winner: "S??A"),
        Row(entries: ["?C?", "??A", "S??", "S?C?", "?C?A"], request: "S?C?A", winner: "?C?A"),
        Row(entries: ["?C?", "??A", "S??", "S?C?"], request: "S?C?A", winner: "S?C?"),
        Row(entries: ["?C?", "??A", "S??"], request: "S?C?A", winner: "S??"),
        Row(entries: ["?C?", "??A"], request: "S?C?A", winner: "??A"),
        Row(entries: ["??A", "?C?"], request: "S?C?A", winner: "??A"),  // file order does not matter
        Row(entries: ["?C?"], request: "S?C?A", winner: "?C?"),
        Row(entries: ["??"], request: "S?C?A", winner: nil),  // no catch-all
        Row(entries: ["X?C?A", "S?X?A", "S?C?X", "X??", "?X?"], request: "S?C?A", winner: nil),
        Row(entries: ["??A", "?C?A"], request: "?C?A", winner: "?C?A"),
        Row(entries: ["??POSTMovie"], request: "svc?Movies?POSTMovie", winner: "??POSTMovie"),
        // Decorated entries: first the request's decorator with the same order, then plain entries.
        Row(entries: ["S?C?A", "?@ASYNC?A"], request: "S?C@ASYNC?A", winner: "?@ASYNC?A"),
        Row(entries: ["S?C?A", "?@PUBLISH?A"], request: "S?C@ASYNC?A", winner: "S?C?A"),
        Row(entries: ["?@ASYNC?A", "S?C@ASYNC?"], request: "S?C@ASYNC?A", winner: "S?C@ASYNC?"),
        Row(entries: ["?@async?A"], request: "S?C@ASYNC?A", winner: nil),  // case-sensitive
        Row(entries: ["?@async?A", "??A"], request: "S?C@ASYNC?A", winner: "??A"),
        Row(entries: ["?@ASYNC?A"], request: "S?C?A", winner: nil),  // plain requests use plain entries
        Row(entries: ["?@ASYNC?A", "??A"], request: "S?C?A", winner: "??A"),
        Row(entries: ["?X@PUBLISH?get_service_topics"], request: "Subject?X@PUBLISH?get_service_topics",
            winner: "?X@PUBLISH?get_service_topics"),
    ]

    @Test("resolution order: s?c?a, s??a, ?c?a, s?c?, s??, ??a, ?c?; decorated entries first", arguments: order)
    func resolutionOrder(_ row: Row) throws {
        let mapping = try Self.mapping(row.entries)
        let request = try ActionKey(parsing: row.request, config: "SomeFlow")
        let handler = mapping.resolve(request)
        #expect(mapping.target(for: request) == row.winner.map(Self.targetName))
        #expect(handler.map { mapping[$0].pattern.text } == row.winner)
    }

    @Test("resolving hands back a handler, and the request keeps its flow name")
    func resolutionKeepsConfig() throws {
        let mapping = try Self.mapping(["??Echo"])
        let request = try ActionKey(parsing: "Subject?EchoFlow?Echo", config: "EchoFlow")
        let handler = try #require(mapping.resolve(request))
        #expect(handler == HandlerID(index: 0))
        #expect(request.config == "EchoFlow")
        #expect(mapping[handler].pattern.config == "")  // a pattern, never a routing key
        #expect(mapping[handler].pattern.target == nil)
        #expect(mapping[handler].target == "t.__Echo")
    }

    @Test("a file: comments, blank lines, other sections ignored, section name case-insensitive")
    func parsesFile() throws {
        let text = """
            ; component mapping
            [other]
            this line is not checked = at all ?!
            [ActionMapping]
              ??POSTMovie = filmology_app.components.Facade.POSTMovie   ; trailing comment
            # whole-line comment
            Subject?IAM@PUBLISH?Connection=iam.IAMFacade.connection

            [actionmapping]
            ?Ctx?done = x.y
            """
        let mapping = try ActionMapping(parsing: text, path: "m.ini")
        #expect(mapping.entries.map(\.pattern.text)
            == ["??POSTMovie", "Subject?IAM@PUBLISH?Connection", "?Ctx?done"])
        #expect(mapping.entries.map(\.target)
            == ["filmology_app.components.Facade.POSTMovie", "iam.IAMFacade.connection", "x.y"])
        #expect(mapping.entries.map(\.location.line) == [5, 7, 10])
        #expect(mapping.target(for: try ActionKey(parsing: "Subject?IAM@PUBLISH?Connection"))
            == "iam.IAMFacade.connection")
    }

    static let invalid: [(text: String, message: String)] = [
        ("??x = a.b", "m.ini:1: entry \"??x = a.b\" appears before any [section]; expected an [actionmapping] header first"),
        ("[actionmapping]\n??x", "m.ini:2: entry \"??x\" has no target; expected \"ActionKey = dotted.target.name\""),
        ("[actionmapping]\n  ??x = ", "m.ini:2: malformed entry \"??x =\": at column 8 expected a target name"
            + " (letters, digits, '_' or '.') after '=', found the end"),
        ("[actionmapping]\nS?x = a.b", "m.ini:2: malformed entry \"S?x = a.b\": at column 4 expected '@' and a"
            + " decorator, or '?' and the action, after the context, found ' '"),
        ("[actionmapping\n??x = a", "m.ini:1: malformed section header \"[actionmapping\"; expected [section] with a closing ']'"),
        ("[actionmapping]\n??x = a.b\n\n??x=c.d",
         "m.ini:4: action key \"??x\" is mapped twice: to \"c.d\" here and to \"a.b\" at m.ini:2; expected each key once"),
        ("[actionmapping]\nS?C@ASYNC?x = a.b\n[actionmapping]\nS?C@ASYNC?x = a.b",
         "m.ini:4: action key \"S?C@ASYNC?x\" is mapped twice: to \"a.b\" here and to \"a.b\" at m.ini:2;"
            + " expected each key once"),
    ]

    @Test("invalid mapping files: file, line and what was expected", arguments: invalid)
    func rejectsInvalid(_ text: String, _ message: String) {
        let error = #expect(throws: ActionMappingError.self) { try ActionMapping(parsing: text, path: "m.ini") }
        #expect(error?.description == message)
    }

    @Test("decorated and plain entries for the same action are different keys")
    func decoratedIsNotDuplicate() throws {
        let mapping = try Self.mapping(["??x", "?@PUBLISH?x", "?@ASYNC?x"])
        #expect(mapping.entries.count == 3)
    }

    @Test("a directory of mapping files; a key mapped in two files names both places")
    func directories() throws {
        try withTemporaryDirectory(files: [
            "b_component.ini": "[actionmapping]\n??Echo = b.Echo\n",
            "a_component.ini": "[actionmapping]\n; echo\n??Ping = a.Ping\n??Echo = a.Echo\n",
        ]) { directory in
            let error = #expect(throws: ActionMappingError.self) {
                try ActionMapping(contentsOfDirectory: directory)
            }
            #expect(error?.description
                == "\(directory)/b_component.ini:2: action key \"??Echo\" is mapped twice: to \"b.Echo\" here"
                + " and to \"a.Echo\" at \(directory)/a_component.ini:4; expected each key once")
        }
        try withTemporaryDirectory(files: [
            "b.ini": "[actionmapping]\n??Echo = b.Echo\n",
            "a.ini": "[actionmapping]\n??Ping = a.Ping\n",
            "readme.md": "??Echo = not.loaded",
        ]) { directory in
            let mapping = try ActionMapping(contentsOfDirectory: directory)
            #expect(mapping.entries.map(\.target) == ["a.Ping", "b.Echo"])
            #expect(mapping.entries[1].location == SourceLocation(path: directory + "/b.ini", line: 2))
            let missing = #expect(throws: ActionMappingError.self) {
                try ActionMapping(contentsOfDirectory: directory + "/none")
            }
            #expect(missing?.description == "\(directory)/none: cannot load the action mapping: no such directory")
        }
    }
}

extension String {
    /// `S?C@ASYNC?A` → `S_C_ASYNC_A`, a valid target-name fragment.
    fileprivate func replacingQuestionAndAt() -> String {
        String(map { $0 == "?" || $0 == "@" ? "_" : $0 })
    }
}
