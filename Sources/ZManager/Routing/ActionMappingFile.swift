/// Reading external action-mapping files:
///
/// ```
/// [actionmapping]
/// ??POSTMovie = filmology_app.components.FilmologyManagement.FilmologyManagement_facade.FilmologyManagement.POSTMovie
/// Subject?IAM@PUBLISH?Connection = iam.IAMFacade.connection   ; decorated entries resolve too
/// ```
///
/// As in DigitalPy: lines are trimmed, the key and the target are separated by the first `=`,
/// and sections other than `[actionmapping]` are ignored (their lines are not even checked).
/// Unlike it: the section name is matched case-insensitively (a `[ActionMapping]` section
/// silently ignored would be a miserable bug to find); a line that is not `key = target`, and
/// any entry before the first section, is an error with file and line; comments (`;` or `#`)
/// may also end a line; multi-line `[…]` list values are not supported (a target is one name).
public enum ActionMappingFile {
    /// The name of the section that holds the entries.
    public static let sectionName = "actionmapping"

    /// Parses the text of one mapping file. `path` is only used in error messages and locations.
    /// Duplicate keys are reported by ``ActionMapping/init(_:)``, which sees all files.
    public static func parse(_ text: String, path: String) throws(ActionMappingError) -> [MappingEntry] {
        var entries: [MappingEntry] = []
        var section: Bool?  // nil before any section, then "is it [actionmapping]?"
        for line in ConfigurationLine.lines(of: text) {
            let here = SourceLocation(path: path, line: line.number)
            switch line.kind {
            case .malformedSection:
                throw ActionMappingError(location: here, problem: .malformedSectionHeader(String(line.content)))
            case .section(let name):
                section = name.lowercased() == sectionName
            case .entry:
                guard let inMapping = section else {
                    throw ActionMappingError(location: here, problem: .entryBeforeSection(String(line.content)))
                }
                guard inMapping else { continue }
                let key: ActionKey
                do {
                    key = try ActionKeyParser.parse(String(line.content), config: "", columnOffset: line.columnOffset)
                } catch {
                    throw ActionMappingError(location: here, problem: .malformedEntry(String(line.content), error))
                }
                guard let target = key.target else {
                    throw ActionMappingError(location: here, problem: .missingTarget(String(line.content)))
                }
                entries.append(MappingEntry(pattern: key, target: target, location: here))
            }
        }
        return entries
    }

    /// Reads and parses one mapping file.
    public static func load(_ path: String) throws(ActionMappingError) -> [MappingEntry] {
        let text: String
        do {
            text = try ConfigurationFiles.read(path)
        } catch {
            throw ActionMappingError(
                location: SourceLocation(path: error.path, line: 0), problem: .unreadable(error.reason))
        }
        return try parse(text, path: path)
    }
}

/// A problem in an action-mapping file or set of files: where it is and what is wrong, e.g.
/// `b.ini:2: action key "??Echo" is mapped twice: to "b.Echo" here and to "a.Echo" at a.ini:5; expected each key once`.
public struct ActionMappingError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What is wrong.
    public enum Problem: Hashable, Sendable, CustomStringConvertible {
        /// A non-comment line before the first `[section]`.
        case entryBeforeSection(String)
        /// A line starting with `[` that does not end with `]`.
        case malformedSectionHeader(String)
        /// The key part is not a valid action key, or the target is malformed.
        case malformedEntry(String, ActionKeyParseError)
        /// A valid key with no `= target`.
        case missingTarget(String)
        /// The same key (source, context, decorator, action) mapped again.
        case duplicateKey(String, target: String, firstMappedAt: SourceLocation, firstTarget: String)
        /// The file or directory could not be read.
        case unreadable(String)

        public var description: String {
            switch self {
            case .entryBeforeSection(let text):
                "entry \"\(text)\" appears before any [section]; expected an [actionmapping] header first"
            case .malformedSectionHeader(let text):
                "malformed section header \"\(text)\"; expected [section] with a closing ']'"
            case .malformedEntry(let text, let error):
                "malformed entry \"\(text)\": \(error.reason)"
            case .missingTarget(let text):
                "entry \"\(text)\" has no target; expected \"ActionKey = dotted.target.name\""
            case .duplicateKey(let key, let target, let first, let firstTarget):
                "action key \"\(key)\" is mapped twice: to \"\(target)\" here and to \"\(firstTarget)\""
                    + " at \(first); expected each key once"
            case .unreadable(let reason):
                "cannot load the action mapping: \(reason)"
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
