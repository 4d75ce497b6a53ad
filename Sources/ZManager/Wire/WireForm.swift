/// The two ways a ZManager message travels (see `docs/PROTOCOL.md`).
///
/// - ``single``: DigitalPy's form, one frame `config~decorator~source~context~action~id~body`.
///   Python peers send and parse only this, so every reply to a single-frame request is
///   single-frame too.
/// - ``split``: two frames, `[config~decorator~source~context~action~id~][body]`. The
///   Subject and workers rewrite the small header frame and move the body frame without
///   copying it. The first frame carries ZMQ's MORE flag, which a single-frame message
///   never has: that is how a receiver tells the forms apart, without looking at bytes.
///   Subscription prefixes match the header frame, so topics work the same in both forms.
public enum WireForm: Sendable, Hashable, Codable {
    case single
    case split

    /// Bodies this size or larger travel faster split; smaller ones faster in one frame.
    ///
    /// Split costs every hop a second frame (libzmq's per-frame work on both sides, measured
    /// with `scripts/callgrind-stages`: about 2,100 more instructions per message over the three
    /// stages at 64 B) and saves copying the body into the rewritten frame. At 64 B the single
    /// form measured 1.3-1.5× the split form's throughput on every transport; at 64 KiB split
    /// wins, since the body moves without a copy. 4 KiB is where `BufferPool` starts handing
    /// bodies over zero-copy, for the same reason.
    public static let splitThreshold = 4 << 10

    /// The faster form for a body of `count` bytes (``splitThreshold``).
    public static func preferred(forBodyCount count: Int) -> WireForm {
        count >= splitThreshold ? .split : .single
    }
}

/// Well-known topics the core itself publishes through the Integration Manager.
public enum Topics {
    /// Config field of every error message: `zmanager_error~ERROR~<role>~<flow>~<kind>~<id>~`.
    /// Subscribe to `zmanager_error~` for all errors and correlate by id.
    public static let errorConfig = "zmanager_error"
    public static let errorDecorator = "ERROR"
    /// Decorator of error messages that do not end a flow (``ErrorKind/endsFlow``).
    public static let noticeDecorator = "NOTICE"
    /// Prefix of every error message.
    public static let errorPrefix = "zmanager_error~"

    /// A flow paused at an ASYNC step: `zmanager_async~PARKED~~<flow>~<async action>~<id>~`
    /// plus the body of the step before it. The external party subscribes to it (e.g.
    /// `zmanager_async~PARKED~~MyFlow~`) and answers with ``ZManagerClient/resume(flow:action:id:body:)``.
    public static let asyncConfig = "zmanager_async"
    public static let parkedDecorator = "PARKED"

    /// Config field of DigitalPy's ASYNC answer, `completed_command~~~~done~<id>~` (what
    /// `DigitalPyService.handle_command` pushes to the Integration Manager, with `prev_flows`
    /// copied back). The node's ``CompletedCommandBridge`` hands it to the Subject, which
    /// continues the flow parked under that id. Not a flow result, though it ends in `done`.
    public static let completedCommandConfig = "completed_command"
    /// The bridge's subscription: `completed_command~`.
    public static let completedCommandPrefix = "completed_command~"

    /// Answers to a client's ping: `zmanager_control~PONG~~~~<id>~`.
    public static let controlConfig = "zmanager_control"
    public static let pongPrefix = "zmanager_control~PONG~"

    /// The subscription prefix for the results of `flow` (its `??done` step), ending at a field
    /// boundary so that flow `F` does not also receive an action `doneX`.
    public static func resultPrefix(flow: String) -> String { "\(flow)~~~~done~" }

    /// The subscription prefix for the ASYNC requests of `flow`.
    public static func parkedPrefix(flow: String) -> String { "\(asyncConfig)~\(parkedDecorator)~~\(flow)~" }
}

/// Control frames between the core's own roles. A control message's first frame starts
/// with a zero byte, which no DigitalPy frame can (its first field is a flow name made of
/// word characters), followed by the verb. Further frames follow the verb's definition.
enum ControlVerb: UInt8, Sendable {
    /// `[\0 P][ASYNC step header][body]`: park the flow at that step (worker/service → Subject).
    case park = 0x50  // "P"
    /// `[\0 I][id]`: answer with a PONG (client → Subject), proving the path is live.
    case ping = 0x49  // "I"

    var frame: [UInt8] { [0, rawValue] }
}

/// `[\0 C][message frames]`, worker → Integration Manager: the message is a *published copy*
/// (the worker runs the `@PUBLISH` step itself too). The IM publishes the frames after the
/// marker; nobody subscribing to a copy is not an error, because the flow goes on at the worker,
/// whereas a step handed to a service with no subscriber ends its flow with ``ErrorKind/noSubscriber``.
enum CopyMarker {
    static let verb: UInt8 = 0x43  // "C"
}
