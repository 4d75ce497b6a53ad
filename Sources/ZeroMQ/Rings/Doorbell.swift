public import Synchronization
import CZeroMQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How a thread that found its rings empty (or full) sleeps until another thread has news,
/// without a syscall per message while both are busy.
///
/// The sleeper *arms* the bell, looks at its rings once more, and only then blocks on the
/// bell's eventfd; a thread that has just published (or freed space) rings the bell only if
/// it is armed. Both sides use sequentially consistent operations for "publish, then look at
/// the flag" and "arm, then look at the rings" (the Dekker pattern), so at least one of them
/// sees the other: either the sleeper sees the new item and does not block, or the publisher
/// sees the armed flag and wakes it. A busy pipeline therefore pays one atomic load per
/// message for the bell and makes no syscall; a wake-up costs one `write` and one `read` on
/// the eventfd. This is the Disruptor's "signal only when a waiter announced itself" wait
/// strategy (its `LiteBlockingWaitStrategy`), with an eventfd instead of a condition
/// variable so that ``fileDescriptor`` can sit in a `zmq_poll` next to sockets.
///
/// Several threads may ring one bell (every producer feeding one consumer); one thread sleeps
/// on it.
public final class Doorbell: @unchecked Sendable {
    // @unchecked Sendable: `fd` is written once in init; the flag is an atomic in its own
    // 128-byte block (so ringing does not share a cache line with anything a ring writes).
    @usableFromInline let armedFlag: UnsafeMutablePointer<Atomic<Bool>>
    /// The eventfd: readable after a ring, until the sleeper has read it.
    public let fileDescriptor: CInt

    public init() {
        armedFlag = UnsafeMutableRawPointer.allocate(byteCount: 128, alignment: 128)
            .bindMemory(to: Atomic<Bool>.self, capacity: 1)
        armedFlag.initialize(to: Atomic(false))
        #if os(Linux)
        fileDescriptor = eventfd(0, CInt(EFD_NONBLOCK | EFD_CLOEXEC))
        #else
        fileDescriptor = -1
        #endif
        precondition(fileDescriptor >= 0, "eventfd failed: \(String(cString: strerror(errno)))")
    }

    deinit {
        close(fileDescriptor)
        armedFlag.deinitialize(count: 1)
        UnsafeMutableRawPointer(armedFlag).deallocate()
    }

    /// The sleeper, before its last look: from here on a publisher rings.
    @inlinable public func arm() { armedFlag.pointee.store(true, ordering: .sequentiallyConsistent) }

    /// The sleeper, after it found news without sleeping (or woke up).
    @inlinable public func disarm() { armedFlag.pointee.store(false, ordering: .relaxed) }

    /// Whether the sleeper armed the bell and nobody has rung it since (a test waits on this to
    /// know a thread is going to sleep).
    public var isArmed: Bool { armedFlag.pointee.load(ordering: .acquiring) }

    /// A publisher, after its sequentially consistent publication: wakes the sleeper if it
    /// armed the bell (only the first of several publishers makes the syscall).
    @inlinable public func ringIfArmed() {
        if armedFlag.pointee.load(ordering: .sequentiallyConsistent) { ringArmed() }
    }

    @usableFromInline func ringArmed() {
        guard armedFlag.pointee.exchange(false, ordering: .sequentiallyConsistent) else { return }
        ring()
    }

    /// Wakes the sleeper whether or not it armed the bell (shutdown).
    public func ring() {
        var one: UInt64 = 1
        // EAGAIN only when the counter is near 2^64: the sleeper is being woken anyway.
        _ = withUnsafeBytes(of: &one) { write(fileDescriptor, $0.baseAddress, 8) }
    }

    /// Blocks until the bell rings or `timeout` passes (nil: forever), then clears it. The
    /// caller armed the bell and looked once more first; it looks again after this returns
    /// (a wake-up says "look", never what changed). Returns false on a timeout.
    @discardableResult
    public func wait(timeout: Duration?) -> Bool {
        var item = pollfd(fd: fileDescriptor, events: Int16(POLLIN), revents: 0)
        let ms: CInt = timeout.map { CInt(clamping: Socket.milliseconds($0)) } ?? -1
        // EINTR: a signal; the caller looks again, as after any wake-up.
        let ready = poll(&item, 1, ms)
        clear()
        return ready > 0
    }

    /// The whole sleeper's side: calls `attempt` until it returns a result, yielding the CPU
    /// `yields` times first, then arming the bell, giving `ready` (news since the last attempt?)
    /// the last look, and sleeping on the bell; `timedOut` once `timeout` has passed (nil: never).
    func sleep<Result>(yields: Int, timeout: Duration?, timedOut: Result,
                       attempt: () -> Result?, ready: () -> Bool) -> Result {
        let deadline = timeout.map { ContinuousClock.now + $0 }
        var yielded = 0
        while true {
            if let result = attempt() { return result }
            if yielded < yields {
                yielded += 1
                sched_yield()
                continue
            }
            arm()
            // The last look, after arming: news from before it rang no bell, so this sees it.
            if ready() {
                disarm()
                continue
            }
            let left = deadline.map { $0 - ContinuousClock.now }
            if let left, left <= .zero {
                disarm()
                return timedOut
            }
            wait(timeout: left)
            disarm()
            yielded = 0
        }
    }

    /// Reads the eventfd's counter back to zero (after a `zmq_poll` that found it readable).
    public func clear() {
        var count: UInt64 = 0
        _ = withUnsafeMutableBytes(of: &count) { read(fileDescriptor, $0.baseAddress, 8) }
    }
}
