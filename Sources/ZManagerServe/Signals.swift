#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Waits for SIGINT or SIGTERM (stop), or SIGHUP (reload the flows and mappings).
///
/// The roles are plain threads (see docs/ARCHITECTURE.md), so the main thread waiting in
/// `sigwait` is all the shutdown plumbing `serve` and `worker` need; swift-service-lifecycle
/// would add an async runtime around threads that never await.
///
/// The signals are *blocked* before any role thread starts (``blockTermination()``), so one
/// that arrives at any moment after that — even right after the `ready` line, before the main
/// thread reaches ``waitForTermination()`` — stays pending until it is collected. A dispatch
/// signal source, registered asynchronously after `ready` was printed, lost such a signal:
/// the process ignored it and never stopped.
enum Signals {
    private static var termination: sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        sigaddset(&set, SIGHUP)
        return set
    }

    /// A signal ``wait()`` collected.
    enum Received: Equatable {
        case interrupt, terminate, hangup

        var name: String {
            switch self {
            case .interrupt: "SIGINT"
            case .terminate: "SIGTERM"
            case .hangup: "SIGHUP"
            }
        }
    }

    /// Blocks SIGINT, SIGTERM and SIGHUP in the calling thread and, by inheritance, in every thread
    /// it starts afterwards. Call it first thing, before any thread exists.
    static func blockTermination() {
        var set = termination
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    /// Blocks until SIGINT, SIGTERM or SIGHUP arrives (or returns one that is already pending).
    static func wait() -> Received {
        blockTermination()
        var set = termination
        var number: Int32 = 0
        while sigwait(&set, &number) != 0 {}
        switch number {
        case SIGINT: return .interrupt
        case SIGHUP: return .hangup
        default: return .terminate
        }
    }
}
