public import Logging
public import ZeroMQ

/// Brings DigitalPy's ASYNC answers back to the Subject.
///
/// A DigitalPy service answers the request of a flow paused at an ASYNC step the way
/// `DigitalPyService.handle_command` does: a message `completed_command~~~~done~<id>~` with
/// `prev_flows` copied back, pushed to the **Integration Manager** — in DigitalPy the service
/// management core subscribes to `completed_command` and continues the flow. Here the parking
/// table lives in the Subject, so this small role subscribes to `completed_command~` at the
/// Integration Manager's PUB and pushes each such message, frames unchanged, to the Subject's
/// front, which continues the flow parked under that id.
///
/// It only forwards: it never parses a body, and a message that continues nothing becomes an
/// ``ErrorKind/asyncUnknown`` notice at the Subject. ``ZManagerNode`` runs one; a topology
/// assembled by hand needs one only if DigitalPy parties answer ASYNC steps.
public final class CompletedCommandBridge {
    let sub: Socket
    let toSubject: Socket
    let logger: Logger

    /// - Parameters:
    ///   - integrationManagerPub: the Integration Manager's PUB endpoint.
    ///   - subjectFront: the Subject's front (PULL) endpoint.
    public init(context: Context, integrationManagerPub: String, subjectFront: String,
                limits: RoleLimits = RoleLimits(), logger: Logger = Logger(label: "zmanager")) throws(ZMQError) {
        self.logger = RoleLog.logger(logger, role: "completed_command_bridge")
        sub = try Socket(context, .sub)
        try sub.applyReceiveLimits(limits)
        try sub.subscribe(Topics.completedCommandPrefix)
        try sub.connect(integrationManagerPub)
        toSubject = try Socket(context, .push)
        try toSubject.setSendHighWaterMark(limits.highWaterMark)
        try toSubject.connect(subjectFront)
    }

    /// Runs until the context shuts down.
    public func run() {
        var frame = Message()
        do {
            while true {
                guard try sub.receive(into: &frame) == .received else { continue }
                var more = frame.more
                _ = try toSubject.send(&frame, more: more)
                while more {
                    _ = try sub.receive(into: &frame)
                    more = frame.more
                    _ = try toSubject.send(&frame, more: more)
                }
            }
        } catch {
            RoleLog.ended("Completed-command bridge", by: error, logger: logger)
        }
        sub.close()
        toSubject.close()
    }
}
