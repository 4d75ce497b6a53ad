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
    /// Where each step was written, by step index (``SourceLocation/inCode`` for flows built
    /// in code).
    public let stepLocations: [SourceLocation]

    /// Builds a flow; each step's `config` is set to `name` whatever it was.
    /// `stepLocations`, when given, has one entry per step.
    public init(name: String, steps: [ActionKey], location: SourceLocation = .inCode, stepLocations: [SourceLocation]? = nil) {
        precondition(stepLocations == nil || stepLocations!.count == steps.count, "one location per step")
        self.name = name
        self.steps = steps.map { step in
            var step = step
            step.config = name
            return step
        }
        self.location = location
        self.stepLocations = stepLocations ?? Array(repeating: .inCode, count: steps.count)
    }

    /// The earlier step that takes step `k`'s headers: a message sent under step `k`'s own
    /// header first-matches step `j < k` (§5 of docs/PROTOCOL.md) and re-enters the flow there.
    /// nil when step `k` addresses itself.
    public func shadowingStep(of k: Int) -> Int? {
        guard let j = stepIndex(of: steps[k]), j != k else { return nil }
        return j
    }

    /// Whether step `k` is always reached across a hop, i.e. sent under its own header
    /// whatever the mapping: the step after `Push` (the Subject sends it), an `@PUBLISH` or
    /// `@ASYNC` step (published, or parked and answered under its header), and the step after
    /// one (the service or party that ran it sends it on). A plain step after a plain step may
    /// run in-line in the worker that ran its predecessor.
    public func isReachedAcrossAHop(_ k: Int) -> Bool {
        guard k > 0 else { return true }
        let previous = steps[k - 1]
        return k == 1 || steps[k].isPublish || steps[k].isAsync || previous.isPublish || previous.isAsync
    }

    /// The first step that would loop: shadowed (``shadowingStep(of:)``) and always reached
    /// across a hop (``isReachedAcrossAHop(_:)``), so every message reaching it re-enters the
    /// flow at the earlier step and comes round again. ``FlowTable`` refuses such flows at load.
    /// (A shadowed plain step after a plain step is accepted: it works in-line, and a role that
    /// would send it across a hop refuses with ``ErrorKind/flowLoop`` instead.)
    public var firstLoopingStep: (step: Int, shadowedBy: Int)? {
        for k in steps.indices where isReachedAcrossAHop(k) {
            if let j = shadowingStep(of: k) { return (k, j) }
        }
        return nil
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
