import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import UnixSignals

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How `serve` and `worker` run: a swift-service-lifecycle `ServiceGroup` of the node (or the
/// worker), the metrics server, the worker supervisor and the signals.
///
/// - **Signals** (``SignalService``): SIGTERM and SIGINT end the group gracefully, SIGHUP reloads
///   the flows and mappings. Their `UnixSignalsSequence` is registered first thing, before any
///   socket is bound, and the `ready` line is printed only once the sequence is being read: a
///   signal sent at any moment after `ready` is handled (200 of 200 SIGTERMs sent the instant
///   `ready` appeared were drained in a trial of this design; a dispatch source registered after
///   `ready` once lost them, which is why this order matters).
/// - **Shutdown order**: the group stops services in the reverse of their order, each after the
///   one before has finished; `serve` lists the supervisor, the metrics server, the node, then the
///   signals, so a SIGTERM drains the node first (workers still run and `/health` says
///   `draining`), then stops the metrics server, then the worker processes.
/// - The roles themselves stay on their own threads (docs/ARCHITECTURE.md): a service here only
///   waits for the shutdown and then runs the blocking stop on a thread of its own, never on the
///   cooperative pool.
enum Lifecycle {
    /// The signals `serve` and `worker` handle.
    static func signals() async -> UnixSignalsSequence {
        let sequence = await UnixSignalsSequence(trapping: .sigterm, .sigint, .sighup)
        // A worker process serve started begins with them blocked (``withSignalsBlocked(_:)``), so
        // that one sent while it starts waits; from here on they are handled.
        var set = handled
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
        return sequence
    }

    private static var handled: sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in [SIGTERM, SIGINT, SIGHUP] { sigaddset(&set, signal) }
        return set
    }

    /// Runs `body` (a child process's start) with SIGTERM, SIGINT and SIGHUP blocked in the calling
    /// thread: the child inherits the mask, so such a signal sent before it handles them stays
    /// pending instead of taking its default action (a handler does not survive `exec`; the
    /// dispositions the parent's handlers replaced are the defaults again in the child, and the
    /// default for all three is to terminate).
    static func withSignalsBlocked<T>(_ body: () throws -> T) rethrows -> T {
        var set = handled
        var previous = sigset_t()
        pthread_sigmask(SIG_BLOCK, &set, &previous)
        defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
        return try body()
    }

    /// Runs `services` in a group until a signal ends it; returns the signal's name.
    static func run(_ services: [any ServiceLifecycle.Service], signals: UnixSignalsSequence, ready: @escaping @Sendable () -> Void,
                    reload: @escaping @Sendable () -> Void, logger: Logger) async throws -> String {
        let signalService = SignalService(signals: signals, ready: ready, reload: reload)
        var configurations = services.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) }
        configurations.append(.init(service: signalService, successTerminationBehavior: .gracefullyShutdownGroup))
        var quiet = logger
        quiet.logLevel = max(logger.logLevel, .notice)  // the group's own info lines say nothing to an operator
        let group = ServiceGroup(configuration: .init(services: configurations, logger: quiet))
        try await group.run()
        return signalService.received.withLock { $0 } ?? "none"
    }
}

/// Runs `body` on Swift's concurrency pool and blocks the calling (main) thread until it ends.
///
/// The commands stay synchronous `ParsableCommand`s: an asynchronous root command makes the main
/// thread wait in libdispatch's `sigsuspend`, and valgrind 3.19 crashes at start-up on such a
/// process (its own SIGSEGV), which broke every callgrind measurement of `zmanager run` in the CI
/// gate. Only `serve` and `worker` need async, and only for the ServiceGroup.
func runBlocking(_ body: @escaping @Sendable () async throws -> Void) throws {
    let outcome = Mutex<Result<Void, any Error>?>(nil)
    let done = DispatchSemaphore(value: 0)
    Task {
        do {
            try await body()
            outcome.withLock { $0 = .success(()) }
        } catch {
            outcome.withLock { $0 = .failure(error) }
        }
        done.signal()
    }
    done.wait()
    try outcome.withLock { $0 }!.get()
}

/// SIGTERM or SIGINT: returns, which ends the group gracefully; SIGHUP: `reload`.
final class SignalService: ServiceLifecycle.Service, Sendable {
    let signals: UnixSignalsSequence
    let ready: @Sendable () -> Void
    let reload: @Sendable () -> Void
    /// The name of the signal that ended the group.
    let received = Mutex<String?>(nil)

    init(signals: UnixSignalsSequence, ready: @escaping @Sendable () -> Void, reload: @escaping @Sendable () -> Void) {
        self.signals = signals
        self.ready = ready
        self.reload = reload
    }

    func run() async throws {
        ready()
        for await signal in signals.cancelOnGracefulShutdown() {
            if signal == .sighup {
                reload()
                continue
            }
            received.withLock { $0 = signal == .sigint ? "SIGINT" : "SIGTERM" }
            return
        }
    }
}

/// Waits for the group's graceful shutdown, then runs `stop` on a thread of its own (it blocks:
/// a drain waits up to its timeout, a stop joins threads and waits for processes).
struct StopOnShutdown: ServiceLifecycle.Service {
    let stop: @Sendable () -> Void

    func run() async throws {
        try? await gracefulShutdown()
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            Thread {
                stop()
                done.resume()
            }.start()
        }
    }
}
