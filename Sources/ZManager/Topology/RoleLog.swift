import Logging
import ZeroMQ

/// How the roles log: through the `Logger` they are given (swift-log), with metadata, on cold
/// paths only (a role that stops, a worker registered or lost); nothing is logged per message.
///
/// `ETERM` is the normal end of a role loop (the node shut its context down) and says nothing.
/// Any other libzmq error ends the loop too (a socket that fails once keeps failing) but never
/// silently.
enum RoleLog {
    /// The logger a role gets when its caller passes none.
    static var defaultLogger: Logger { Logger(label: "zmanager") }

    /// `logger` with the role's metadata (`role`, and e.g. `worker`).
    static func logger(_ base: Logger, role: String, _ more: Logger.Metadata = [:]) -> Logger {
        var logger = base
        logger[metadataKey: "role"] = .string(role)
        for (key, value) in more { logger[metadataKey: key] = value }
        return logger
    }

    static func ended(_ role: String, by error: any Error, logger: Logger) {
        if let error = error as? ZMQError, error.code == .contextTerminated { return }
        logger.error("\(role) stopped", metadata: ["error": "\(error)"])
    }
}
