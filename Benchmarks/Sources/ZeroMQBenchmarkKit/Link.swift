import Dispatch
import ZeroMQ

/// Where a message travels: libzmq's in-process pipe, or loopback TCP through libzmq's
/// I/O thread (127.0.0.1, ephemeral port).
public enum Transport: String, CaseIterable, Sendable {
    case inproc, tcp
}

/// How an outgoing body is made.
public enum BodyPath: String, CaseIterable, Sendable {
    /// `BufferPool.pooledMessage` (a new `Message`) or `BufferPool.fill` (a reused one): the
    /// payload is written into a pooled buffer that libzmq takes over with
    /// `zmq_msg_init_data` and hands back through the pool's free function.
    case zeroCopy = "zero-copy"
    /// `Message(size:)` (a new `Message`), or `reset(size:)` of a reused one: libzmq allocates
    /// the body (`zmq_msg_init_size`), the payload is written into it.
    case copy
}

/// A connected PUSH → PULL pair driven from one thread, plus what a send needs: the pool,
/// a source payload and a receive message that is reused (so receiving allocates nothing on
/// the Swift side).
///
/// PULL binds, PUSH connects; one message is passed through before measuring so the tcp
/// connection is up.
final class Link {
    let context: Context
    let push: Socket
    let pull: Socket
    let pool: BufferPool
    let size: Int
    /// The bytes every message carries; both body paths copy them into the body.
    let payload: UnsafeMutableRawBufferPointer
    var received = Message()
    /// Reused outgoing message for the paths that re-initialise one message in place.
    var outgoing = Message()

    init(transport: Transport, size: Int, pool: BufferPool, highWaterMark: Int = 10_000) throws {
        self.size = size
        self.pool = pool
        payload = .allocate(byteCount: max(size, 1), alignment: 64)
        for index in payload.indices { payload[index] = UInt8(truncatingIfNeeded: index &* 31 &+ 7) }
        context = try Context()
        pull = try Socket(context, .pull)
        push = try Socket(context, .push)
        try pull.setReceiveHighWaterMark(highWaterMark)
        try push.setSendHighWaterMark(highWaterMark)
        switch transport {
        case .inproc:
            let name = "inproc://zmq-bench-\(UInt64.random(in: 0...UInt64.max))"
            try pull.bind(name)
            try push.connect(name)
        case .tcp:
            try pull.bind("tcp://127.0.0.1:*")
            try push.connect(try pull.lastEndpoint)
        }
        try pull.setReceiveTimeout(.seconds(10))
        try push.setSendTimeout(.seconds(10))
        // One round first: the tcp handshake completes, and both pipes exist.
        var hello = Message(size: 1)
        guard try push.send(&hello) == .sent, try pull.receive(into: &received) == .received else {
            throw BenchmarkFailure("the \(transport) link did not pass its first message")
        }
    }

    /// Closes the sockets and terminates the context (its I/O thread ends).
    func close() {
        received.reset()
        outgoing.reset()
        push.close()
        pull.close()
        context.terminate()
    }

    deinit { payload.deallocate() }

