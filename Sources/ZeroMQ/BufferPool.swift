import CZeroMQ
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Pooled buffers for zero-copy message bodies.
///
/// A payload is written straight into a pooled buffer, which is handed to libzmq with
/// `zmq_msg_init_data`. When libzmq is done with it — on the receiving thread for inproc,
/// on its I/O thread for tcp and ipc — it calls a C free function that pushes the buffer
/// back onto its size class's free list. That list is a lock-free Treiber stack whose
/// head carries a generation tag (ABA-safe), so the I/O thread never takes a lock.
///
/// The pool is bounded: each size class has a fixed number of buffers, carved from one
/// slab allocated up front. When a class is empty the next larger class lends a buffer;
/// when all are empty, or a body is larger than the largest class, the body is allocated
/// with `malloc` instead and counted as a fallback.
///
/// Whether zero-copy pays depends on size (measured in docs/PERFORMANCE.md): `zmq_msg_init_data` costs libzmq an
/// extra allocation for its reference count, so small bodies are faster copied, and bodies
/// of up to 33 bytes are stored inside the `zmq_msg_t` itself. ``message(count:fill:)``
/// chooses by ``zeroCopyThreshold``, whose default (4 KiB) was measured with the
/// `Benchmarks` package: copying wins at 64 B, 256 B–1 KiB tie, zero-copy wins or ties from
/// 4 KiB up under glibc and jemalloc (see `docs/PERFORMANCE.md`).
public final class BufferPool: Sendable {
    /// One size class: `count` buffers of `size` bytes each.
    public struct SizeClass: Sendable, Hashable {
        public var size: Int
        public var count: Int
        public init(size: Int, count: Int) {
            self.size = size
            self.count = count
        }
    }

    /// Counters, read atomically one by one (a snapshot under concurrent use is approximate).
    public struct Statistics: Sendable, Equatable, CustomStringConvertible {
        /// Buffers currently owned by messages (pooled and fallback).
        public var inUse: Int
        /// Acquisitions served from the pool.
        public var hits: Int
        /// Acquisitions served by `malloc` (pool class empty, or body too large).
        public var fallbacks: Int
        /// Buffers given back (pooled and fallback).
        public var releases: Int
        /// Total pooled buffers.
        public var capacity: Int

        public var description: String {
            "in use \(inUse), hits \(hits), fallbacks \(fallbacks), releases \(releases), capacity \(capacity)"
        }
    }

    /// Bodies this size or smaller live inside `zmq_msg_t` (libzmq's "very small message").
    public static let inlineLimit = 33

    /// The defaults: 4 KiB to 1 MiB, about 38 MiB of address space in all (pages are only
    /// touched when used).
    public static let defaultSizeClasses: [SizeClass] = [
        SizeClass(size: 4 << 10, count: 512),
        SizeClass(size: 16 << 10, count: 256),
        SizeClass(size: 64 << 10, count: 256),
        SizeClass(size: 256 << 10, count: 32),
        SizeClass(size: 1 << 20, count: 8),
    ]

    /// Bodies at least this large go through the pool by ``message(count:fill:)``; smaller
    /// ones are copied into a libzmq-allocated message, which measured faster.
    public let zeroCopyThreshold: Int

    /// The process-wide pool the ZManager roles use.
    public static let shared = BufferPool()

    let slabs: [Slab]
    let fallback: Slab

    public init(sizeClasses: [SizeClass] = BufferPool.defaultSizeClasses, zeroCopyThreshold: Int = 4 << 10) {
        precondition(sizeClasses.allSatisfy { $0.size > 0 && $0.count >= 0 && $0.count < Int(UInt32.max) })
        self.slabs = sizeClasses.sorted { $0.size < $1.size }.map { Slab(bufferSize: $0.size, capacity: $0.count) }
        self.fallback = Slab(bufferSize: 0, capacity: 0)
        self.zeroCopyThreshold = max(zeroCopyThreshold, Self.inlineLimit + 1)
    }

