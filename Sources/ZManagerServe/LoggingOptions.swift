import ArgumentParser
import Logging
import ZManager

/// `--log-level`, shared by `serve` and `worker` (an option group), and the process's one
/// logging bootstrap.
struct LoggingOptions: ParsableArguments {
    static let choices = Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")

    @Option(help: "The lowest level logged on standard error: \(LoggingOptions.choices) (overrides the configuration's log_level).")
    var logLevel: String?

    func validate() throws {
        if let logLevel, Logger.Level(rawValue: logLevel) == nil {
            throw ValidationError("--log-level: expected one of \(Self.choices), found \"\(logLevel)\"")
        }
    }

    /// Logs to standard error at `--log-level`, else the configuration's `log_level`, and up
    /// (swift-log's stream handler, which prints the metadata as key=value); returns the
    /// command's logger. Standard output stays for the machine-read lines (`ready …`,
    /// `metrics=…`, the summary).
    func bootstrap(configuration: ServeConfiguration) -> Logger {
        let level = logLevel.flatMap(Logger.Level.init(rawValue:)) ?? configuration.logLevel
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
