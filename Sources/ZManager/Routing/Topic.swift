/// Topics: the action key as the first five fields of the wire header, and the prefixes
/// subscribers give to ZeroMQ's SUB sockets.
///
/// Every ZManager frame starts `config~decorator~source~context~action~id~` (see ``WireHeader``),
/// and a SUB socket filters by *byte prefix* of that frame. A subscription is therefore just a
/// prefix of a header; an empty field in the middle of a prefix matches only an empty field (ZeroMQ
/// has no wildcards), exactly as in DigitalPy.
extension ActionKey {
    /// All five fields joined with `~`: `config~decorator~source~context~action`
    /// (DigitalPy's `to_topic`). An empty key gives `~~~~`.
    public var topic: String {
        config + "~" + decorator + "~" + source + "~" + context + "~" + action
    }

    /// DigitalPy's `to_generic_topic`, reproduced for compatibility and documentation: the five
    /// fields joined with `~`, with the trailing empty fields dropped.
    ///
    /// | key | generic topic |
    /// |---|---|
    /// | `config=EchoFlow, action=done` | `EchoFlow~~~~done` |
    /// | `config=completed_command` | `completed_command` |
    /// | `config=F, context=C` | `F~~~C` |
    /// | `decorator=PUBLISH, action=x` | `~PUBLISH~~~x` |
    /// | every field empty | empty (subscribes to everything) |
    ///
    /// - Warning: Do not subscribe with it. The prefix ends in the middle of a field, so
    ///   `EchoFlow~~~~done` also receives an action named `doneX`, and `command_svc` also
    ///   receives `command_svc2`. Use ``subscriptionPrefix`` instead.
    public var genericTopic: String {
        Self.joinedUpToLastNonEmptyField([config, decorator, source, context, action])
    }

    /// The prefix to subscribe with: ``genericTopic`` **plus the `~` that ends its last field**,
    /// e.g. `EchoFlow~~~~done~` or `completed_command~`.
    ///
    /// This is where we differ from DigitalPy on purpose: its prefix stops inside the last field
    /// and over-matches (`EchoFlow~~~~done` matches action `doneX`). A real frame always has a
    /// `~` after every header field, including the action (the message id follows it), so
    /// adding that `~` selects exactly the same frames DigitalPy meant to select and nothing
    /// else. Python peers are unaffected: they publish full headers, which this prefix matches.
    ///
    /// An entirely empty key still gives the empty prefix, which subscribes to everything.
    public var subscriptionPrefix: String {
        let generic = genericTopic
        return generic.isEmpty ? "" : generic + "~"
    }

    private static func joinedUpToLastNonEmptyField(_ fields: [String]) -> String {
        guard let last = fields.lastIndex(where: { !$0.isEmpty }) else { return "" }
        return fields[...last].joined(separator: "~")
    }
}
