// Public: the inlinable hot-path accessors below call libzmq directly from client modules.
public import CZeroMQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One ZeroMQ message frame, owning a heap-allocated `zmq_msg_t`.
///
/// `zmq_msg_t` must never be copied by value (libzmq's rule), so a `Message` is
/// `~Copyable` and keeps the struct at a fixed heap address for its whole life. The
/// intended use in socket loops is to make a few `Message`s once and reuse them:
/// ``Socket/receive(into:dontWait:)`` closes the old content and receives into the same
/// storage, and ``Socket/send(_:more:dontWait:)`` leaves the message empty and reusable,
/// so a loop allocates nothing per message on the Swift side.
///
/// Forwarding a received message to another socket moves it without copying its body;
/// ``share(from:)`` makes a second reference to the same body (libzmq reference counting).
public struct Message: ~Copyable {
    // Inlinable accessors below read this directly: a cross-module call to a generic
    // `withUnsafeBytes` was an unspecialised call per use (measured under callgrind: about
    // 225 instructions per message in the Subject), where inlined it is two C calls.
    @usableFromInline let msg: UnsafeMutablePointer<zmq_msg_t>
    /// Whether another frame follows, for a frame read from an in-process ring (0 or 1); -1
    /// for everything else, whose flag libzmq keeps in the `zmq_msg_t` (set by a receive, and
    /// with no API to set it otherwise).
    @usableFromInline var ringMore: Int8 = -1

    /// An empty message, ready to receive into.
    public init() {
        msg = .allocate(capacity: 1)
        zmq_msg_init(msg)
    }

    /// A message with `size` bytes of uninitialised body, allocated by libzmq (bodies of
    /// up to 33 bytes live inside the `zmq_msg_t` itself and allocate nothing).
    public init(size: Int) {
        msg = .allocate(capacity: 1)
        if zmq_msg_init_size(msg, size) != 0 {
            // Only ENOMEM is possible; there is nothing sensible to continue with.
            fatalError("zmq_msg_init_size(\(size)) failed: out of memory")
        }
    }

    /// A message whose body is a copy of `bytes`.
    public init(copying bytes: UnsafeRawBufferPointer) {
        self.init(size: bytes.count)
        if let base = bytes.baseAddress, bytes.count > 0 {
            zmq_msg_data(msg).copyMemory(from: base, byteCount: bytes.count)
        }
    }

    /// A message whose body is a copy of `bytes`.
    public init(copying bytes: some Sequence<UInt8>) {
        let array = Array(bytes)
        self.init(size: array.count)
        let data = zmq_msg_data(msg)
        array.withUnsafeBytes { source in
            if let base = source.baseAddress, source.count > 0 { data?.copyMemory(from: base, byteCount: source.count) }
        }
    }

    /// A message whose body is the UTF-8 of `string`.
    public init(string: String) {
        self.init(copying: string.utf8)
    }

    /// Wraps caller-owned memory without copying (`zmq_msg_init_data`); libzmq calls
    /// `free(data, hint)` on one of its threads when it no longer needs the bytes.
    /// `free` must capture nothing: state travels through `hint`.
    init(
        wrapping data: UnsafeMutableRawPointer, count: Int,
        free: @convention(c) (UnsafeMutableRawPointer?, UnsafeMutableRawPointer?) -> Void,
        hint: UnsafeMutableRawPointer?
    ) {
        msg = .allocate(capacity: 1)
        if zmq_msg_init_data(msg, data, count, free, hint) != 0 {
            fatalError("zmq_msg_init_data(\(count)) failed: out of memory")
        }
    }

    deinit {
        zmq_msg_close(msg)
        msg.deallocate()
    }

    /// The body's length in bytes.
    @inlinable
    public var count: Int { zmq_msg_size(msg) }

    /// Whether another frame of the same multipart message follows (valid after receive).
    @inlinable
    public var more: Bool { ringMore < 0 ? zmq_msg_more(msg) != 0 : ringMore != 0 }

    /// Reads the body in place, without copying.
    @inlinable
    public func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(UnsafeRawBufferPointer(start: zmq_msg_data(msg), count: zmq_msg_size(msg)))
    }

    /// Writes the body in place. Only for messages this code created and has not sent, or
    /// received and not shared: libzmq may share a received body between copies.

    @inlinable
    public mutating func withUnsafeMutableBytes<R, E: Error>(_ body: (UnsafeMutableRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(UnsafeMutableRawBufferPointer(start: zmq_msg_data(msg), count: zmq_msg_size(msg)))
    }

    /// A metadata property of a received frame (`zmq_msg_gets`), such as `Peer-Address`,
    /// the sending peer's IP on tcp; nil when libzmq has none (ipc and inproc have no address).
    public func property(_ name: String) -> String? {
        guard let value = zmq_msg_gets(msg, name) else { return nil }
        return String(cString: value)
    }

    /// A copy of the body as an array (allocates; for tests and slow paths).
    public var bytes: [UInt8] { withUnsafeBytes { Array($0) } }

    /// The body decoded as UTF-8 (allocates; for tests and slow paths).
    public var string: String { withUnsafeBytes { String(decoding: $0, as: UTF8.self) } }

    /// Releases the body and makes the message empty again.
    @inlinable
    public mutating func reset() {
        zmq_msg_close(msg)
        zmq_msg_init(msg)
        ringMore = -1
    }

    /// Releases the body and gives the message `size` uninitialised bytes.
    @inlinable
    public mutating func reset(size: Int) {
        zmq_msg_close(msg)
        ringMore = -1
        if zmq_msg_init_size(msg, size) != 0 {
            fatalError("zmq_msg_init_size(\(size)) failed: out of memory")
        }
    }

    /// Releases the body and wraps caller-owned memory instead (see ``init(wrapping:count:free:hint:)``),
    /// reusing this message's `zmq_msg_t` storage.
    mutating func reset(
        wrapping data: UnsafeMutableRawPointer, count: Int,
        free: @convention(c) (UnsafeMutableRawPointer?, UnsafeMutableRawPointer?) -> Void,
        hint: UnsafeMutableRawPointer?
    ) {
        zmq_msg_close(msg)
        ringMore = -1
        if zmq_msg_init_data(msg, data, count, free, hint) != 0 {
            fatalError("zmq_msg_init_data(\(count)) failed: out of memory")
        }
    }

    /// Moves `other`'s content into this message (no body copy); `other` becomes empty.
    @inlinable
    public mutating func move(from other: inout Message) {
        zmq_msg_move(msg, other.msg)
        ringMore = other.ringMore
        other.ringMore = -1
    }

    /// Makes this message a second reference to `other`'s body (no body copy; libzmq
    /// reference-counts the body). Neither may be written afterwards.
    @inlinable
    public mutating func share(from other: borrowing Message) {
        zmq_msg_copy(msg, other.msg)
        ringMore = other.ringMore
    }
}

extension Message {
    /// Compares the body with `bytes` without copying.
    public func bodyEquals(_ bytes: some Collection<UInt8>) -> Bool {
        withUnsafeBytes { $0.elementsEqual(bytes) }
    }
}
