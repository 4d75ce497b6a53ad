/// What a message received at the Subject's front is, by its header alone (docs/PROTOCOL.md
/// §6.2, rules 2–6, in that order; rule 1, control verbs, is decided by the framing before the
/// header is read).
enum MessageClass: Sendable, Equatable {
    /// `action` is exactly `Push`: a service starts a flow.
    case start
    /// `completed_command~…~done~<id>~`: DigitalPy's answer to a parked flow.
    case completedCommand
    /// `decorator` is exactly `ASYNC`: an external party's response to a parked flow.
    case asyncResponse
    /// `decorator` is exactly `PUBLISH`: forwarded unchanged to the Integration Manager.
    case published
    /// Anything else: forwarded unchanged to the workers, which find (or refuse) its step.
    case step

    /// Classifies the header `fields` parsed from `header`. Allocation-free: a few word compares.
    @inline(__always)
    init(_ fields: HeaderFields, in header: UnsafeRawBufferPointer) {
        if Bytes.push.equals(fields.bytes(.action, in: header)) {
            self = .start
        } else if Bytes.completedCommand.equals(fields.bytes(.config, in: header)),
                  Bytes.done.equals(fields.bytes(.action, in: header)) {
            self = .completedCommand
        } else if Bytes.async.equals(fields.bytes(.decorator, in: header)) {
            self = .asyncResponse
        } else if Bytes.publish.equals(fields.bytes(.decorator, in: header)) {
            self = .published
        } else {
            self = .step
        }
    }

    /// The constants compared against (a namespace apart from the cases' names).
    private enum Bytes {
        static let push = StaticBytes("Push")
        static let async = StaticBytes(Decorator.async)
        static let publish = StaticBytes(Decorator.publish)
        static let completedCommand = StaticBytes(Topics.completedCommandConfig)
        static let done = StaticBytes("done")
    }
}
