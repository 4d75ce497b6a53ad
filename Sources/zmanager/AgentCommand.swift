import ArgumentParser
import Foundation
import ZManagerHarness

/// `zmanager agent`: the load generator as a service, for scenarios whose load comes from
/// several hosts (`agents:` in the scenario, docs/SCENARIOS.md).
struct AgentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "Generate a scenario's load on this host for a `zmanager run` on another host.",
        discussion: """
            Listens on --listen for a coordinator: a `zmanager run` whose scenario lists this agent under \
            agents:. For each measurement it connects to the pipeline under test, waits until every agent is \
            ready, runs its share of the load, measures its own round trips and sends back its histograms. \
            It serves one coordinator at a time, until stopped (SIGINT, SIGTERM) or --sessions were served. \
            Progress goes to standard error.
            """
    )

    @Option(help: ArgumentHelp("Where to listen for the coordinator.", valueName: "endpoint"))
    var listen: String = "tcp://0.0.0.0:5600"

    @Option(help: "Stop after serving this many measurements (default: serve until stopped).")
    var sessions: Int?

    func validate() throws {
        guard listen.hasPrefix("tcp://") || listen.hasPrefix("ipc://") else {
            throw ValidationError("--listen expects tcp://ADDRESS:PORT or ipc://PATH, found \"\(listen)\"")
        }
        if let sessions, sessions < 1 { throw ValidationError("--sessions expects at least 1, found \(sessions)") }
    }

    func run() throws {
        let agent = try LoadAgent(listen: listen)
        let log = { (line: String) in FileHandle.standardError.write(Data("zmanager agent: \(line)\n".utf8)) }
        log("listening on \(agent.endpoint)")
        try agent.serve(sessions: sessions, log: log)
        log("stopped")
    }
}
