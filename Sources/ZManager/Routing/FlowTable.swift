/// All flows known to a process, looked up by name, with DigitalPy's first-match stepping.
///
/// Built once at start-up (from a directory of `*.ini` files, one file, a string or code) and
/// then only read, so it is a plain `Sendable` value that every socket thread can hold.
/// Flows keep their load order, and their position is their index: the runtime can refer to
/// "flow 3, step 2" with integers (see ``flowIndex(named:)``, ``stepIndex(of:)`` and
/// ``ResolvedFlowTable``) instead of hashing strings per message.
public struct FlowTable: Sendable {
    /// The flows in load order (files sorted by name, then file order).
    public let flows: [Flow]
    private let indexByName: [String: Int]
    /// The same flows as bytes, for lookups from a received header (see `FlowByteIndex.swift`).
    let byteIndex: FlowByteIndex

    /// An empty table.
    public init() {
        flows = []
        indexByName = [:]
        byteIndex = FlowByteIndex([])
    }

    /// A table of the given flows.
    ///
    /// - Throws: ``FlowFileError`` for a duplicate name (naming both definitions), a flow that
    ///   does not end with `??done`, or a flow that would loop (``Flow/firstLoopingStep``).
    public init(_ flows: [Flow]) throws(FlowFileError) {
        var index: [String: Int] = [:]
        for (position, flow) in flows.enumerated() {
            if let earlier = index[flow.name] {
                throw FlowFileError(
                    location: flow.location,
                    problem: .duplicateFlow(flow.name, firstDefinedAt: flows[earlier].location))
            }
            guard flow.endsWithDone else {
                throw FlowFileError(
                    location: flow.location, problem: .missingDone(flow: flow.name, lastStep: flow.steps.last))
            }
            if let (k, j) = flow.firstLoopingStep {
                throw FlowFileError(
                    location: flow.stepLocations[k],
                    problem: .shadowedStep(flow: flow.name, step: flow.steps[k], index: k,
                                           shadowedBy: flow.steps[j], shadowingIndex: j, at: flow.stepLocations[j]))
            }
            index[flow.name] = position
        }
        self.flows = flows
        self.indexByName = index
        self.byteIndex = FlowByteIndex(flows)
    }

    /// Parses flow-file text (handy in tests). `path` appears in error messages.
    public init(parsing text: String, path: String = "<string>") throws(FlowFileError) {
        try self.init(FlowFile.parse(text, path: path))
    }

    /// Loads one flow file.
    public init(contentsOfFile path: String) throws(FlowFileError) {
        try self.init(FlowFile.load(path))
    }

    /// Loads the given flow files in the given order; a flow name may appear in only one of them.
    public init(contentsOfFiles paths: [String]) throws(FlowFileError) {
        var all: [Flow] = []
        for path in paths { all += try FlowFile.load(path) }
        try self.init(all)
    }

    /// Loads every `*.ini` file directly in `directory` (hidden files skipped), in byte order of
    /// their names, so the result, and which of two duplicates is called the first, never
    /// depends on the file system's listing order.
    public init(contentsOfDirectory directory: String) throws(FlowFileError) {
        let paths: [String]
        do {
            paths = try ConfigurationFiles.iniFiles(in: directory)
        } catch {
            throw FlowFileError(location: SourceLocation(path: error.path, line: 0), problem: .unreadable(error.reason))
        }
        try self.init(contentsOfFiles: paths)
    }

    /// The flow with this name.
    public func flow(named name: String) -> Flow? {
        indexByName[name].map { flows[$0] }
    }

    /// The position of the flow with this name in ``flows``.
    public func flowIndex(named name: String) -> Int? {
        indexByName[name]
    }

    /// In the flow named by `key.config`, the index of the **first** step that wildcard-matches
    /// `key`; `nil` for an unknown flow or when no step matches.
    public func stepIndex(of key: ActionKey) -> Int? {
        flow(named: key.config)?.stepIndex(of: key)
    }

    /// DigitalPy's `get_next_action`: in the flow named by `key.config`, the step after the first
    /// step matching `key`. `nil` when the flow is unknown, no step matches, or the matching step
    /// is the last one. The returned step carries the flow name in `config`.
    public func nextStep(after key: ActionKey) -> ActionKey? {
        flow(named: key.config)?.nextStep(after: key)
    }

    /// DigitalPy's `is_end_of_flow`: true for a done key and for `nil` (no next step), so the
    /// result of ``nextStep(after:)`` can be tested directly.
    public static func isEndOfFlow(_ key: ActionKey?) -> Bool {
        key?.isEndOfFlow ?? true
    }
}
