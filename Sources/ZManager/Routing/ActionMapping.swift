/// Which handler executes which action: the `[actionmapping]` entries of all components,
/// indexed for resolution.
///
/// **Resolution returns a handler, never a key.** DigitalPy's `resolve_action_key` returns the
/// mapping's own `ActionKey` object, whose `config` is empty; the worker then uses it as the
/// request's key, the flow name is gone, the next step cannot be found and multi-step flows
/// break (reference §4). Here ``resolve(_:)`` returns a ``HandlerID`` (an index into
/// ``entries``) and ``target(for:)`` a target name; the caller keeps its own key, with its
/// flow name, and there is no replacement key to pass on by mistake.
///
/// Lookups hash a small struct of the four matched fields. For the per-message path, resolve
/// every flow step once at start-up with ``ResolvedFlowTable`` and index by integers instead.
public struct ActionMapping: Sendable {
    /// The entries in load order; ``HandlerID/index`` is a position in this array.
    public let entries: [MappingEntry]
    private let index: [Pattern: HandlerID]

    /// An empty mapping (resolves nothing).
    public init() {
        entries = []
        index = [:]
    }

    /// A mapping of the given entries.
    ///
    /// - Throws: ``ActionMappingError`` when two entries have the same key (same source, context,
    ///   decorator and action), naming both places; DigitalPy silently kept the later one.
    public init(_ entries: [MappingEntry]) throws(ActionMappingError) {
        var index: [Pattern: HandlerID] = [:]
        for (position, entry) in entries.enumerated() {
            let pattern = Pattern(entry.pattern)
            if let earlier = index[pattern] {
                let first = entries[earlier.index]
                throw ActionMappingError(
                    location: entry.location,
                    problem: .duplicateKey(
                        entry.pattern.text, target: entry.target,
                        firstMappedAt: first.location, firstTarget: first.target))
            }
            index[pattern] = HandlerID(index: position)
        }
        self.entries = entries
        self.index = index
    }

    /// Parses mapping-file text (handy in tests). `path` appears in error messages.
    public init(parsing text: String, path: String = "<string>") throws(ActionMappingError) {
        try self.init(ActionMappingFile.parse(text, path: path))
    }

    /// Loads one mapping file.
    public init(contentsOfFile path: String) throws(ActionMappingError) {
        try self.init(ActionMappingFile.load(path))
    }

    /// Loads the given mapping files in order; a key may be mapped in only one of them.
    public init(contentsOfFiles paths: [String]) throws(ActionMappingError) {
        var all: [MappingEntry] = []
        for path in paths { all += try ActionMappingFile.load(path) }
        try self.init(all)
    }

    /// Loads every `*.ini` file directly in `directory` (hidden files skipped), in byte order of
    /// their names.
    public init(contentsOfDirectory directory: String) throws(ActionMappingError) {
        let paths: [String]
        do {
            paths = try ConfigurationFiles.iniFiles(in: directory)
        } catch {
            throw ActionMappingError(
                location: SourceLocation(path: error.path, line: 0), problem: .unreadable(error.reason))
        }
        try self.init(contentsOfFiles: paths)
    }

    /// The entry a handler id stands for.
    public subscript(handler: HandlerID) -> MappingEntry { entries[handler.index] }

    /// The handler for a request key, or `nil` when no entry applies.
    ///
    /// The order is DigitalPy's `resolve_action_key`, with `s`, `c`, `a` the key's source,
    /// context and action and an empty field meaning "any" in the entry:
    /// `s?c?a`, `s??a`, `?c?a`, `s?c?`, `s??`, `??a`, `?c?` (no `??` catch-all).
    ///
    /// Decorators, which the reference can never resolve (its lookup strings omit `@…`):
    /// 1. if the key has a decorator `d`, the seven lookups are first made among the entries
    ///    written with `@d` (exact, case-sensitive);
    /// 2. then, for every key, among the entries written without a decorator.
    ///
    /// So `?Ctx@ASYNC?x = …` applies only to keys decorated `ASYNC`, and beats a plain
    /// `?Ctx?x`; a plain entry still serves decorated keys, as before. An undecorated key never
    /// resolves to a decorated entry: with `@A` and `@B` entries for the same action there would
    /// be no principled choice between them. `config` and `target` of the key are ignored.
    public func resolve(_ key: ActionKey) -> HandlerID? {
        if !key.decorator.isEmpty, let found = resolve(key, decorator: key.decorator) {
            return found
        }
        return resolve(key, decorator: "")
    }

    /// The target name of the entry that ``resolve(_:)`` picks.
    public func target(for key: ActionKey) -> String? {
        resolve(key).map { entries[$0.index].target }
    }

    /// The seven lookups of ``resolve(_:)`` among entries with exactly this decorator.
    private func resolve(_ key: ActionKey, decorator d: String) -> HandlerID? {
        let s = key.source, c = key.context, a = key.action
        return index[Pattern(s, c, d, a)]
            ?? index[Pattern(s, "", d, a)]
            ?? index[Pattern("", c, d, a)]
            ?? index[Pattern(s, c, d, "")]
            ?? index[Pattern(s, "", d, "")]
            ?? index[Pattern("", "", d, a)]
            ?? index[Pattern("", c, d, "")]
    }

    /// The dictionary key: the four fields an entry is matched on.
    private struct Pattern: Hashable {
        let source: String
        let context: String
        let decorator: String
        let action: String

        init(_ source: String, _ context: String, _ decorator: String, _ action: String) {
            self.source = source
            self.context = context
            self.decorator = decorator
            self.action = action
        }

        init(_ key: ActionKey) {
            self.init(key.source, key.context, key.decorator, key.action)
        }
    }
}

/// A resolved handler: the position of a ``MappingEntry`` in ``ActionMapping/entries``.
/// An integer so the runtime can keep handlers in an array and dispatch without hashing.
public struct HandlerID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let index: Int

    public init(index: Int) { self.index = index }

    public static func < (lhs: HandlerID, rhs: HandlerID) -> Bool { lhs.index < rhs.index }

    public var description: String { "handler #\(index)" }
}

/// One `ActionKey = target` line of an `[actionmapping]` section.
public struct MappingEntry: Hashable, Sendable {
    /// The key pattern the entry matches (source, context, decorator, action; empty = any).
    /// Its `config` is always empty and its `target` always nil: it is a pattern, not a key to
    /// route with (see ``ActionMapping``).
    public let pattern: ActionKey
    /// The dotted name of what executes the action, e.g. `app.Component.Facade.method`.
    public let target: String
    /// Where the entry was written.
    public let location: SourceLocation

    public init(pattern: ActionKey, target: String, location: SourceLocation = .inCode) {
        var pattern = pattern
        pattern.config = ""
        pattern.target = nil
        self.pattern = pattern
        self.target = target
        self.location = location
    }
}
