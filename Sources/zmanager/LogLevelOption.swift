import ArgumentParser
import Logging

/// `--log-level` of `serve` and `worker`, and the process's one logging bootstrap.
enum LogLevelOption {
    static let choices = Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")

    static func level(_ text: String?) -> Logger.Level? { text.flatMap(Logger.Level.init(rawValue:)) }

    static func check(_ text: String?) throws {
        if let text, level(text) == nil {
            throw ValidationError("--log-level: expected one of \(choices), found \"\(text)\"")
        }
    }

    /// Logs to standard error at `level` and up (swift-log's stream handler, which prints the
    /// metadata as key=value), and returns the command's logger. Standard output stays for the
    /// machine-read lines (`ready …`, `metrics=…`, the summary).
    static func bootstrap(_ level: Logger.Level) -> Logger {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        var logger = Logger(label: "zmanager")
        logger.logLevel = level
        return logger
    }
}
