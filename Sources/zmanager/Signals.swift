#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Waits for SIGINT or SIGTERM.
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
        return set
    }

    /// Blocks SIGINT and SIGTERM in the calling thread and, by inheritance, in every thread
    /// it starts afterwards. Call it first thing, before any thread exists.
    static func blockTermination() {
        var set = termination
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    /// Blocks until SIGINT or SIGTERM arrives (or returns one that is already pending);
    /// returns its name.
    static func waitForTermination() -> String {
        blockTermination()
        var set = termination
        var number: Int32 = 0
        while sigwait(&set, &number) != 0 {}
        return number == SIGINT ? "SIGINT" : "SIGTERM"
    }
}
