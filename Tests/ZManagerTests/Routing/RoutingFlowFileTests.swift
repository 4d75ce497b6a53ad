import Testing
@testable import ZManager

@Suite("Routing: flow files")
struct RoutingFlowFileTests {
    @Test("comments, blank lines, whitespace, trailing comments and CRLF are accepted")
    func parsesValidFile() throws {
        let text = """
            ; core flows
            # another comment style

              [IAMConnection]   ; trailing comment on a header
            ?IAMConnection?Push
                Subject?IAMConnection?Connection   # the IAM component's step
            ??done\r
            [ServiceManagement_GetServiceTopics]\r
            ?ServiceManagement_GetServiceTopics?Push
            Subject?ServiceManagement__GetServiceTopics@PUBLISH?get_service_topics;comment
            ?ServiceManagement__GetServiceTopics@ASYNC?get_service_topics_response
            ??done
            """
        let flows = try FlowFile.parse(text, path: "core_flows.ini")
        #expect(flows.map(\.name) == ["IAMConnection", "ServiceManagement_GetServiceTopics"])
        #expect(flows[0].steps.map(\.text)
            == ["?IAMConnection?Push", "Subject?IAMConnection?Connection", "??done"])
        #expect(flows[0].location == SourceLocation(path: "core_flows.ini", line: 4))
        #expect(flows[1].location == SourceLocation(path: "core_flows.ini", line: 8))
        #expect(flows[1].steps[1].decorator == "PUBLISH")
        #expect(flows[1].steps[2].decorator == "ASYNC")
        for flow in flows {
            #expect(flow.steps.allSatisfy { $0.config == flow.name })
        }
    }

    @Test("an empty file, or one with only comments, has no flows")
    func emptyFile() throws {
        #expect(try FlowFile.parse("", path: "f.ini").isEmpty)
        #expect(try FlowFile.parse("; nothing\n\n# here\n", path: "f.ini").isEmpty)
    }

    static let invalid: [(text: String, message: String)] = [
        ("; flows\n\n?X?Push\n[X]\n??done",
         "flows.ini:3: step \"?X?Push\" appears before any [section]; expected a [FlowName] header first"),
        ("[X]\n?X\n??done",
         "flows.ini:2: malformed step \"?X\": at column 3 expected '@' and a decorator, or '?' and the action,"
            + " after the context, found the end"),
        ("[X]\n   ?X?Pu sh\n??done",
         "flows.ini:2: malformed step \"?X?Pu sh\": at column 10 expected the end of the key or '= target'"
            + " after the action, found 's'"),
        ("[X]\n?X?Push\n??done junk # c",
         "flows.ini:3: malformed step \"??done junk\": at column 8 expected the end of the key or '= target'"
            + " after the action, found 'j'"),
        ("[X]\n??done\n\n[X]\n??done",
         "flows.ini:4: duplicate flow \"X\": already defined at flows.ini:1; expected each flow name once"),
        ("[]\n??done", "flows.ini:1: empty section name \"[]\"; expected [FlowName]"),
        ("[X]\n??done\n[   ]\n??done", "flows.ini:3: empty section name \"[   ]\"; expected [FlowName]"),
        ("[My Flow]\n??done",
         "flows.ini:1: invalid flow name \"My Flow\": ' ' at column 4 is not allowed;"
            + " expected letters, digits, '_', '-' or '^'"),
        ("  [ Bad~Flow ]\n??done",
         "flows.ini:1: invalid flow name \"Bad~Flow\": '~' at column 8 is not allowed;"
            + " expected letters, digits, '_', '-' or '^'"),
        ("[X\n??done", "flows.ini:1: malformed section header \"[X\"; expected [FlowName] with a closing ']'"),
        ("[X]\n?X?Push\nSubject?X?Do\n\n; end",
         "flows.ini:3: flow \"X\" ends with \"Subject?X?Do\"; expected its last step to be ??done"
            + " (without it the flow has no defined end: no result is published, and DigitalPy's core"
            + " services crash when their step is the last one)"),
        ("[X]\n?X?Push\n[Y]\n??done",
         "flows.ini:2: flow \"X\" ends with \"?X?Push\"; expected its last step to be ??done"
            + " (without it the flow has no defined end: no result is published, and DigitalPy's core"
            + " services crash when their step is the last one)"),
        ("[X]\n[Y]\n??done", "flows.ini:1: flow \"X\" has no steps; expected steps ending with ??done"),
        ("[X]\n??done\nS??done",
         "flows.ini:3: flow \"X\" ends with \"S??done\"; expected its last step to be ??done"
            + " (without it the flow has no defined end: no result is published, and DigitalPy's core"
            + " services crash when their step is the last one)"),
    ]

    @Test("invalid flow files: file, line and what was expected", arguments: invalid)
    func rejectsInvalid(_ text: String, _ message: String) {
        let error = #expect(throws: FlowFileError.self) { try FlowFile.parse(text, path: "flows.ini") }
        #expect(error?.description == message)
        #expect(error?.location.path == "flows.ini")
    }

    @Test("a directory loads *.ini files in name order and skips everything else")
    func loadsDirectory() throws {
        try withTemporaryDirectory(files: [
            "b.ini": "[B]\n??done\n",
            "a.ini": "[A2]\n??done\n[A1]\n??done\n",
            "notes.txt": "not a flow file",
            ".hidden.ini": "garbage that would not parse",
            "sub.ini/": "",
        ]) { directory in
            let table = try FlowTable(contentsOfDirectory: directory)
            #expect(table.flows.map(\.name) == ["A2", "A1", "B"])
            #expect(table.flow(named: "B")?.location == SourceLocation(path: directory + "/b.ini", line: 1))
            #expect(table.flowIndex(named: "A1") == 1)
            let again = try FlowTable(contentsOfDirectory: directory + "/")
            #expect(again.flows == table.flows)
        }
    }

    @Test("a flow defined in two files is an error naming both places")
    func duplicateAcrossFiles() throws {
        try withTemporaryDirectory(files: [
            "a.ini": "; a\n[Other]\n??done\n[Echo]\n?Echo?Push\n??done\n",
            "b.ini": "[Echo]\n??done\n",
        ]) { directory in
            let error = #expect(throws: FlowFileError.self) { try FlowTable(contentsOfDirectory: directory) }
            #expect(error?.description
                == "\(directory)/b.ini:1: duplicate flow \"Echo\": already defined at \(directory)/a.ini:4;"
                + " expected each flow name once")
        }
    }

    @Test("an error in one file of a directory names that file and line")
    func errorInDirectoryFile() throws {
        try withTemporaryDirectory(files: ["a.ini": "[A]\n??done\n", "b.ini": "[B]\n?B?Push\n??don e\n"]) { directory in
            let error = #expect(throws: FlowFileError.self) { try FlowTable(contentsOfDirectory: directory) }
            #expect(error?.location == SourceLocation(path: directory + "/b.ini", line: 3))
        }
    }

    @Test("missing files and directories are reported, not treated as empty")
    func missingPaths() throws {
        try withTemporaryDirectory(files: ["f.ini": "[F]\n??done\n"]) { directory in
            let noDirectory = #expect(throws: FlowFileError.self) {
                try FlowTable(contentsOfDirectory: directory + "/nope")
            }
            #expect(noDirectory?.description == "\(directory)/nope: cannot load flows: no such directory")
            let notDirectory = #expect(throws: FlowFileError.self) {
                try FlowTable(contentsOfDirectory: directory + "/f.ini")
            }
            #expect(notDirectory?.description == "\(directory)/f.ini: cannot load flows: is not a directory")
            let noFile = #expect(throws: FlowFileError.self) {
                try FlowTable(contentsOfFile: directory + "/g.ini")
            }
            #expect(noFile?.description == "\(directory)/g.ini: cannot load flows: no such file")
            let single = try FlowTable(contentsOfFile: directory + "/f.ini")
            #expect(single.flows.count == 1)
        }
    }

    @Test("an empty directory gives an empty table")
    func emptyDirectory() throws {
        try withTemporaryDirectory(files: [:]) { directory in
            let table = try FlowTable(contentsOfDirectory: directory)
            #expect(table.flows.isEmpty)
        }
    }
}