    public var statistics: Statistics {
        var stats = Statistics(inUse: 0, hits: 0, fallbacks: 0, releases: 0, capacity: 0)
        for slab in slabs + [fallback] {
            stats.inUse += slab.inUse.load(ordering: .relaxed)
            stats.hits += slab.hits.load(ordering: .relaxed)
            stats.fallbacks += slab.fallbacks.load(ordering: .relaxed)
            stats.releases += slab.releases.load(ordering: .relaxed)
            stats.capacity += slab.capacity
        }
        return stats
    }

    /// A message of `count` bytes filled by `fill`, zero-copy through the pool when
    /// `count >= zeroCopyThreshold`, otherwise copied into a libzmq-allocated body.

    public func message(count: Int, fill: (UnsafeMutableRawBufferPointer) -> Void) -> Message {
        if count < zeroCopyThreshold {
            var message = Message(size: count)
            message.withUnsafeMutableBytes { fill($0) }
            return message
        }
        return pooledMessage(count: count, fill: fill)
    }

    /// Like ``message(count:fill:)``, but reuses `message`'s storage: a loop that sends from
    /// one long-lived ``Message`` allocates nothing on the Swift side.
    public func fill(_ message: inout Message, count: Int, _ fill: (UnsafeMutableRawBufferPointer) -> Void) {
        if count < zeroCopyThreshold {
            message.reset(size: count)
            // The size is known: `zmq_msg_size` would be one more libzmq call per message.
            fill(UnsafeMutableRawBufferPointer(start: zmq_msg_data(message.msg), count: count))
            return
        }
        let (data, owner) = acquire(count: count)
        fill(UnsafeMutableRawBufferPointer(start: data, count: count))
        message.reset(wrapping: data, count: count, free: returnToPool, hint: Unmanaged.passRetained(owner).toOpaque())
    }

    /// A buffer of at least `count` bytes and the slab it returns to.
    private func acquire(count: Int) -> (UnsafeMutableRawPointer, Slab) {
        for slab in slabs where slab.bufferSize >= count {
            if let buffer = slab.acquire() { return (buffer, slab) }
        }
        return (fallback.allocateFallback(count: count), fallback)
    }

    /// A message of `count` bytes filled by `fill`, always zero-copy through the pool
    /// (or a counted `malloc` fallback). The buffer returns to the pool exactly once, when
    /// libzmq releases the last reference to the body.
    public func pooledMessage(count: Int, fill: (UnsafeMutableRawBufferPointer) -> Void) -> Message {
        let (data, owner) = acquire(count: count)
        fill(UnsafeMutableRawBufferPointer(start: data, count: count))
        // The retained slab travels through libzmq as the hint; the free function
        // releases it, so a pool can never be destroyed under an in-flight body.
        let hint = Unmanaged.passRetained(owner).toOpaque()
        return Message(wrapping: data, count: count, free: returnToPool, hint: hint)
    }
}

/// libzmq's free callback for pooled bodies. Captures nothing (C function pointer);
/// the owning slab arrives through `hint`. Runs on whichever thread dropped the last
/// reference to the body — often libzmq's I/O thread — and takes no lock.
private let returnToPool: @convention(c) (UnsafeMutableRawPointer?, UnsafeMutableRawPointer?) -> Void = { data, hint in
    guard let data, let hint else { return }
    Unmanaged<Slab>.fromOpaque(hint).takeRetainedValue().release(data)
}

/// One size class: a slab of equal buffers and a lock-free free list over their indices.
/// The slab with capacity 0 is the `malloc` fallback.
final class Slab: Sendable {
    let bufferSize: Int
    let capacity: Int
    // Sendable: the pointers are immutable after init; the memory they point to is either
    // atomics or buffers owned exclusively by whoever acquired them.
    nonisolated(unsafe) let base: UnsafeMutableRawPointer?
    /// `next[i]` is the free-list successor of buffer i, as index + 1 (0 = end).
    nonisolated(unsafe) let next: UnsafeMutablePointer<Atomic<UInt32>>
    /// `owned[i]` is 1 while buffer i is out of the pool: catches a double return.
    nonisolated(unsafe) let owned: UnsafeMutablePointer<Atomic<UInt8>>
    /// Free-list head: generation tag in the high 32 bits, index + 1 in the low 32.
    let head = Atomic<UInt64>(0)

