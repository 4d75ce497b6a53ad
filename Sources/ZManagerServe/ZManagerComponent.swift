import ArgumentParser
public import ZManager
import Synchronization

/// Runs your own handlers under the `serve` machinery of `zmanager`: an executable of yours
/// calls ``main(handlers:name:)`` and gets `serve`, `worker` and `keygen`, with the same
/// configuration file, metrics, CURVE, reload and drain as `zmanager serve`
/// (`examples/component` is a template; README, "Your own components").
///
/// ```swift
/// import ZManager
/// import ZManagerServe
///
/// var handlers = HandlerRegistry.withBuiltins
/// handlers.register("billing.charge") { request, response in … }
/// ZManagerComponent.main(handlers: handlers, name: "billing")
/// ```
///
/// Worker processes (`workers.deployment: processes`) are started from this same executable
/// (`/proc/self/exe worker …`), so they have the same handlers; so has a worker you start on
/// another host with `NAME worker --config FILE`.
public enum ZManagerComponent {
    private static let registry = Mutex(HandlerRegistry.withBuiltins)

    /// The handlers `serve` and `worker` run: `zmanager.builtin.*` unless ``main(handlers:name:)``
    /// was given others.
    public static var handlers: HandlerRegistry { registry.withLock { $0 } }

    /// Parses the command line (`serve`, `worker`, `keygen`, or `--help`), runs the command with
    /// `handlers` and exits.
    public static func main(handlers: HandlerRegistry, name: String, arguments: [String]? = nil) -> Never {
        registry.withLock { $0 = handlers }
        ComponentCommand.commandName = name
        ComponentCommand.main(arguments)
        exit(0)
    }
}

/// The root command of a component executable.
struct ComponentCommand: ParsableCommand {
    nonisolated(unsafe) static var commandName = "component"
    // nonisolated(unsafe): written once by `ZManagerComponent.main` before parsing starts, on the
    // main thread, and only read afterwards.

    static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: commandName,
            abstract: "ZManager roles with this executable's handlers: serve, worker, keygen (the same configuration as zmanager serve).",
            subcommands: [ServeCommand.self, WorkerCommand.self, KeygenCommand.self])
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