    /// A new outgoing message holding the payload, made the way `path` says.
    @inline(__always)
    func makeMessage(_ path: BodyPath) -> Message {
        let source = UnsafeRawBufferPointer(payload)
        let count = size
        switch path {
        case .zeroCopy:
            return pool.pooledMessage(count: count) { body in
                body.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[0..<count]))
            }
        case .copy:
            var message = Message(size: count)
            message.withUnsafeMutableBytes { body in
                body.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[0..<count]))
            }
            return message
        }
    }

    /// Re-initialises a long-lived `message` with the payload, made the way `path` says,
    /// without making a new `Message` (no Swift allocation):
    /// - zero-copy: `pool.fill(&message, count:)`, which wraps a pooled buffer in the same
    ///   `zmq_msg_t` (`zmq_msg_init_data`) when `count >= pool.zeroCopyThreshold` (the
    ///   benchmarks that want it pooled at every size use ``alwaysPooled``);
    /// - copy: `message.reset(size:)` (`zmq_msg_close` + `zmq_msg_init_size`) + write.
    ///
    /// The message is the caller's local variable rather than ``outgoing``: an `inout` access
    /// to a class's stored property is checked for exclusivity at run time
    /// (`swift_beginAccess`/`swift_endAccess`). Refilling and sending ``outgoing`` measured
    /// 165–171 ns per message at inproc 64 B, a local 131–146 ns, which would have hidden
    /// what reuse saves against the new-`Message` rows (156–165 ns).
    @inline(__always)
    func refill(_ path: BodyPath, into message: inout Message) {
        let source = UnsafeRawBufferPointer(payload)
        let count = size
        switch path {
        case .zeroCopy:
            pool.fill(&message, count: count) { body in
                body.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[0..<count]))
            }
        case .copy:
            message.reset(size: count)
            message.withUnsafeMutableBytes { body in
                body.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[0..<count]))
            }
        }
    }

    /// Re-initialises the reused outgoing message with a libzmq-allocated body holding the
    /// payload (`zmq_msg_close` + `zmq_msg_init_size`): no new `Message`, no Swift allocation.
    @inline(__always)
    func refillOutgoing() {
        let source = UnsafeRawBufferPointer(payload)
        let count = size
        outgoing.reset(size: count)
        outgoing.withUnsafeMutableBytes { body in
            body.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[0..<count]))
        }
    }

    /// Receives `count` messages into the reused receive message.
    @inline(__always)
    func receive(_ count: Int) throws {
        for _ in 0..<count {
            guard try pull.receive(into: &received) == .received else {
                throw BenchmarkFailure("receive timed out")
            }
            precondition(received.count == size, "received \(received.count) bytes, sent \(size)")
        }
    }

    @inline(__always)
    func send(_ message: inout Message) throws {
        guard try push.send(&message) == .sent else { throw BenchmarkFailure("send timed out") }
    }
}

public struct BenchmarkFailure: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// The benchmark's setup state, shared by its setup, body and teardown closures.
/// `@unchecked Sendable`: the benchmark runner calls setup, the body and teardown one after
/// another, never concurrently, so the link is only ever used by one thread at a time
/// (libzmq sockets may migrate between threads with a full barrier in between).
final class LinkHolder: @unchecked Sendable {
    var link: Link?
    var sender: Sender?

    func open(transport: Transport, size: Int, pool: BufferPool, threads: Threads = .one, path: BodyPath = .copy) throws {
        switch threads {
        case .one:
            link = try Link(transport: transport, size: size, pool: pool)
        case .two:
            // In flight at most about both high-water marks: 2 × 100 stays below the pool's
            // 256 buffers per class, so the zero-copy path never falls back to malloc.
            let link = try Link(transport: transport, size: size, pool: pool, highWaterMark: 100)
            self.link = link
            sender = Sender(link: link, path: path)
        }
    }

    func close() {
        sender?.stop()
        sender = nil
        link?.close()
        link = nil
    }
}

/// Who sends: the benchmark's own thread between its receives, or a second thread.
public enum Threads: String, CaseIterable, Sendable {
    /// Send a batch through PUSH, then receive it from PULL, on one thread.
    case one = "1thread"
    /// A sender thread sends while the benchmark's thread receives: bodies are allocated on
    /// one thread and freed on another, as in a pipeline (this is where glibc malloc and
    /// jemalloc differ most).
    case two = "2threads"
}

/// The sending half of a two-thread link: a dedicated thread that sends `count` messages
/// each time it is told to, and reports when it is done.
/// `@unchecked Sendable`: the link's PUSH socket, pool and payload are used only by the
/// sender thread; the benchmark's thread uses only the PULL side. `count` is written before
/// `go.signal()` and read after `go.wait()`, which orders the accesses.
final class Sender: @unchecked Sendable {
    let link: Link
    let path: BodyPath
    let go = DispatchSemaphore(value: 0)
    let done = DispatchSemaphore(value: 0)
    var count = 0
    var failure: (any Error)?
    var thread: SocketThread?

    init(link: Link, path: BodyPath) {
        self.link = link
        self.path = path
        thread = SocketThread.start(name: "bench-sender") { [self] in run() }
    }

    private func run() {
        while true {
            go.wait()
            let count = count
            if count == 0 { return }
            do {
                for _ in 0..<count {
                    var message = link.makeMessage(path)
                    try link.send(&message)
                }
            } catch {
                failure = error
            }
            done.signal()
        }
    }

    /// Has the sender thread send `count` messages.
    func start(_ count: Int) {
        self.count = count
        go.signal()
    }

    /// Waits until the sender thread has sent everything it was asked to.
    func wait() throws {
        done.wait()
        if let failure { throw failure }
    }

    func stop() {
        count = 0
        go.signal()
        thread?.join()
    }
}
