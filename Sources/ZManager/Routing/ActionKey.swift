/// The address of a message: which flow it belongs to and which step of it, in DigitalPy's
/// `Sender?Context@Decorator?Action` model.
///
/// A value type with `String` fields, so it can be copied between threads freely; the socket hot
/// path works on header bytes instead (see ``WireHeader``) and only builds `ActionKey`s where
/// a person or a configuration file is involved.
///
/// **Equality is exact, matching is not.** DigitalPy overrides `==` to mean a wildcard match
/// (an empty field matches anything), which is not transitive and so cannot back a `Hashable`
/// conformance. Here `==` / `hash(into:)` compare every field exactly, and the reference's
/// wildcard comparison is the separate, explicit ``matches(_:)``.
public struct ActionKey: Hashable, Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The flow name. It is not part of the text form (a flow step gets it from its
    /// `[FlowName]` section) but it is the first field of the wire header, and it is what
    /// selects the flow when stepping. Never compared by ``matches(_:)``.
    public var config: String
    /// `PUBLISH`, `ASYNC`, `ROUTING_WORKER` or empty (see ``Decorator``).
    public var decorator: String
    /// The sender (the text form's first part).
    public var source: String
    /// The context, usually the component or the flow name.
    public var context: String
    /// The action.
    public var action: String
    /// The mapping target (`= dotted.target.name`), for mapping entries and flow steps that name
    /// one; `nil` when the text had no `= target`. Never compared by ``matches(_:)``.
    public var target: String?

    public init(
        config: String = "",
        decorator: String = "",
        source: String = "",
        context: String = "",
        action: String = "",
        target: String? = nil
    ) {
        self.config = config
        self.decorator = decorator
        self.source = source
        self.context = context
        self.action = action
        self.target = target
    }

    /// DigitalPy's wildcard equality: for each of action, context, decorator and source, the two
    /// values are equal *or either is empty*. `config` and `target` are not compared.
    ///
    /// Symmetric but not transitive (`a?x?b` matches `??b`, which matches `c?y?b`), which is why
    /// it is not `==`. Flow stepping and mapping subscriptions rely on it.
    public func matches(_ other: ActionKey) -> Bool {
        Self.fieldMatches(action, other.action)
            && Self.fieldMatches(context, other.context)
            && Self.fieldMatches(decorator, other.decorator)
            && Self.fieldMatches(source, other.source)
    }

    @inline(__always)
    private static func fieldMatches(_ a: String, _ b: String) -> Bool {
        a.isEmpty || b.isEmpty || a == b
    }

    /// A flow's terminal step: action `done` with empty context and source (the `??done` line).
    /// Reaching it means the result goes to the Integration Manager on the `<Flow>~~~~done` topic.
    public var isEndOfFlow: Bool {
        action == "done" && context.isEmpty && source.isEmpty
    }

    /// True when the decorator is exactly ``Decorator/publish`` (case-sensitive, as the reference).
    public var isPublish: Bool { decorator == Decorator.publish }
    /// True when the decorator is exactly ``Decorator/async`` (case-sensitive, as the reference).
    public var isAsync: Bool { decorator == Decorator.async }

    /// The text form `Sender?Context@Decorator?Action`, with `@Decorator` only when there is a
    /// decorator and ` = target` only when there is a target. Parsing it back with
    /// ``init(parsing:config:)`` gives the same key (apart from `config`, which the text form
    /// does not carry).
    public var text: String {
        var out = source + "?" + context
        if !decorator.isEmpty { out += "@" + decorator }
        out += "?" + action
        if let target { out += " = " + target }
        return out
    }

    /// The text form (see ``text``).
    public var description: String { text }

    /// The text form plus the flow name, e.g. `[EchoFlow] Subject?EchoFlow?Echo`, because
    /// `config` decides which flow a key steps through and is invisible in ``text``.
    public var debugDescription: String { "[\(config)] \(text)" }
}