    let inUse = Atomic<Int>(0)
    let hits = Atomic<Int>(0)
    let fallbacks = Atomic<Int>(0)
    let releases = Atomic<Int>(0)

    init(bufferSize: Int, capacity: Int) {
        self.bufferSize = bufferSize
        self.capacity = capacity
        next = .allocate(capacity: max(capacity, 1))
        owned = .allocate(capacity: max(capacity, 1))
        if capacity > 0 {
            var memory: UnsafeMutableRawPointer?
            let alignment = bufferSize >= 4096 ? 4096 : 64
            let rc = posix_memalign(&memory, alignment, bufferSize * capacity)
            precondition(rc == 0 && memory != nil, "BufferPool: cannot reserve \(bufferSize * capacity) bytes")
            base = memory
        } else {
            base = nil
        }
        // Chain every buffer: 0 → 1 → … → capacity-1.
        for i in 0..<capacity {
            (next + i).initialize(to: Atomic(i + 1 < capacity ? UInt32(i + 2) : 0))
            (owned + i).initialize(to: Atomic(0))
        }
        if capacity > 0 { head.store(1, ordering: .releasing) }
    }

    deinit {
        next.deinitialize(count: capacity)
        owned.deinitialize(count: capacity)
        next.deallocate()
        owned.deallocate()
        free(base)
    }

    /// Pops a free buffer, or `nil` when the class is exhausted.
    func acquire() -> UnsafeMutableRawPointer? {
        var current = head.load(ordering: .acquiring)
        while true {
            let index = Int(UInt32(truncatingIfNeeded: current))
            if index == 0 { return nil }
            let successor = next[index - 1].load(ordering: .relaxed)
            let desired = (((current >> 32) &+ 1) << 32) | UInt64(successor)
            let (exchanged, original) = head.weakCompareExchange(
                expected: current, desired: desired,
                successOrdering: .acquiringAndReleasing, failureOrdering: .acquiring)
            if exchanged {
                let wasOwned = owned[index - 1].exchange(1, ordering: .relaxed)
                precondition(wasOwned == 0, "BufferPool: buffer \(index - 1) handed out twice")
                hits.wrappingAdd(1, ordering: .relaxed)
                inUse.wrappingAdd(1, ordering: .relaxed)
                return base! + (index - 1) * bufferSize
            }
            current = original
        }
    }

    /// Returns a buffer: pushes a pooled one onto the free list, frees a fallback one.
    func release(_ buffer: UnsafeMutableRawPointer) {
        releases.wrappingAdd(1, ordering: .relaxed)
        inUse.wrappingSubtract(1, ordering: .relaxed)
        guard let base else {
            free(buffer)
            return
        }
        let index = (buffer - base) / bufferSize
        precondition(index >= 0 && index < capacity, "BufferPool: foreign buffer returned")
        let wasOwned = owned[index].exchange(0, ordering: .relaxed)
        precondition(wasOwned == 1, "BufferPool: buffer \(index) returned twice")
        var current = head.load(ordering: .relaxed)
        while true {
            next[index].store(UInt32(truncatingIfNeeded: current), ordering: .relaxed)
            let desired = (((current >> 32) &+ 1) << 32) | UInt64(index + 1)
            let (exchanged, original) = head.weakCompareExchange(
                expected: current, desired: desired,
                successOrdering: .releasing, failureOrdering: .relaxed)
            if exchanged { return }
            current = original
        }
    }

    /// The fallback path: a plain allocation, counted on the fallback slab.
    func allocateFallback(count: Int) -> UnsafeMutableRawPointer {
        fallbacks.wrappingAdd(1, ordering: .relaxed)
        inUse.wrappingAdd(1, ordering: .relaxed)
        guard let memory = malloc(max(count, 1)) else { fatalError("BufferPool: malloc(\(count)) failed") }
        return memory
    }
}
