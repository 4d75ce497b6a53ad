import ArgumentParser
import ZManagerServe

/// `zmanager`: runs the ZManager core and its load-testing harness.
@main
struct ZManagerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "zmanager",
        abstract: "ZManager for Swift: DigitalPy's message-routing core on libzmq, and its load-testing harness.",
        version: "0.1.0",
        subcommands: [RunCommand.self, BareCommand.self, ServeCommand.self, WorkerCommand.self, ReportCommand.self, CompareCommand.self,
                      BareStageCommand.self, ScenariosCommand.self, KeygenCommand.self, AgentCommand.self],
        defaultSubcommand: RunCommand.self
    )
}
