import Logging
import ZeroMQ

/// How a role loop reports that it ended.
///
/// `ETERM` is the normal end (the node shut its context down) and says nothing. Any other
/// libzmq error ends the loop too — a socket that fails once keeps failing — but never
/// silently: it is logged (swift-log; stderr by default) with the role's name.
enum RoleLog {
    static let logger = Logger(label: "zmanager")

    static func ended(_ role: String, by error: any Error) {
        if let error = error as? ZMQError, error.code == .contextTerminated { return }
        logger.error("\(role) stopped: \(error)")
    }
}
