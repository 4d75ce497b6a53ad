import Foundation
import Logging
import Synchronization
import ZManager

/// Runs `serve`'s `zmanager worker` processes (`workers.deployment: processes`) and restarts
/// one that exits while serving, with a backoff, logged on standard error and counted.
///
/// The backoff starts at 100 ms and doubles with each restart of the same worker, up to 5 s; a
/// worker that ran for 30 s before exiting starts again from 100 ms. A worker that crashes at
/// start-up (a bad handler, a missing file) so costs one restart attempt every 5 s, not a busy
/// loop. What the dead worker held is lost with fast dispatch and dealt again with reliable
/// dispatch (docs/PROTOCOL.md §6.6); the restart only brings the capacity back.
final class WorkerSupervisor: @unchecked Sendable {
    // @unchecked Sendable: every mutable field is in `state`, a Mutex; the `Process` objects in
    // it are created, read and replaced only while the lock is held. `config` and `endpoints`
    // are immutable.
    private struct Worker {
        var process: Process
        var started: ContinuousClock.Instant
        var restarts = 0
        var backoff: Duration = .milliseconds(100)
    }

    private struct State {
        var workers: [String: Worker] = [:]
        var stopping = false
        var restarts = 0
    }

    private let state = Mutex(State())
    private let config: String
    private let endpoints: Endpoints
    private let logger: Logger
    /// Passed on to every worker (`--log-level`), so they log at serve's level.
    private let logLevel: Logger.Level
    static let firstBackoff: Duration = .milliseconds(100)
    static let longestBackoff: Duration = .seconds(5)
    static let healthyRun: Duration = .seconds(30)

    init(config: String, endpoints: Endpoints, logger: Logger) {
        self.config = config
        self.endpoints = endpoints
        var logger = logger
        logger[metadataKey: "role"] = "supervisor"
        self.logger = logger
        self.logLevel = logger.logLevel
    }

    /// Worker restarts so far.
    var restarts: Int { state.withLock { $0.restarts } }

    /// Worker processes running now.
    var running: Int { state.withLock { $0.workers.values.count { $0.process.isRunning } } }

    /// Starts `count` workers named `p0` … `p<count-1>`.
    func start(count: Int) throws {
        for index in 0..<count { try start(name: "p\(index)") }
    }

    private func start(name: String) throws {
        // Under the lock, so that a worker exiting at once finds itself recorded.
        try state.withLock { state in
            let process = try WorkerCommand.spawn(config: config, name: name, endpoints: endpoints,
                                                  logLevel: logLevel) { [weak self] process in
                self?.exited(name: name, process: process)
            }
            if var worker = state.workers[name] {
                worker.process = process
                worker.started = .now
                state.workers[name] = worker
            } else {
                state.workers[name] = Worker(process: process, started: .now)
            }
        }
    }

    private func exited(name: String, process: Process) {
        let delay: Duration? = state.withLock { state in
            guard !state.stopping, var worker = state.workers[name], worker.process === process else { return nil }
            if ContinuousClock.now - worker.started >= Self.healthyRun { worker.backoff = Self.firstBackoff }
            let delay = worker.backoff
            worker.backoff = min(worker.backoff * 2, Self.longestBackoff)
            worker.restarts += 1
            state.restarts += 1
            state.workers[name] = worker
            return delay
        }
        guard let delay else { return }
        let how = process.terminationReason == .uncaughtSignal
            ? "signal \(process.terminationStatus)" : "status \(process.terminationStatus)"
        logger.warning("worker \(name) exited (\(how)); restarting it in \(delay)",
                       metadata: ["worker": .string(name), "exit": .string(how), "restarts": "\(restarts)"])
        let ms = Int(delay.components.seconds * 1000 + delay.components.attoseconds / 1_000_000_000_000_000)
        DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(ms)) { [weak self] in
            guard let self, !self.state.withLock({ $0.stopping }) else { return }
            do {
                try self.start(name: name)
            } catch {
                self.logger.error("worker \(name) could not be restarted", metadata: ["worker": .string(name), "error": "\(error)"])
            }
        }
    }

    /// Sends SIGHUP to every running worker: each reloads the flows and mappings of the
    /// configuration file (a worker restarted later reads the file anyway).
    func reloadAll() {
        let processes = state.withLock { $0.workers.values.map(\.process) }
        for process in processes where process.isRunning { kill(process.processIdentifier, SIGHUP) }
    }

    /// Stops restarting, sends SIGTERM to every worker and waits for each to exit. SIGTERM is
    /// sent again every 500 ms (a worker still starting may lose one: its signal handling is
    /// being installed, which discards a pending signal) and after 10 s a worker is killed.
    func stop() {
        let processes = state.withLock { state in
            state.stopping = true
            return state.workers.values.map(\.process)
        }
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(10)
        var nextTerm = clock.now
        while processes.contains(where: \.isRunning) {
            if clock.now >= deadline {
                for process in processes where process.isRunning {
                    logger.error("worker did not stop within 10 s of SIGTERM; killing it",
                                 metadata: ["pid": "\(process.processIdentifier)"])
                    kill(process.processIdentifier, SIGKILL)
                }
                break
            }
            if clock.now >= nextTerm {
                for process in processes where process.isRunning { process.terminate() }
                nextTerm = clock.now + .milliseconds(500)
            }
            var pause = timespec(tv_sec: 0, tv_nsec: 5_000_000)
            nanosleep(&pause, nil)
        }
        for process in processes { process.waitUntilExit() }
    }
}
