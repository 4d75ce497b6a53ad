/// One flow: a named, ordered list of action keys, from a `[FlowName]` section.
///
/// A flow is the route a request takes: the service pushes the first step (`?Flow?Push`), and
/// each later step is found by matching the current key against the steps (see
/// ``nextStep(after:)``). Every step carries the flow name in ``ActionKey/config``, because the
/// config field is what tells the next hop which flow to look in; losing it is the DigitalPy
/// bug that breaks multi-step flows.
public struct Flow: Hashable, Sendable {
    /// The section name, e.g. `IAMConnection`.
    public let name: String
    /// The steps in file order; each has `config == name`.
    public let steps: [ActionKey]
    /// Where the `[name]` header was written.
    public let location: SourceLocation

    /// Builds a flow; each step's `config` is set to `name` whatever it was.
    public init(name: String, steps: [ActionKey], location: SourceLocation = .inCode) {
        self.name = name
        self.steps = steps.map { step in
            var step = step
            step.config = name
            return step
        }
        self.location = location
    }

    /// The index of the **first** step that wildcard-matches `key` (``ActionKey/matches(_:)``),
    /// as DigitalPy's `get_next_action` does; `nil` when none matches. `key.config` is not
    /// consulted here (``FlowTable`` uses it to pick the flow).
    ///
    /// First-match matters: a key with an empty action matches the first step whose other
    /// fields fit, even if a later step was meant.
    public func stepIndex(of key: ActionKey) -> Int? {
        steps.firstIndex { $0.matches(key) }
    }

    /// The step after the first step matching `key`; `nil` when that step is the last one or
    /// nothing matches.
    public func nextStep(after key: ActionKey) -> ActionKey? {
        guard let index = stepIndex(of: key), index + 1 < steps.count else { return nil }
        return steps[index + 1]
    }

    /// Whether the last step is a done step (``ActionKey/isEndOfFlow``), which the loaders
    /// require (see ``FlowFileError/Problem/missingDone(flow:lastStep:)``).
    public var endsWithDone: Bool { steps.last?.isEndOfFlow ?? false }
}
