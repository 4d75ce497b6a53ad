/// Reading flow files: `[FlowName]` sections, each followed by its steps, one action key a line.
///
/// ```
/// [IAMConnection]
/// ?IAMConnection?Push
/// Subject?IAMConnection?Connection   # the IAM component's step
/// ??done
/// ```
///
/// DigitalPy's parser silently ignores every line it does not understand (a typo in a step
/// just removes that step) and dies with `UnboundLocalError` on a step before any section.
/// Here every line must be a section header or a valid step, and each problem is reported
/// with the file, the line and what was expected. Duplicate flow names are an error too
/// (DigitalPy keeps whichever was loaded last), and so is a flow that does not end in `??done`.
public enum FlowFile {
    /// Parses the text of one flow file. `path` is only used in error messages and locations.
    public static func parse(_ text: String, path: String) throws(FlowFileError) -> [Flow] {
        var flows: [Flow] = []
        var firstDefinition: [String: SourceLocation] = [:]
        // The section being read: its name, header location, steps and the last step's line.
        var current: (name: String, location: SourceLocation, steps: [ActionKey], stepLocations: [SourceLocation], lastLine: Int)?

        func finish() throws(FlowFileError) {
            guard let section = current else { return }
            let flow = Flow(name: section.name, steps: section.steps, location: section.location,
                            stepLocations: section.stepLocations)
            guard flow.endsWithDone else {
                let line = section.steps.isEmpty ? section.location.line : section.lastLine
                throw FlowFileError(
                    location: SourceLocation(path: path, line: line),
                    problem: .missingDone(flow: section.name, lastStep: section.steps.last))
            }
            flows.append(flow)
        }

        for line in ConfigurationLine.lines(of: text) {
            let here = SourceLocation(path: path, line: line.number)
            switch line.kind {
            case .malformedSection:
                throw FlowFileError(location: here, problem: .malformedSectionHeader(String(line.content)))
            case .section:
                try finish()
                let name = try flowName(in: line, at: here)
                if let first = firstDefinition[name] {
                    throw FlowFileError(location: here, problem: .duplicateFlow(name, firstDefinedAt: first))
                }
                firstDefinition[name] = here
                current = (name, here, [], [], line.number)
            case .entry:
                guard current != nil else {
                    throw FlowFileError(location: here, problem: .stepBeforeSection(String(line.content)))
                }
                let step: ActionKey
                do {
                    step = try ActionKeyParser.parse(
                        String(line.content), config: current!.name, columnOffset: line.columnOffset)
                } catch {
                    throw FlowFileError(location: here, problem: .malformedStep(String(line.content), error))
                }
                current!.steps.append(step)
                current!.stepLocations.append(here)
                current!.lastLine = line.number
            }
        }
        try finish()
        return flows
    }

    /// Reads and parses one flow file.
    public static func load(_ path: String) throws(FlowFileError) -> [Flow] {
        let text: String
        do {
            text = try ConfigurationFiles.read(path)
        } catch {
            throw FlowFileError(location: SourceLocation(path: error.path, line: 0), problem: .unreadable(error.reason))
        }
        return try parse(text, path: path)
    }

    /// The validated name of a `[name]` header. Flow names travel as the first header field and
    /// are matched by subscription prefixes, so they are held to the action-key part alphabet
    /// (which in particular excludes `~`).
    private static func flowName(in line: ConfigurationLine, at here: SourceLocation) throws(FlowFileError) -> String {
        let inner = line.content.dropFirst().dropLast()
        let leading = inner.prefix { $0.isWhitespace }.unicodeScalars.count
        let name = inner.trimmingBlanks()
        guard !name.isEmpty else {
            throw FlowFileError(location: here, problem: .emptyFlowName(String(line.content)))
        }
        for (k, scalar) in name.unicodeScalars.enumerated() where !KeyCharacters.isPartCharacter(scalar) {
            // '[' is at column columnOffset + 1, the name's first scalar after it and the blanks.
            let column = line.columnOffset + 2 + leading + k
            throw FlowFileError(
                location: here,
                problem: .invalidFlowName(String(name), column: column, found: Character(scalar)))
        }
        return String(name)
    }
}

/// A problem in a flow file or flow set: where it is and what is wrong.
///
/// The description reads like a compiler diagnostic, e.g.
/// `flows.ini:3: step "?X?Push" appears before any [section]; expected a [FlowName] header first`.
public struct FlowFileError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What is wrong.
    public enum Problem: Hashable, Sendable, CustomStringConvertible {
        /// A step line before the first `[FlowName]` header.
        case stepBeforeSection(String)
        /// A line starting with `[` that does not end with `]`.
        case malformedSectionHeader(String)
        /// `[]` or `[   ]`.
        case emptyFlowName(String)
        /// A flow name with a character outside the action-key alphabet, at the given column.
        case invalidFlowName(String, column: Int, found: Character)
        /// A step that is not a valid action key.
        case malformedStep(String, ActionKeyParseError)
        /// The flow name was already used, in this file or another one.
        case duplicateFlow(String, firstDefinedAt: SourceLocation)
        /// The flow's last step is not `??done` (`lastStep` is nil for a flow without steps).
        case missingDone(flow: String, lastStep: ActionKey?)
        /// A step always reached across a hop whose own header first-matches an earlier step:
        /// every message reaching it re-enters the flow there and loops.
        case shadowedStep(flow: String, step: ActionKey, index: Int, shadowedBy: ActionKey, shadowingIndex: Int, at: SourceLocation)
        /// The file or directory could not be read.
        case unreadable(String)

        public var description: String {
            switch self {
            case .stepBeforeSection(let text):
                return "step \"\(text)\" appears before any [section]; expected a [FlowName] header first"
            case .malformedSectionHeader(let text):
                return "malformed section header \"\(text)\"; expected [FlowName] with a closing ']'"
            case .emptyFlowName(let text):
                return "empty section name \"\(text)\"; expected [FlowName]"
            case .invalidFlowName(let name, let column, let found):
                return "invalid flow name \"\(name)\": '\(found)' at column \(column) is not allowed;"
                    + " expected \(KeyCharacters.partCharactersInWords)"
            case .malformedStep(let text, let error):
                return "malformed step \"\(text)\": \(error.reason)"
            case .duplicateFlow(let name, let first):
                return "duplicate flow \"\(name)\": already defined at \(first); expected each flow name once"
            case .missingDone(let flow, nil):
                return "flow \"\(flow)\" has no steps; expected steps ending with ??done"
            case .missingDone(let flow, let last?):
                return "flow \"\(flow)\" ends with \"\(last.text)\"; expected its last step to be ??done"
                    + " (without it the flow has no defined end: no result is published, and"
                    + " DigitalPy's core services crash when their step is the last one)"
            case .shadowedStep(let flow, let step, let index, let earlier, let earlierIndex, let earlierLocation):
                return "flow \"\(flow)\" loops: step \(index) \"\(step.text)\" is reached across a hop, and its header"
                    + " matches step \(earlierIndex) \"\(earlier.text)\" (\(earlierLocation)) first, so every message"
                    + " reaching it re-enters at step \(earlierIndex); expected it to differ from every earlier step in a"
                    + " field both give (an empty field matches anything), e.g. give it a sender"
            case .unreadable(let reason):
                return "cannot load flows: \(reason)"
            }
        }
    }

    /// The file and 1-based line (line 0 for whole-file problems).
    public let location: SourceLocation
    public let problem: Problem

    public init(location: SourceLocation, problem: Problem) {
        self.location = location
        self.problem = problem
    }

    public var description: String { "\(location): \(problem)" }
}
