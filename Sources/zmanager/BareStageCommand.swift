public import ArgumentParser
import ZManagerHarness

extension BareStage.Role: ExpressibleByArgument {}

/// `zmanager bare-stage`: one stage of the bare calibration topology in a process of its own
/// (the harness starts these for `deployment: processes`; not meant to be run by hand).
struct BareStageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bare-stage",
        abstract: "Run one stage of the bare calibration topology (started by the harness).",
        shouldDisplay: false
    )

    @Option(help: "subject (PULL bind → PUSH bind), worker (PULL connect → PUSH connect) or integration-manager (PULL bind → PUB bind).")
    var role: BareStage.Role

    @Option(help: "The endpoint the stage receives on.")
    var input: String

    @Option(help: "The endpoint the stage sends on.")
    var output: String

    @Option(help: "Send and receive high-water mark of both sockets.")
    var hwm: Int = 10_000

    @Option(help: "Worker: offset of the 4 header bytes rewritten to `done` (-1: none).")
    var rewriteOffset: Int32 = -1

    @Option(help: "Worker: handler calls per message (a flow's worker steps).")
    var steps: Int = 1

    @Option(help: "Worker: wall-clock spin per handler call, nanoseconds.")
    var spinNs: UInt64 = 0

    @Option(help: "Worker: stall on every Nth handler call (0: never).")
    var stallEvery: UInt64 = 0

    @Option(help: "Worker: stall length, nanoseconds.")
    var stallNs: UInt64 = 0

    func validate() throws {
        guard hwm >= 1 else { throw ValidationError("--hwm must be at least 1, got \(hwm)") }
        guard steps >= 1 else { throw ValidationError("--steps must be at least 1, got \(steps)") }
    }

    func run() throws {
        try BareStage(role: role, input: input, output: output, highWaterMark: hwm, rewriteOffset: rewriteOffset,
                      steps: steps, spinNanoseconds: spinNs, stallEvery: stallEvery, stallNanoseconds: stallNs).run()
    }
}
