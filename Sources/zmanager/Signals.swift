import Dispatch

#if canImport(Glibc)
import Glibc
#endif

/// Waits for SIGINT or SIGTERM.
///
/// The roles are plain threads (see docs/ARCHITECTURE.md), so a dispatch signal source
/// that wakes the main thread is all the shutdown plumbing `serve` and `worker` need;
/// swift-service-lifecycle would add an async runtime around threads that never await.
enum Signals {
    /// Blocks until SIGINT or SIGTERM arrives; returns its name.
    static func waitForTermination() -> String {
        let received = DispatchSemaphore(value: 0)
        let queue = DispatchQueue(label: "zmanager.signals")
        nonisolated(unsafe) var name = ""
        var sources: [any DispatchSourceSignal] = []
        for (number, label) in [(SIGINT, "SIGINT"), (SIGTERM, "SIGTERM")] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler {
                name = label
                received.signal()
            }
            source.resume()
            sources.append(source)
        }
        received.wait()
        let result = queue.sync { name }
        for source in sources { source.cancel() }
        return result
    }
}
