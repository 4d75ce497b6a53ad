import Dispatch
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A dedicated OS thread for a socket loop.
///
/// Socket loops block in `zmq_msg_recv`/`zmq_poll`; doing that inside a Swift concurrency
/// task would park one of the cooperative pool's few threads (two on a 2-core machine)
/// and starve every other task. So every loop in this project runs here instead.
///
/// The body is a `sending` closure: sockets (not `Sendable`) created on the calling thread
/// can be moved into it, after which only the new thread uses them.
public final class SocketThread: @unchecked Sendable {
    // @unchecked Sendable: `thread` is written once before `start` returns and read only
    // by `join`; `finished` is a DispatchSemaphore (thread-safe).
    private var thread: pthread_t?
    private let finished = DispatchSemaphore(value: 0)
    private var joined = false
    public let name: String
    /// Cleared when the body returns: a role's loop ends only when its context shuts down
    /// or it failed, so a health check reads a role as up while this is set.
    private let running = Atomic<Bool>(true)

    /// Whether the body is still running.
    public var isRunning: Bool { running.load(ordering: .acquiring) }

    private final class Start {
        let name: String
        let body: () -> Void
        let finished: DispatchSemaphore
        let handle: SocketThread
        init(name: String, body: @escaping () -> Void, finished: DispatchSemaphore, handle: SocketThread) {
            self.name = name
            self.body = body
            self.finished = finished
            self.handle = handle
        }
    }

    private init(name: String) { self.name = name }

    /// Starts `body` on a new thread; `name` identifies it in diagnostics.
    public static func start(name: String, _ body: sending @escaping () -> Void) -> SocketThread {
        let handle = SocketThread(name: name)
        let start = Start(name: name, body: body, finished: handle.finished, handle: handle)
        let argument = Unmanaged.passRetained(start).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { argument in
            let start = Unmanaged<Start>.fromOpaque(argument!).takeRetainedValue()
            SocketThread.nameCurrentThread(start.name)
            start.body()
            start.handle.running.store(false, ordering: .releasing)
            start.finished.signal()
            return nil
        }, argument)
        precondition(rc == 0, "pthread_create failed: \(String(cString: strerror(rc)))")
        handle.thread = thread
        return handle
    }

    /// Gives the calling OS thread `name` (cut to the kernel's 15 bytes), so that
    /// `/proc/<pid>/task/<tid>/comm`, `top -H` and gdb show which role a thread is: the
    /// harness attributes CPU to pipeline stages by these names.
    public static func nameCurrentThread(_ name: String) {
        #if os(Linux)
        // /proc/thread-self/comm is what pthread_setname_np writes (which Glibc's Swift
        // module does not export); a name that cannot be set is only a diagnostic loss.
        let fd = open("/proc/thread-self/comm", O_WRONLY)
        guard fd >= 0 else { return }
        let bytes = Array(name.utf8.prefix(15))
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        #endif
    }

    /// Waits for the thread to end. Returns `false` if it is still running after `timeout`
    /// (then the thread is left alone and `join` may be called again).
    @discardableResult
    public func join(timeout: Duration? = nil) -> Bool {
        if joined { return true }
        if let timeout {
            let ns = Int(timeout.components.seconds) * 1_000_000_000 + Int(timeout.components.attoseconds / 1_000_000_000)
            if finished.wait(timeout: .now() + .nanoseconds(ns)) == .timedOut { return false }
        } else {
            finished.wait()
        }
        if let thread { pthread_join(thread, nil) }
        joined = true
        return true
    }
}
